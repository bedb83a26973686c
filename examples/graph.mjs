// The resource graph and the events queue on a 3-node cluster in one process.
import { RaftNode, LevelStorage, StateMachineRouter } from 'quorate'
import { MemoryNetwork } from 'quorate/transport'
import { defineSchema, ref, GraphStateMachine, Graph, EventsQueue } from 'quorate/graph'
import { MemoryLevel } from 'memory-level'

// Declare the kinds, their fields, and the relations with a cardinality on each end.
const schema = defineSchema({
  kinds: {
    host: { fields: { address: 'string' } },
    service: { fields: { name: 'string', port: 'integer', healthy: 'boolean?' } }
  },
  relations: {
    // A host runs many services; a service runs on at most one host (reconnecting moves it).
    runs: { from: 'host', to: 'service', outgoing: 'many', incoming: 'one' }
  },
  roots: ['host']
})

// Three nodes on an in-memory network and databases. Each node's state machine is a router
// with the graph (and its events queue) mounted as 'graph', beside whatever else shares the log.
const network = new MemoryNetwork()
const voters = ['n1', 'n2', 'n3']
const routes = voters.map(() => {
  const router = new StateMachineRouter()
  return { router, graph: router.mount('graph', new GraphStateMachine(schema)) }
})
const nodes = voters.map((id, i) => new RaftNode({
  id, voters, transport: network.transport(id), stateMachine: routes[i].router, forwardProposals: true,
  storage: new LevelStorage({ db: new MemoryLevel() })
}))
for (const n of nodes) await n.open()
// The default 100 ms tick (elections after 1-2 s of silence) keeps a busy machine from
// electing again mid-example; n2 forwards to the leader once it knows one.
await nodes[1].waitForLeader()

// Clients on node n2: commands go through Raft, reads come from n2's replica.
const node = routes[1].graph.bind(nodes[1])
const client = {
  machine: routes[1].graph.machine,
  submit: (command, options) => node.propose(command, options),
  barrier: (options) => node.read(options)
}
const graph = new Graph(schema, client)
const events = new EventsQueue(client)

// Watch committed changes from the start (index 1).
const watching = new AbortController()
const watched = (async () => {
  const seen = []
  for await (const change of graph.watch(1, { signal: watching.signal })) seen.push(change.index)
  return seen
})()

// One transaction: two hosts, a service, an edge. It commits as one Raft entry.
const a = ref('host', 'a')
const b = ref('host', 'b')
const web = ref('service', 'web')
await graph.transaction()
  .put(a, { address: '10.0.0.1' })
  .put(b, { address: '10.0.0.2' })
  .put(web, { name: 'web', port: 8080 })
  .connect('runs', a, web)
  .commit()

// A linearizable read, then a query by relation and by field.
let view = await graph.read()
console.log('web runs on:', view.neighbours(web, 'runs', 'in').map((r) => r.id).join(','))
console.log('services on port 8080:', view.byField('service', 'port', 8080).length)

// A monitor reports a failure; a retry of the same UUID is answered 'duplicate'.
const failure = { id: '6f1c0c1e-4b7e-4a8e-9d43-1f6f6a0c2d11', payload: new TextEncoder().encode('host a down') }
console.log('emit:', await events.emit(failure))
console.log('retry:', await events.emit(failure))

// The coordinator handles it: move the service to host b, compare-and-set on web's version,
// and trim the event in the same entry, so it is never trimmed before the move is durable.
const [event] = await events.read()
await events.handle([event.id], graph.transaction()
  .connect('runs', b, web)
  .update(web, { healthy: true })
  .expect(web, view.version(web)))

view = await graph.read()
console.log('web now runs on:', view.neighbours(web, 'runs', 'in').map((r) => r.id).join(','))
console.log('events left:', (await events.read()).length)

watching.abort()
console.log('watched entries:', (await watched).join(','))
for (const n of nodes) await n.close()
await network.close()

// The recovery coordinator on a 3-node tracking station in one process, with a custom rule.
import { RaftNode, LevelStorage, StateMachineRouter } from 'quorate'
import { MemoryNetwork } from 'quorate/transport'
import { GraphStateMachine, Graph, EventsQueue, ref } from 'quorate/graph'
import { LeaseTable, LeaseManager, FencingGuard } from 'quorate/lease'
import { encodeHaEvent } from 'quorate/agent'
import { coordinatorSchema, Coordinator, Supervisor, BUILTIN_RULES, simulate } from 'quorate/coordinator'
import { MemoryLevel } from 'memory-level'

const schema = coordinatorSchema() // the coordinator's ha.* kinds (add your own kinds here)

// A custom rule: a deterministic function of (graph view, event) to (change, commands).
const drainOnBadDisk = {
  name: 'drain-on-bad-disk',
  on: ['resource-health'],
  decide: ({ view, event }) => {
    if (event.healthy) return undefined
    const instances = view.neighbours(event.node, 'ha.runs')
    return {
      change: (tx) => { for (const i of instances) tx.update(ref('ha.instance', i.id), { state: 'stopped' }) },
      commands: instances.map((i) => ({ node: event.node, command: { kind: 'stop', instance: i.id } })),
      note: `${event.resource} unhealthy on ${event.node}`
    }
  }
}

// Node agents, in memory: each fences by token and dedupes by command id, as real agents do.
const guards = new Map()
const executed = new Set()
const agents = {
  async send (node, command) {
    const guard = guards.get(node) ?? guards.set(node, new FencingGuard()).get(node)
    guard.admit(command.fence.lease, command.fence.token) // an older coordinator: LEASE_FENCED
    if (command.kind !== 'status' && !executed.has(command.id)) {
      executed.add(command.id)
      console.log(`${node}: ${command.kind} ${command.instance} (token ${command.fence.token})`)
    }
    return { id: command.id, ok: true, instances: [] }
  }
}

// The tracking station: the lease table and the graph on one router, one Raft group.
const network = new MemoryNetwork()
const voters = ['n1', 'n2', 'n3']
const station = await Promise.all(voters.map(async (id) => {
  const router = new StateMachineRouter()
  const leaseRoute = router.mount('lease', new LeaseTable())
  const graphRoute = router.mount('graph', new GraphStateMachine(schema))
  const node = new RaftNode({
    id, voters, transport: network.transport(id), stateMachine: router, forwardProposals: true, tickMs: 20,
    storage: new LevelStorage({ db: new MemoryLevel() })
  })
  await node.open()
  const leases = new LeaseManager({ node: leaseRoute.bind(node), table: leaseRoute.machine, maxLeaseDurationMs: 2000 })
  const routed = graphRoute.bind(node)
  const client = { machine: graphRoute.machine, submit: (c, o) => routed.propose(c, o), barrier: (o) => routed.read(o) }
  // Every node supervises; the one holding the coordinator lease runs the coordinator.
  const supervisor = new Supervisor({
    leases,
    durationMs: 1000,
    create: ({ fence, isLive }) => new Coordinator({
      ...client, schema, channel: agents, fence, isLive, holder: id, rules: [...BUILTIN_RULES, drainOnBadDisk]
    })
  }).open()
  supervisor.on('start', () => { console.log(`coordinator started on ${id}`) })
  return { id, node, leases, supervisor, client }
}))

const until = async (ok) => { while (!ok()) await new Promise((resolve) => setTimeout(resolve, 20)) }
const { client } = station[0]
const graph = new Graph(schema, client)
const events = new EventsQueue(client)
await until(() => station.some((s) => s.supervisor.token !== null))

// The cluster the coordinator looks after: two worker nodes, one service instance on w1.
const worker = () => ({ kind: 'worker', labels: '', state: 'up' })
await graph.transaction()
  .put(ref('ha.node', 'w1'), worker()).put(ref('ha.node', 'w2'), worker())
  .put(ref('ha.instance', 'web'), { service: JSON.stringify({ command: 'web-server' }), parameters: '{}', state: 'running', failures: 0, failuresSince: 0, attempt: 1, avoid: '{}' })
  .connect('ha.runs', ref('ha.node', 'w1'), ref('ha.instance', 'web'))
  .commit()

// What would the rules do if w1 died? (Nothing is committed or sent.)
const whatIf = simulate(client.machine, { type: 'node-dead', node: 'w1', observer: 'monitor', at: Date.now() })
console.log(`what-if: ${whatIf.notes.join('; ')}`)

// A monitor reports w1 dead: the built-in rules move web to w2 (one fenced entry), then send the start.
await events.emit({ id: 'monitor-1', payload: encodeHaEvent({ type: 'node-dead', node: 'w1', observer: 'monitor', at: Date.now() }) })
await until(() => executed.size === 1)

// The coordinator's host dies; another node's supervisor takes over after the lease.
const holder = station.find((s) => s.supervisor.token !== null)
await holder.supervisor.close()
await holder.leases.close()
await holder.node.close()
const rest = station.filter((s) => s !== holder)
await until(() => rest.some((s) => s.supervisor.token !== null))

// The custom rule, run by the new coordinator.
const events2 = new EventsQueue(rest[0].client)
await events2.emit({ id: 'monitor-2', payload: encodeHaEvent({ type: 'resource-health', node: 'w2', resource: 'disk0', healthy: false, detail: 'I/O errors', at: Date.now() }) })
await until(() => executed.size === 2)

for (const s of rest) { await s.supervisor.close(); await s.leases.close(); await s.node.close() }
await network.close()

/**
 * GraphStateMachine on real RaftNodes (the production shell) on the in-memory network: the
 * clients on a follower commit through forwarding, a node that was down catches up through an
 * InstallSnapshot of the graph (snapshots every few entries) and ends with the same replica,
 * and a producer keeps emitting across a leadership transfer with each event stored once.
 * Waits have generous deadlines; no verdict depends on how fast the machine is.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RaftNode } from '../../src/node/node.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { EventsQueue, Graph, GraphStateMachine, ref } from '../../src/graph/index.js'
import { renderGraphReplica } from '../../src/testing/sim/graph-sim.js'
import { schema } from './helpers.js'

const ids = ['n1', 'n2', 'n3']

async function until (what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

test('a follower client commits through forwarding; a node that was down catches up by snapshot to the same replica', async () => {
  const network = new MemoryNetwork()
  const storages = new Map(ids.map((id) => [id, new CrashStorage()]))
  const machines = new Map<string, GraphStateMachine>()
  const nodes = new Map<string, RaftNode>()
  const start = async (id: string): Promise<RaftNode> => {
    const machine = new GraphStateMachine(schema, { snapshotChunkBytes: 128 })
    machines.set(id, machine)
    const node = new RaftNode({
      id, voters: ids, storage: storages.get(id)!, transport: network.transport(id), stateMachine: machine,
      tickMs: 5, electionTicks: 10, forwardProposals: true, snapshotEntries: 5, snapshotKeepEntries: 0, snapshotChunkBytes: 256
    })
    await node.open()
    nodes.set(id, node)
    return node
  }
  for (const id of ids) await start(id)
  try {
    const leader = await nodes.get('n1')!.waitForLeader({ timeoutMs: 20_000 })
    const followerId = ids.find((id) => id !== leader)!
    const downId = ids.find((id) => id !== leader && id !== followerId)!
    const follower = nodes.get(followerId)!
    const client = { machine: machines.get(followerId)!, submit: (c: Uint8Array, o?: { signal?: AbortSignal }) => follower.propose(c, o), barrier: async (o?: { signal?: AbortSignal }) => { await follower.read(o) } }
    const graph = new Graph(schema, client)
    const events = new EventsQueue(client)
    await graph.transaction().put(ref('cluster', 'c0'), { name: 'station' }).commit()
    await nodes.get(downId)!.close()
    for (let i = 0; i < 30; i++) {
      const n = ref('node', `n${i}`)
      await graph.transaction().put(n, { host: `h${i}` }).connect('has', ref('cluster', 'c0'), n).commit()
      if (i % 3 === 0) await events.emit({ id: `e${i}`, payload: new Uint8Array([i]) })
    }
    const [first] = await events.read()
    await events.handle([first!.id], graph.transaction().update(ref('node', 'n0'), { up: false }))
    const back = await start(downId)
    const target = (await graph.read()).appliedIndex
    await until('the restarted node to catch up', () => back.status().appliedIndex >= target)
    assert.ok(back.metrics().counters.snapshotsInstalled > 0, 'it caught up through a snapshot')
    await follower.read()
    assert.is(renderGraphReplica(machines.get(downId)!), renderGraphReplica(machines.get(followerId)!))
    assert.is(machines.get(downId)!.graph.neighbours('c0', 'has', 'out').size, 30)
    assert.equal(machines.get(downId)!.events.list().map((e) => e.id), ['e3', 'e6', 'e9', 'e12', 'e15', 'e18', 'e21', 'e24', 'e27'])
  } finally {
    for (const node of nodes.values()) await node.close()
    await network.close()
  }
})

test('a producer keeps emitting across a leadership transfer; each event is stored once', async () => {
  const network = new MemoryNetwork()
  const machines = new Map(ids.map((id) => [id, new GraphStateMachine(schema)]))
  const nodes = ids.map((id) => new RaftNode({ id, voters: ids, storage: new CrashStorage(), transport: network.transport(id), stateMachine: machines.get(id)!, tickMs: 5, electionTicks: 10, forwardProposals: true }))
  for (const n of nodes) await n.open()
  try {
    const leaderId = await nodes[0]!.waitForLeader({ timeoutMs: 20_000 })
    const producerNode = nodes.find((n) => n.id !== leaderId)!
    const queue = new EventsQueue({
      machine: machines.get(producerNode.id)!,
      submit: (c, o) => producerNode.propose(c, o),
      attemptTimeoutMs: 500
    })
    const emitted = (async () => {
      const answers: string[] = []
      for (let i = 0; i < 40; i++) answers.push(await queue.emit({ id: `u${i}`, payload: new Uint8Array(4) }))
      return answers
    })()
    await until('some events', () => machines.get(producerNode.id)!.events.size >= 10)
    const leader = nodes.find((n) => n.id === leaderId)!
    await leader.transferLeadership(ids.find((id) => id !== leaderId)!).catch(() => {})
    const answers = await emitted
    assert.is(answers.length, 40)
    await producerNode.read()
    assert.equal(machines.get(producerNode.id)!.events.list().map((e) => e.id), Array.from({ length: 40 }, (_, i) => `u${i}`))
  } finally {
    for (const n of nodes) await n.close()
    await network.close()
  }
})

test.run()

/**
 * GraphStateMachine on real RaftNodes (the production shell) on the in-memory network, in
 * the one test harness's virtual time: the clients on a follower commit through forwarding,
 * a node that was down catches up through an InstallSnapshot of the graph (snapshots every few
 * entries) and ends with the same replica, and a producer keeps emitting across a leadership
 * transfer with each event stored once. Every wait is bounded in virtual ticks.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EventsQueue, Graph, GraphStateMachine, ref } from '../../src/graph/index.js'
import { renderGraphReplica } from '../../src/testing/sim/graph-sim.js'
import { Cluster } from '../harness/index.js'
import type { Member } from '../harness/index.js'
import { schema } from './helpers.js'

const ids = ['n1', 'n2', 'n3']

/** A graph client on `member`'s node and replica. */
function clientOn (member: Member<GraphStateMachine>): { machine: GraphStateMachine, submit: (c: Uint8Array, o?: { signal?: AbortSignal }) => Promise<unknown>, barrier: (o?: { signal?: AbortSignal }) => Promise<void> } {
  return { machine: member.machine, submit: (c, o) => member.node.propose(c, o), barrier: async (o) => { await member.node.read(o) } }
}

test('a follower client commits through forwarding; a node that was down catches up by snapshot to the same replica', async () => {
  const cluster = new Cluster<GraphStateMachine>(ids, {
    seed: 31,
    tickMs: 5,
    machine: () => new GraphStateMachine(schema, { snapshotChunkBytes: 128 }),
    node: { forwardProposals: true, snapshotEntries: 5, snapshotKeepEntries: 0, snapshotChunkBytes: 256 }
  })
  try {
    await cluster.startAll()
    const leader = await cluster.waitForLeader()
    const followerId = ids.find((id) => id !== leader.id)!
    const downId = ids.find((id) => id !== leader.id && id !== followerId)!
    const follower = cluster.member(followerId)
    const graph = new Graph(schema, clientOn(follower))
    const events = new EventsQueue({ ...clientOn(follower), clock: cluster.clock })
    const run = async <T>(p: Promise<T>): Promise<T> => await cluster.await(p, { maxTicks: 2000 })
    await run(graph.transaction().put(ref('cluster', 'c0'), { name: 'station' }).commit())
    await cluster.stop(downId)
    for (let i = 0; i < 30; i++) {
      const n = ref('node', `n${i}`)
      await run(graph.transaction().put(n, { host: `h${i}` }).connect('has', ref('cluster', 'c0'), n).commit())
      if (i % 3 === 0) await run(events.emit({ id: `e${i}`, payload: new Uint8Array([i]) }))
    }
    const [first] = await run(events.read())
    await run(events.handle([first!.id], graph.transaction().update(ref('node', 'n0'), { up: false })))
    const back = await cluster.start(downId)
    const target = (await run(graph.read())).appliedIndex
    await cluster.stepUntil(() => back.node.status().appliedIndex >= target, { maxTicks: 2000, what: 'the restarted node to catch up' })
    assert.ok(back.node.metrics().counters.snapshotsInstalled > 0, 'it caught up through a snapshot')
    await run(follower.node.read())
    assert.is(renderGraphReplica(back.machine), renderGraphReplica(follower.machine))
    assert.is(back.machine.graph.neighbours('c0', 'has', 'out').size, 30)
    assert.equal(back.machine.events.list().map((e) => e.id), ['e3', 'e6', 'e9', 'e12', 'e15', 'e18', 'e21', 'e24', 'e27'])
  } finally {
    await cluster.close()
  }
})

test('a producer keeps emitting across a leadership transfer; each event is stored once', async () => {
  const cluster = new Cluster<GraphStateMachine>(ids, { seed: 32, tickMs: 5, machine: () => new GraphStateMachine(schema), node: { forwardProposals: true } })
  try {
    await cluster.startAll()
    const leader = await cluster.waitForLeader()
    const producer = cluster.member(ids.find((id) => id !== leader.id)!)
    const queue = new EventsQueue({ machine: producer.machine, submit: (c, o) => producer.node.propose(c, o), attemptTimeoutMs: 500, clock: cluster.clock })
    const emitted = (async () => {
      const answers: string[] = []
      for (let i = 0; i < 40; i++) answers.push(await queue.emit({ id: `u${i}`, payload: new Uint8Array(4) }))
      return answers
    })()
    await cluster.stepUntil(() => producer.machine.events.size >= 10, { maxTicks: 2000, what: 'some events' })
    await cluster.await(leader.transferLeadership(ids.find((id) => id !== leader.id)!).catch(() => {}), { maxTicks: 2000 })
    const answers = await cluster.await(emitted, { maxTicks: 20_000, what: 'all 40 events acknowledged' })
    assert.is(answers.length, 40)
    await cluster.await(producer.node.read(), { maxTicks: 2000 })
    assert.equal(producer.machine.events.list().map((e) => e.id), Array.from({ length: 40 }, (_, i) => `u${i}`))
  } finally {
    await cluster.close()
  }
})

test.run()

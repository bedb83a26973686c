/**
 * Every promise a node hands out settles (issue 12, defects 2-4): forwarded proposals end
 * with RAFT_TIMEOUT or NODE_CLOSED when the leader never answers, one oversized proposal
 * fails alone, and a waitForLeader() with no timeout ends on close(). All in virtual time.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import type { NodeMutations } from '../../src/node/test-hooks.js'
import { withMutations } from '../../src/node/test-hooks.js'
import { TICK_MS, VirtualCluster, enc, track } from './virtual-cluster.js'

const REQUEST_TIMEOUT_TICKS = 20

/** A 3-node forwarding cluster with a leader, and a follower whose link to the leader is cut. */
async function cutFollower (seed: number, mutations: NodeMutations = {}): Promise<{ cluster: VirtualCluster, follower: string }> {
  const cluster = new VirtualCluster(['a', 'b', 'c'], seed, withMutations({ forwardProposals: true, requestTimeoutTicks: REQUEST_TIMEOUT_TICKS }, mutations))
  await cluster.openAll()
  const leader = await cluster.leader()
  const follower = cluster.ids.find((id) => id !== leader)!
  // One way only: the follower still hears the leader's heartbeats, so it keeps forwarding
  // to it, but nothing it sends arrives.
  cluster.network.cut(follower, leader)
  return { cluster, follower }
}

/** `promise` is still pending after `ms` of virtual time and rejects NODE_CLOSED once node `id` closes. */
async function assertEndsOnClose (cluster: VirtualCluster, id: string, promise: Promise<unknown>, ms: number): Promise<void> {
  const p = track(promise)
  await cluster.run(ms)
  assert.is(p.state(), 'pending')
  await cluster.close(id)
  assert.ok(isQuorateError(p.error(), 'NODE_CLOSED'), String(p.error()))
  await cluster.closeAll()
}

test('a forwarded proposal whose link to the leader is cut rejects RAFT_TIMEOUT after requestTimeoutTicks', async () => {
  const { cluster, follower } = await cutFollower(1)
  const p = track(cluster.nodes.get(follower)!.propose(enc('lost')))
  await cluster.run((REQUEST_TIMEOUT_TICKS - 2) * TICK_MS)
  assert.is(p.state(), 'pending', 'not before the timeout')
  await cluster.run(4 * TICK_MS)
  assert.is(p.state(), 'rejected')
  assert.ok(isQuorateError(p.error(), 'RAFT_TIMEOUT'), String(p.error()))
  await cluster.closeAll()
})

test('every proposal of a forwarded batch with no answer rejects RAFT_TIMEOUT, not just one', async () => {
  const { cluster, follower } = await cutFollower(2)
  const node = cluster.nodes.get(follower)!
  const ps = [0, 1, 2, 3].map((i) => track(node.propose(enc(`p${i}`))))
  await cluster.run((REQUEST_TIMEOUT_TICKS + 2) * TICK_MS)
  for (const p of ps) assert.ok(isQuorateError(p.error(), 'RAFT_TIMEOUT'), String(p.error()))
  await cluster.closeAll()
})

test('a forwarded proposal still waiting for the leader rejects NODE_CLOSED on close()', async () => {
  const { cluster, follower } = await cutFollower(3)
  await assertEndsOnClose(cluster, follower, cluster.nodes.get(follower)!.propose(enc('pending at close')), 2 * TICK_MS)
})

test('with the forwardedProposalLeak mutant the same forwarded proposal never settles (the test above catches it)', async () => {
  const { cluster, follower } = await cutFollower(1, { forwardedProposalLeak: true })
  const p = track(cluster.nodes.get(follower)!.propose(enc('lost')))
  await cluster.run(10 * REQUEST_TIMEOUT_TICKS * TICK_MS)
  assert.is(p.state(), 'pending')
  await cluster.closeAll()
  assert.is(p.state(), 'pending', 'not even close() ends it')
})

test('an oversized proposal in the same turn as small ones fails alone with RAFT_PROPOSAL_TOO_LARGE', async () => {
  const cluster = new VirtualCluster(['a', 'b', 'c'], 4, { maxProposalBytes: 1024 })
  await cluster.openAll()
  const node = cluster.nodes.get(await cluster.leader())!
  const small = track(node.propose(enc('small')))
  const big = track(node.propose(new Uint8Array(1025)))
  const after = track(node.propose(enc('after')))
  await cluster.run(20 * TICK_MS)
  assert.is(small.value(), 'ok:small')
  assert.is(after.value(), 'ok:after')
  assert.ok(isQuorateError(big.error(), 'RAFT_PROPOSAL_TOO_LARGE'), String(big.error()))
  await cluster.closeAll()
})

test('an oversized proposal on a forwarding follower fails alone; its batch is forwarded and commits', async () => {
  const cluster = new VirtualCluster(['a', 'b', 'c'], 5, { maxProposalBytes: 1024, forwardProposals: true })
  await cluster.openAll()
  const leader = await cluster.leader()
  const node = cluster.nodes.get(cluster.ids.find((id) => id !== leader)!)!
  const small = track(node.propose(enc('small')))
  const big = track(node.propose(new Uint8Array(4096)))
  await cluster.run(20 * TICK_MS)
  assert.is(small.value(), 'ok:small')
  assert.ok(isQuorateError(big.error(), 'RAFT_PROPOSAL_TOO_LARGE'), String(big.error()))
  await cluster.closeAll()
})

test('waitForLeader() without a timeout rejects NODE_CLOSED on close()', async () => {
  // b never starts, so a can never win an election: only close() can end the wait.
  const cluster = new VirtualCluster(['a', 'b'], 6)
  const node = await cluster.open('a')
  await assertEndsOnClose(cluster, 'a', node.waitForLeader(), 100 * TICK_MS)
})

test('waitForLeader() without a timeout rejects NODE_FAILED when the node fails', async () => {
  const cluster = new VirtualCluster(['a', 'b'], 7)
  let throwing = false
  const node = await cluster.open('a', { trace: () => { if (throwing) throw new Error('sink down') } })
  const waiting = track(node.waitForLeader())
  throwing = true
  await cluster.run(100 * TICK_MS)
  assert.ok(isQuorateError(waiting.error(), 'NODE_FAILED'), String(waiting.error()))
  assert.is(node.lifecycle, 'closed')
  await cluster.closeAll()
})

test('a forwarded proposal the network duplicates is appended and applied once', async () => {
  const cluster = new VirtualCluster(['a', 'b', 'c'], 8, { forwardProposals: true })
  await cluster.openAll()
  const leader = await cluster.leader()
  const follower = cluster.ids.find((id) => id !== leader)!
  cluster.network.configure({ duplication: 1 })
  const node = cluster.nodes.get(follower)!
  const ps = [0, 1, 2].map((i) => track(node.propose(enc(`dup${i}`))))
  await cluster.run(30 * TICK_MS)
  assert.equal(ps.map((p) => p.value()), ['ok:dup0', 'ok:dup1', 'ok:dup2'])
  const applied = (cluster.machine(leader).log).map((e) => e.command).filter((c) => c.startsWith('dup'))
  assert.equal(applied, ['dup0', 'dup1', 'dup2'], 'each command applied once')
  await cluster.closeAll()
})

test.run()

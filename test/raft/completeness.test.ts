/**
 * Snapshots (§7), membership changes (thesis §4), leadership transfer (thesis §3.10) on
 * real nodes over the in-memory network, in virtual time (test/harness).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cluster } from '../harness/index.js'
import { SnapshotReceiver, SnapshotSender } from '../../src/node/snapshot-transfer.js'
import { MemoryChunkSource } from '../../src/node/snapshot-source.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import type { SnapshotChunk } from '../../src/raft/types.js'
import { applyConfigChange } from '../../src/raft/confchange.js'
import { QuorateError } from '../../src/errors.js'

async function load (cluster: Cluster, from: number, count: number): Promise<void> {
  let next = from
  const worker = async (): Promise<void> => { while (next < from + count) await cluster.proposeWithRetry(`c${next++}`) }
  await Promise.all(Array.from({ length: 16 }, worker))
}

function assertAgree (cluster: Cluster, ids: readonly string[]): void {
  const logs = ids.map((id) => cluster.members.get(id)!.machine.log.map((x) => `${x.index}:${x.command}`).join(','))
  for (const l of logs) assert.is(l, logs[0], 'replicas applied the same sequence')
}

test('§7 a slow follower behind the compacted log catches up through InstallSnapshot', async () => {
  const cluster = new Cluster(['n1', 'n2', 'n3'], { node: { snapshotEntries: 300, snapshotKeepEntries: 50, snapshotChunkBytes: 2048 } })
  await cluster.startAll()
  try {
    const leader = await cluster.waitForLeader()
    const slow = cluster.ids.find((id) => id !== leader.id)!
    cluster.network.isolate(slow)
    await load(cluster, 0, 1200)
    const st = leader.status()
    assert.ok(st.commitIndex > 1000)
    cluster.network.heal()
    await cluster.waitApplied(st.commitIndex)
    assert.ok(cluster.members.get(slow)!.machine.restores >= 1, 'the follower restored from a snapshot')
    assertAgree(cluster, cluster.ids)
  } finally {
    await cluster.close()
  }
})

test('§7 a node restarts from its snapshot plus the log tail', async () => {
  const cluster = new Cluster(['n1', 'n2', 'n3'], { node: { snapshotEntries: 200, snapshotKeepEntries: 20 } })
  await cluster.startAll()
  try {
    await cluster.waitForLeader()
    await load(cluster, 0, 700)
    const victim = cluster.members.get('n2')!
    const before = victim.machine.log.length
    await cluster.crash('n2')
    const restarted = await cluster.start('n2')
    assert.is(restarted.machine.restores, 1, 'restored from the stored snapshot at open')
    await load(cluster, 700, 50)
    const leader = await cluster.waitForLeader()
    await cluster.waitApplied(leader.status().commitIndex)
    assert.ok(restarted.machine.log.length >= before + 50)
    assertAgree(cluster, cluster.ids)
  } finally {
    await cluster.close()
  }
})

test('§7 an interrupted snapshot transfer resumes from the bytes the follower holds, not from zero', async () => {
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => Math.floor(i / 100))
  const source = new MemoryChunkSource({ index: 50, term: 3, config: { voters: ['a'], votersOutgoing: [], learners: [] } }, bytes, 100)
  const sender = new SnapshotSender('b', source, 4, 5)
  const storage = new CrashStorage()
  await storage.open()
  const receiver = new SnapshotReceiver(storage)
  const accept = async (c: SnapshotChunk): Promise<{ received: number, complete: boolean }> => await receiver.accept('a', c)
  let first = sender.due()
  assert.is(first.length, 4, 'a window of four chunks')
  // Chunk 1 is lost; 0, 2, 3 arrive.
  const acks: number[] = []
  for (const c of [first[0]!, first[2]!, first[3]!]) acks.push((await accept(c)).received)
  assert.equal(acks, [100, 100, 100], 'the follower holds only the first chunk and says so')
  for (const a of acks) sender.onAck(50, a)
  first = sender.due()
  assert.is(first[0]!.offset, 100, 'the sender resumes at the missing chunk')
  for (const c of first) sender.onAck(50, (await accept(c)).received)
  // The link goes quiet (partition); after the retransmit timeout it resumes, not restarts.
  for (let i = 0; i < 5; i++) sender.tick()
  const resumed = sender.due()
  assert.ok(resumed[0]!.offset >= 400, `resumed at ${resumed[0]!.offset}`)
  let complete = false
  let batch = resumed
  while (!complete && batch.length > 0) {
    for (const c of batch) { const r = await accept(c); sender.onAck(50, r.received); complete ||= r.complete }
    batch = sender.due()
  }
  assert.ok(complete)
  assert.is(receiver.received, 1000)
  const staged: number[] = []
  for await (const c of storage.readStagedSnapshot()) staged.push(...c)
  assert.equal(staged, Array.from(bytes), 'staged in order with nothing twice')
})

test('thesis §4.3 joint consensus: replacing two voters enters C_old,new and leaves it automatically', async () => {
  assert.equal(applyConfigChange({ voters: ['a', 'b', 'c'], votersOutgoing: [], learners: [] }, { operations: [{ type: 'addVoter', id: 'd' }, { type: 'remove', id: 'a' }] }).votersOutgoing, ['a', 'b', 'c'], 'two voter changes need a joint configuration')
  // n4 and n5 join later: like every node, they are started with the cluster's initial voters
  // (n1-n3) and learn the current configuration from the log.
  const cluster = new Cluster(['n1', 'n2', 'n3'])
  const members = ['n1', 'n2', 'n3']
  await cluster.startAll()
  try {
    const leader = await cluster.waitForLeader()
    await load(cluster, 0, 50)
    const configs: string[] = []
    leader.on('config', (c) => configs.push(`${c.voters.join('')}/${c.votersOutgoing.join('')}`))
    // Replace two followers with n4 and n5 (not started yet: they join empty and catch up).
    const followers = members.filter((id) => id !== leader.id)
    await Promise.all(['n4', 'n5'].map(async (id) => await cluster.start(id)))
    const final = await cluster.await(leader.changeMembership({ operations: [{ type: 'addVoter', id: 'n4' }, { type: 'addVoter', id: 'n5' }, { type: 'remove', id: followers[0]! }, { type: 'remove', id: followers[1]! }] }))
    assert.equal([...final.voters].sort(), [leader.id, 'n4', 'n5'].sort())
    assert.equal(final.votersOutgoing, [])
    assert.ok(configs.some((c) => c.split('/')[1]!.length > 0), 'passed through a joint configuration')
    // The removed followers get no more entries; shut them down.
    for (const id of followers) await cluster.stop(id)
    await load(cluster, 50, 50)
    await cluster.waitApplied(leader.status().commitIndex)
    assertAgree(cluster, [leader.id, 'n4', 'n5'])
  } finally {
    await cluster.close()
  }
})

test('thesis §4.2.1 a new node joins as a learner, catches up without voting, then is promoted', async () => {
  const cluster = new Cluster(['n1', 'n2', 'n3'])
  await cluster.startAll()
  try {
    const leader = await cluster.waitForLeader()
    await load(cluster, 0, 300)
    const joiner = await cluster.start('n4')
    const seen: string[] = []
    leader.on('config', (c) => seen.push(c.learners.includes('n4') ? 'learner' : c.voters.includes('n4') ? 'voter' : 'none'))
    const config = await cluster.await(leader.addVoter('n4'))
    assert.ok(config.voters.includes('n4'))
    assert.equal(seen, ['learner', 'voter'], 'learner first, voter second')
    await cluster.waitApplied(leader.status().commitIndex)
    assert.ok(joiner.machine.log.length >= 300, 'the learner received the whole log')
    assertAgree(cluster, ['n1', 'n2', 'n3', 'n4'])
  } finally {
    await cluster.close()
  }
})

test('thesis §4.2.2 removing the leader: it hands over and steps down, and cannot disrupt the cluster', async () => {
  const cluster = new Cluster(['n1', 'n2', 'n3'])
  await cluster.startAll()
  try {
    const leader = await cluster.waitForLeader()
    await load(cluster, 0, 50)
    await cluster.await(leader.removeMember(leader.id))
    await cluster.stepUntil(() => cluster.ids.some((id) => id !== leader.id && cluster.node(id).status().role === 'leader'), { what: 'a new leader' })
    const next = cluster.ids.map((id) => cluster.node(id)).find((n) => n.id !== leader.id && n.status().role === 'leader')!
    const term = next.status().term
    await load(cluster, 50, 50)
    // Ten election timeouts of virtual time: a removed node that could campaign would have.
    await cluster.runTicks(100)
    assert.is(leader.status().role, 'follower', 'the removed node never campaigns again')
    assert.is(next.status().term, term, 'no disruption: the term did not move')
    assert.ok(!next.status().voters.includes(leader.id))
  } finally {
    await cluster.close()
  }
})

test('a second configuration change while one is pending fails with RAFT_CONFIG_PENDING', async () => {
  const cluster = new Cluster(['n1', 'n2', 'n3'])
  await cluster.startAll()
  try {
    const leader = await cluster.waitForLeader()
    await load(cluster, 0, 5)
    const first = leader.addLearner('n9')
    const err = await cluster.await(leader.addLearner('n8').catch((e: unknown) => e))
    assert.is((err as QuorateError).code, 'RAFT_CONFIG_PENDING')
    await cluster.await(first)
  } finally {
    await cluster.close()
  }
})

test('thesis §3.10 leadership transfer to a lagging node catches it up first, and proposals wait it out', async () => {
  const cluster = new Cluster(['n1', 'n2', 'n3'])
  await cluster.startAll()
  try {
    const leader = await cluster.waitForLeader()
    const target = cluster.ids.find((id) => id !== leader.id)!
    cluster.network.isolate(target)
    await load(cluster, 0, 100)
    cluster.network.heal()
    const transfer = leader.transferLeadership(target)
    const during = await cluster.await(leader.propose(new TextEncoder().encode('during')).catch((e: unknown) => e))
    assert.ok(during instanceof QuorateError && ['RAFT_TRANSFER_IN_PROGRESS', 'RAFT_NOT_LEADER'].includes(during.code), 'proposals are refused during the transfer')
    assert.is(await cluster.await(transfer), target)
    await cluster.stepUntil(() => cluster.node(target).status().role === 'leader', { what: 'the target to lead' })
    await load(cluster, 100, 10)
    await cluster.waitApplied(cluster.node(target).status().commitIndex)
    assertAgree(cluster, cluster.ids)
  } finally {
    await cluster.close()
  }
})

test.run()

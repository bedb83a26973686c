/**
 * The node shell driving real storage and the in-memory network: whole clusters, in virtual
 * time (test/harness), except one node on classic-level on disk, which waits on real I/O.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cluster, RecordingMachine } from '../harness/index.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { LevelStorage } from '../../src/storage/level-storage.js'
import { RaftNode } from '../../src/node/node.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { QuorateError } from '../../src/errors.js'
import type { RaftStorage, StorageBatch, WriteOptions } from '../../src/storage/storage.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

async function commitMany (cluster: Cluster, count: number, window: number): Promise<string[]> {
  const acknowledged: string[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const cmd = `c${next++}`
      const result = await cluster.proposeWithRetry(cmd)
      assert.is(result, `ok:${cmd}`, 'the proposal resolves with the state machine result')
      acknowledged.push(cmd)
    }
  }
  await Promise.all(Array.from({ length: window }, worker))
  return acknowledged
}

function assertSameSequence (cluster: Cluster, acknowledged: string[]): void {
  const logs = cluster.open().map((m) => m.machine.log)
  const reference = logs[0]!
  for (const log of logs) {
    assert.equal(log.map((x) => x.index), reference.map((x) => x.index), 'same indexes applied')
    assert.equal(log.map((x) => x.command), reference.map((x) => x.command), 'same commands applied in the same order')
  }
  const applied = new Set(reference.map((x) => x.command))
  for (const a of acknowledged) assert.ok(applied.has(a), `acknowledged ${a} is applied everywhere`)
  const idx = reference.map((x) => x.index)
  for (let i = 1; i < idx.length; i++) assert.ok(idx[i]! > idx[i - 1]!, 'indexes strictly increase')
}

for (const size of [3, 5]) {
  test(`a ${size}-node cluster elects a leader, commits 10,000 proposals, survives a leader crash and restart, and every node applies the same sequence`, async () => {
    const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`)
    const cluster = new Cluster(ids)
    await cluster.startAll()
    try {
      await cluster.waitForLeader()
      const first = await commitMany(cluster, 5_000, 64)
      const old = await cluster.waitForLeader()
      await cluster.crash(old.id)
      const second = await commitMany(cluster, 5_000, 64)
      const newLeader = await cluster.waitForLeader()
      assert.is.not(newLeader.id, old.id, 'a new leader took over')
      // Restart the old leader from what it had made durable.
      await cluster.start(old.id)
      const last = newLeader.status().commitIndex
      await cluster.waitApplied(last)
      assertSameSequence(cluster, [...first, ...second])
      assert.is(cluster.members.get(old.id)!.machine.log.length, cluster.members.get(newLeader.id)!.machine.log.length)
    } finally {
      await cluster.close()
    }
  })
}

test('a node reopened from classic-level on disk keeps its term, vote and log', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-node-'))
  try {
    const net = new MemoryNetwork()
    const open = async (): Promise<{ node: RaftNode, machine: RecordingMachine }> => {
      const machine = new RecordingMachine()
      const node = new RaftNode({ id: 'solo', voters: ['solo'], storage: new LevelStorage({ location: dir }), transport: net.transport('solo'), stateMachine: machine, tickMs: 2 })
      await node.open()
      return { node, machine }
    }
    let { node } = await open()
    await node.waitForLeader()
    for (let i = 0; i < 20; i++) await node.propose(enc(`v${i}`))
    const before = node.status()
    await node.close()
    const reopened = await open()
    node = reopened.node
    const after = node.status()
    assert.ok(after.term >= before.term, 'term kept')
    assert.is(after.vote ?? 'solo', 'solo')
    assert.ok(after.lastIndex >= before.lastIndex, 'log kept')
    await node.waitForLeader()
    await node.propose(enc('after-restart'))
    assert.equal(reopened.machine.log.map((x) => x.command), [...Array.from({ length: 20 }, (_, i) => `v${i}`), 'after-restart'], 'the committed log is replayed into a fresh state machine')
    await node.close()
    await net.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

/** Storage that cuts the node off the network right after each durable write, before it can send. */
class CrashAfterWrite implements RaftStorage {
  readonly inner: CrashStorage
  armed = false
  onCrash: () => void = () => {}
  constructor (inner: CrashStorage) { this.inner = inner }
  get status (): RaftStorage['status'] { return this.inner.status }
  async open (o?: { signal?: AbortSignal }): Promise<void> { await this.inner.open(o) }
  async close (): Promise<void> { await this.inner.close() }
  async load (): ReturnType<RaftStorage['load']> { return await this.inner.load() }
  async write (batch: StorageBatch, options?: WriteOptions): Promise<void> {
    await this.inner.write(batch, options)
    if (this.armed && batch.entries.length > 0) { this.armed = false; this.onCrash() }
  }

  async entries (lo: number, hi: number, o?: { maxBytes?: number }): ReturnType<RaftStorage['entries']> { return await this.inner.entries(lo, hi, o) }
  async saveSnapshot (...a: Parameters<RaftStorage['saveSnapshot']>): Promise<void> { await this.inner.saveSnapshot(...a) }
  async loadSnapshot (): ReturnType<RaftStorage['loadSnapshot']> { return await this.inner.loadSnapshot() }
  async compact (upTo: number, o?: WriteOptions): Promise<void> { await this.inner.compact(upTo, o) }
  async stageSnapshotChunk (...a: Parameters<RaftStorage['stageSnapshotChunk']>): Promise<void> { await this.inner.stageSnapshotChunk(...a) }
  async stagedSnapshot (): ReturnType<RaftStorage['stagedSnapshot']> { return await this.inner.stagedSnapshot() }
  readStagedSnapshot (fromByte?: number): AsyncIterable<Uint8Array> { return this.inner.readStagedSnapshot(fromByte) }
  async discardStagedSnapshot (o?: WriteOptions): Promise<void> { await this.inner.discardStagedSnapshot(o) }
  async installStagedSnapshot (o?: WriteOptions): Promise<void> { await this.inner.installStagedSnapshot(o) }
}

test('nothing acknowledged is lost when a node crashes between persisting and sending', async () => {
  const ids = ['n1', 'n2', 'n3']
  const wrappers = new Map<string, CrashAfterWrite>()
  const cluster = new Cluster(ids, {
    storage: (id) => { const w = new CrashAfterWrite(new CrashStorage()); wrappers.set(id, w); return w }
  })
  await cluster.startAll()
  try {
    const acknowledged = await commitMany(cluster, 200, 8)
    for (let round = 0; round < 6; round++) {
      const victim = ids[round % 3]!
      const w = wrappers.get(victim)!
      // Crash right after the next durable write, before the messages that depend on it leave.
      w.onCrash = () => { cluster.network.isolate(victim) }
      w.armed = true
      acknowledged.push(...await commitMany(cluster, 100, 8))
      await cluster.stop(victim)
      cluster.network.heal()
      const restarted = new CrashAfterWrite(w.inner.crash())
      wrappers.set(victim, restarted)
      await cluster.start(victim, { storage: restarted })
    }
    acknowledged.push(...await commitMany(cluster, 100, 8))
    const leader = await cluster.waitForLeader()
    await cluster.waitApplied(leader.status().commitIndex)
    assertSameSequence(cluster, acknowledged)
  } finally {
    await cluster.close()
  }
})

test('a proposal on a follower fails with RAFT_NOT_LEADER naming the leader; with forwarding it commits', async () => {
  const cluster = new Cluster(['n1', 'n2', 'n3'])
  await cluster.startAll()
  try {
    const leader = await cluster.waitForLeader()
    const follower = cluster.open().find((m) => m.id !== leader.id)!.node
    const err = await cluster.await(follower.propose(enc('x')).catch((e: unknown) => e))
    assert.instance(err, QuorateError)
    assert.is((err as QuorateError).code, 'RAFT_NOT_LEADER')
    assert.is((err as QuorateError).info?.leader, leader.id)
  } finally {
    await cluster.close()
  }
  const fwd = new Cluster(['n1', 'n2', 'n3'], { node: { forwardProposals: true } })
  await fwd.startAll()
  try {
    const leader = await fwd.waitForLeader()
    const follower = fwd.open().find((m) => m.id !== leader.id)!.node
    const results = await fwd.await(Promise.all([follower.propose(enc('f1')), follower.propose(enc('f2'))]))
    assert.equal(results, ['ok:f1', 'ok:f2'], 'forwarded proposals resolve with their results')
  } finally {
    await fwd.close()
  }
})

test('read() is a linearizable barrier: after it resolves the node has applied every earlier write', async () => {
  const cluster = new Cluster(['n1', 'n2', 'n3'])
  await cluster.startAll()
  try {
    const leader = await cluster.waitForLeader()
    await cluster.await(leader.propose(enc('w1')))
    const follower = cluster.open().find((m) => m.id !== leader.id)!
    const index = await cluster.await(follower.node.read())
    assert.ok(follower.node.status().appliedIndex >= index)
    assert.ok(follower.machine.log.some((x) => x.command === 'w1'), 'the follower sees the write after read()')
  } finally {
    await cluster.close()
  }
})

test('an fsync failure stops the node (NODE_FAILED) and fails its pending proposals instead of retrying', async () => {
  const storage = new CrashStorage()
  const cluster = new Cluster(['a'], { storage: () => storage })
  await cluster.startAll()
  try {
    const node = await cluster.waitForLeader()
    await cluster.await(node.propose(enc('fine')))
    storage.failNextSync()
    const err = await cluster.await(node.propose(enc('doomed')).catch((e: unknown) => e))
    assert.instance(err, QuorateError)
    assert.is((err as QuorateError).code, 'NODE_FAILED')
    assert.is(node.failure?.code, 'NODE_FAILED')
    const again = await cluster.await(node.propose(enc('later')).catch((e: unknown) => e))
    assert.is((again as QuorateError).code, 'NODE_FAILED', 'the node refuses further work')
  } finally {
    await cluster.close()
  }
})

test('propose honours an AbortSignal; open and close are idempotent and safe to race', async () => {
  const net = new MemoryNetwork()
  const node = new RaftNode({ id: 'a', voters: ['a', 'b', 'c'], storage: new CrashStorage(), transport: net.transport('a'), stateMachine: new RecordingMachine(), tickMs: 1000 })
  await Promise.all([node.open(), node.open()])
  await node.open()
  assert.is(node.lifecycle, 'open')
  const ac = new AbortController()
  const p = node.propose(enc('x'), { signal: ac.signal }).catch((e: unknown) => e)
  ac.abort()
  const err = await p
  assert.is((err as QuorateError).code, 'ABORTED')
  await Promise.all([node.close(), node.close()])
  await node.close()
  assert.is(node.lifecycle, 'closed')
  const closed = await node.propose(enc('y')).catch((e: unknown) => e)
  assert.is((closed as QuorateError).code, 'NODE_NOT_OPEN')
  await net.close()
})

test('metrics count the work and trace reports every state change', async () => {
  const events: string[] = []
  const sunk: Record<string, number> = {}
  const cluster = new Cluster(['a'], {
    node: {
      trace: (e) => events.push(e.kind),
      metrics: { count: (name, by) => { sunk[name] = (sunk[name] ?? 0) + by } }
    }
  })
  await cluster.startAll()
  try {
    const node = await cluster.waitForLeader()
    for (let i = 0; i < 5; i++) await cluster.await(node.propose(enc(`m${i}`)))
    await cluster.await(node.read())
    const m = node.metrics()
    assert.is(m.counters.proposals, 5)
    assert.ok(m.counters.entriesApplied >= 5)
    assert.ok(m.counters.storageWrites >= 1)
    assert.is(m.counters.readsServed + (sunk.readsServed ?? 0) >= 1, true)
    assert.ok(m.histograms.storageWriteMs.count >= 1)
    assert.is(sunk.proposals, 5, 'the sink sees the same counters')
    for (const kind of ['role', 'persist', 'commit', 'apply']) assert.ok(events.includes(kind), `trace has ${kind}`)
  } finally {
    await cluster.close()
  }
})

test('invalid options are rejected with OPTIONS_INVALID naming the field', () => {
  const net = new MemoryNetwork()
  const base = { id: 'a', voters: ['a'], storage: new CrashStorage(), transport: net.transport('a'), stateMachine: new RecordingMachine() }
  for (const [field, bad] of [['tickMs', 0], ['electionTicks', 0], ['heartbeatTicks', 50], ['voters', ['a', 'a']]] as const) {
    try {
      void new RaftNode({ ...base, [field]: bad })
      assert.unreachable(`${field} accepted`)
    } catch (err) {
      assert.is((err as QuorateError).code, 'OPTIONS_INVALID', field)
      assert.match((err as Error).message, field)
    }
  }
})

test.run()

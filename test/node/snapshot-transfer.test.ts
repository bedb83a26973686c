/**
 * Regression tests for issue 12, defect 1: a snapshot transfer is tied to its sender and the
 * digest of its byte stream. Each scenario runs twice: with the fix, and with the old
 * behaviour (the `legacy` / resume-anywhere switches behind the snapshotResumeAcrossLeaders
 * mutant), which shows that the scenario is the one that broke it.
 *
 * The relay below mirrors how RaftNode wires the two halves: every chunk a sender emits
 * reaches the follower's receiver, which acknowledges the bytes it holds to that sender.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { SeededRandom } from '../../src/util/random.js'
import { SnapshotReceiver, SnapshotSender } from '../../src/node/snapshot-transfer.js'
import { MemoryChunkSource } from '../../src/node/snapshot-source.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import type { NodeId, SnapshotChunk, SnapshotMeta } from '../../src/raft/types.js'
import { message } from '../../src/raft/types.js'
import { decodeFrame, encodeFrame, WIRE_VERSION } from '../../src/transport/codec.js'
import type { RaftFrame } from '../../src/transport/codec.js'
import type { Message } from '../../src/raft/types.js'
import type { Transport } from '../../src/transport/transport.js'
import type { NodeMutations } from '../../src/node/test-hooks.js'
import { withMutations } from '../../src/node/test-hooks.js'
import type { RaftNode } from '../../src/node/node.js'
import { Cluster, RecordingMachine } from '../harness/index.js'

const META: SnapshotMeta = { index: 40, term: 3, config: { voters: ['a', 'b', 'f'], votersOutgoing: [], learners: [] } }
const STATE: ReadonlyArray<[string, string]> = Array.from({ length: 24 }, (_, i) => [`key${i}`, `value-${i * 7}`])

/**
 * A replica's snapshot of STATE: its own header (a replica name and a timestamp, ignored on
 * restore) and the entries in its own order. Every replica's bytes differ; all restore alike.
 */
function replicaBytes (replica: string, order: 'forward' | 'reverse'): Uint8Array {
  const entries = order === 'forward' ? STATE : [...STATE].reverse()
  const header = `${replica}@${replica.length * 1_000_003}`
  return new TextEncoder().encode(`${header}\n${entries.map(([k, v]) => `${k}=${v}`).join('\n')}`)
}

/** The state a snapshot restores to (throws on a stream that does not parse). */
function restore (bytes: Uint8Array): Map<string, string> {
  const [, ...lines] = new TextDecoder().decode(bytes).split('\n')
  const state = new Map<string, string>()
  for (const line of lines) {
    const m = /^(key\d+)=(value-\d+)$/.exec(line)
    if (m === null) throw new Error(`not an entry: ${JSON.stringify(line)}`)
    state.set(m[1]!, m[2]!)
  }
  return state
}

function served (bytes: Uint8Array, chunkBytes: number): MemoryChunkSource & { readonly digest: Uint8Array } {
  const source = new MemoryChunkSource(META, bytes, chunkBytes)
  return Object.assign(source, { digest: source.snapshot.digest })
}

function concat (chunks: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(chunks.flatMap((c) => Array.from(c)))
}

/** A receiver staging into a fresh, open CrashStorage. */
async function receiverOn (options: { legacy?: boolean } = {}): Promise<{ receiver: SnapshotReceiver, storage: CrashStorage }> {
  const storage = new CrashStorage()
  await storage.open()
  return { receiver: new SnapshotReceiver(storage, options), storage }
}

/** The staged stream, read back from storage. */
async function stagedBytes (storage: CrashStorage): Promise<Uint8Array> {
  const out: Uint8Array[] = []
  for await (const c of storage.readStagedSnapshot()) out.push(c)
  return concat(out)
}

/** One follower's receiver and what reached it. */
class Follower {
  readonly receiver: SnapshotReceiver
  readonly storage: CrashStorage
  /** Streams the follower would install (restore), in order. */
  readonly installed: Uint8Array[] = []
  corruptions = 0

  private constructor (receiver: SnapshotReceiver, storage: CrashStorage) {
    this.receiver = receiver
    this.storage = storage
  }

  static async create (legacy: boolean): Promise<Follower> {
    const { receiver, storage } = await receiverOn({ legacy })
    return new Follower(receiver, storage)
  }

  /** Delivers one round of `sender`'s due chunks (from node `from`), acks going back to it. Returns chunks sent. */
  async round (from: NodeId, sender: SnapshotSender, alter: (c: SnapshotChunk) => SnapshotChunk = (c) => c): Promise<number> {
    const chunks = sender.due()
    for (const c of chunks) {
      const r = await this.receiver.accept(from, alter(c))
      if (r.corrupt) this.corruptions++
      if (r.complete) {
        this.installed.push(await stagedBytes(this.storage))
        await this.receiver.discard()
      }
      sender.onAck(c.meta.index, r.received)
    }
    // A round without anything to send is where a tick would pass.
    if (chunks.length === 0) sender.tick()
    return chunks.length
  }

  /** Rounds until something is installed or `maxRounds` passed. Returns chunks sent. */
  async run (from: NodeId, sender: SnapshotSender, maxRounds: number): Promise<number> {
    let sent = 0
    for (let i = 0; i < maxRounds && this.installed.length === 0; i++) sent += await this.round(from, sender)
    return sent
  }
}

for (const legacy of [false, true]) {
  const mode = legacy ? 'the old behaviour' : 'the fix'

  test(`${mode}: a leader change mid-transfer between byte-different snapshots of one index ${legacy ? 'glues two streams' : 'installs the new leader\'s stream whole'}`, async () => {
    const a = served(replicaBytes('a', 'forward'), 32)
    const b = served(replicaBytes('bbbbbbbb', 'reverse'), 32)
    assert.not.equal(Array.from(a.digest), Array.from(b.digest), 'the replicas\' bytes differ')
    const f = await Follower.create(legacy)
    const fromA = new SnapshotSender('f', a, 2, 5, legacy)
    for (let i = 0; i < 3; i++) await f.round('a', fromA)
    assert.ok(f.receiver.received > 0 && f.installed.length === 0, 'a is deposed mid-transfer')
    const fromB = new SnapshotSender('f', b, 2, 5, legacy)
    await f.run('b', fromB, 200)
    assert.is(f.installed.length, 1)
    const bytes = f.installed[0]!
    if (!legacy) {
      assert.equal(Array.from(bytes), Array.from(replicaBytes('bbbbbbbb', 'reverse')), 'exactly b\'s stream')
      assert.equal(restore(bytes), new Map(STATE))
    } else {
      let state: Map<string, string> | null = null
      try { state = restore(bytes) } catch { /* restore() fails: the node would stop */ }
      assert.ok(state === null || state.size !== STATE.length || [...state].some(([k, v]) => new Map(STATE).get(k) !== v), 'a wrong state or a failed restore')
    }
  })

  test(`${mode}: the same bytes chunked differently by the new leader ${legacy ? 'are resent forever' : 'transfer in a bounded number of chunks'}`, async () => {
    const bytes = replicaBytes('a', 'forward')
    const a = served(bytes, 24)
    const b = served(bytes, 40)
    assert.equal(Array.from(a.digest), Array.from(b.digest), 'identical bytes')
    const f = await Follower.create(legacy)
    const fromA = new SnapshotSender('f', a, 3, 5, legacy)
    for (let i = 0; i < 2; i++) await f.round('a', fromA)
    assert.ok(f.receiver.received % 40 !== 0, `the follower holds ${f.receiver.received} bytes, not a boundary of b's chunks`)
    const fromB = new SnapshotSender('f', b, 3, 5, legacy)
    const sent = await f.run('b', fromB, 500)
    if (!legacy) {
      assert.is(f.installed.length, 1)
      assert.equal(Array.from(f.installed[0]!), Array.from(bytes))
      assert.ok(sent <= b.snapshot.chunkCount + 3, `${sent} chunks for a ${b.snapshot.chunkCount}-chunk snapshot`)
    } else {
      assert.is(f.installed.length, 0, 'never completes')
      assert.ok(sent >= 500, `${sent} chunks sent in 500 rounds`)
    }
  })

  test(`${mode}: a chunk corrupted in flight is ${legacy ? 'installed' : 'caught by the digest, never installed, and the stream is sent again'}`, async () => {
    const bytes = replicaBytes('a', 'forward')
    const a = served(bytes, 32)
    const f = await Follower.create(legacy)
    const fromA = new SnapshotSender('f', a, 2, 5, legacy)
    let corrupted = false
    const flipOnce = (c: SnapshotChunk): SnapshotChunk => {
      if (corrupted || c.offset !== 64) return c
      corrupted = true
      const data = Uint8Array.from(c.data)
      data[3] = data[3]! ^ 0x20
      return { ...c, data }
    }
    for (let i = 0; i < 200 && f.installed.length === 0; i++) await f.round('a', fromA, flipOnce)
    assert.ok(corrupted)
    assert.is(f.installed.length, 1)
    if (!legacy) {
      assert.is(f.corruptions, 1, 'one digest mismatch')
      assert.equal(Array.from(f.installed[0]!), Array.from(bytes), 'only the intact stream is installed')
    } else {
      assert.is(f.corruptions, 0)
      assert.not.equal(Array.from(f.installed[0]!), Array.from(bytes), 'the corrupted stream is installed')
    }
  })
}

test('an acknowledged offset where none of the sender\'s chunks starts resumes at the chunk holding it, and the follower takes the part it lacks', async () => {
  const bytes = replicaBytes('a', 'forward')
  const [by30, by40] = [served(bytes, 30), served(bytes, 40)]
  // The follower holds 90 bytes of this stream cut in 30s (this node before it restarted with 40-byte chunks).
  const { receiver: r, storage } = await receiverOn()
  for (let i = 0; i < 3; i++) await r.accept('a', { meta: META, offset: i * 30, data: by30.chunk(i), done: false, digest: by30.digest })
  const sender = new SnapshotSender('f', by40, 2, 5)
  for (const c of sender.due()) sender.onAck(META.index, (await r.accept('a', c)).received)
  assert.is(r.received, 90, 'chunks 0-80 bring nothing new')
  const next = sender.due()
  assert.equal(next.map((c) => c.offset), [80, 120], 'resumes at the chunk holding byte 90, within the window')
  let done = false
  let batch = next
  for (let i = 0; i < 50 && !done; i++) {
    for (const c of batch) {
      const a = await r.accept('a', c)
      if (c.offset === 80) assert.is(a.received, 120, 'the overlapping chunk adds bytes 90-120')
      sender.onAck(META.index, a.received)
      done ||= a.complete
    }
    batch = sender.due()
  }
  assert.ok(done)
  assert.equal(Array.from(await stagedBytes(storage)), Array.from(bytes))
})

test('an acknowledgement overtaken by a later one does not make the sender rewind; an acknowledgement of 0 restarts it', async () => {
  const s = served(replicaBytes('a', 'forward'), 20)
  const sender = new SnapshotSender('f', s, 2, 5)
  assert.equal(sender.due().map((c) => c.offset), [0, 20])
  sender.onAck(META.index, 20)
  sender.onAck(META.index, 40)
  assert.equal(sender.due().map((c) => c.offset), [40, 60])
  sender.onAck(META.index, 20)
  assert.equal(sender.due(), [], 'the stale ack of 20 is ignored')
  sender.onAck(META.index, 0)
  assert.equal(sender.due().map((c) => c.offset), [0, 20], 'the follower lost everything: from 0')
})

test('a duplicate chunk 0 of the same stream changes nothing; a chunk of another stream past 0 resets the partial and asks for 0', async () => {
  const s = served(replicaBytes('a', 'forward'), 30)
  const { receiver: r, storage } = await receiverOn()
  const [c0, c1, c2] = [0, 1, 2].map((i): SnapshotChunk => ({ meta: META, offset: i * 30, data: s.chunk(i), done: false, digest: s.digest }))
  await r.accept('a', c0!)
  assert.is((await r.accept('a', c1!)).received, 60)
  assert.is((await r.accept('a', c0!)).received, 60, 'a duplicate')
  assert.is((await storage.stagedSnapshot())?.bytes, 60, 'what was acknowledged is staged')
  assert.is((await r.accept('b', c1!)).received, 0, 'another sender: reset')
  assert.is(r.identity, null)
  assert.is(await storage.stagedSnapshot(), null, 'and the staged bytes are discarded')
  await r.accept('a', c0!)
  assert.is((await r.accept('a', { ...c1!, digest: new Uint8Array(32) })).received, 0, 'another digest: reset')
  assert.is((await r.accept('a', c2!)).received, 0, 'nothing held to continue')
})

test('under loss, duplication and reordering of chunks and acks a transfer completes with the exact bytes in a bounded number of chunks', async () => {
  const bytes = replicaBytes('a', 'forward')
  await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 3, max: 64 }), fc.integer({ min: 1, max: 4 }), async (seed, chunkBytes, window) => {
    const s = served(bytes, chunkBytes)
    const random = new SeededRandom(seed)
    const sender = new SnapshotSender('f', s, window, 3)
    const { receiver, storage } = await receiverOn()
    type Flight = { kind: 'chunk', chunk: SnapshotChunk } | { kind: 'ack', received: number }
    const flights: Flight[] = []
    let sent = 0
    let installed: Uint8Array | null = null
    const post = (f: Flight): void => {
      if (random.next() < 0.2) return
      flights.push(f)
      if (random.next() < 0.3) flights.push(f)
    }
    for (let step = 0; step < 100_000 && installed === null; step++) {
      for (const chunk of sender.due()) { sent++; post({ kind: 'chunk', chunk }) }
      if (flights.length === 0 || random.next() < 0.05) { sender.tick(); continue }
      const [f] = flights.splice(Math.floor(random.next() * flights.length), 1)
      if (f!.kind === 'ack') { sender.onAck(META.index, f!.received); continue }
      const a = await receiver.accept('a', f!.chunk)
      if (a.complete) installed = await stagedBytes(storage)
      post({ kind: 'ack', received: a.received })
    }
    assert.ok(installed !== null, 'completed')
    assert.equal(Array.from(installed), Array.from(bytes))
    assert.ok(sent <= 40 * s.snapshot.chunkCount + 100, `${sent} chunks for ${s.snapshot.chunkCount}`)
  }), { seed: 1207, numRuns: 150 })
})

test('a chunk frame from a sender that predates the digest decodes with an empty digest, and its stream installs unchecked', async () => {
  // Message { type: SNAPSHOT, snapshot: { meta: { index: 9 }, offset: 0, data: [7], done: true } }, no field 5.
  const snapshot = [0x0a, 2, 0x08, 9, 0x1a, 1, 7, 0x20, 1]
  const inner = [0x08, 13, 0x62, snapshot.length, ...snapshot]
  const frame = decodeFrame(Uint8Array.from([0x08, 0x01, 0x2a, inner.length + 2, 0x0a, inner.length, ...inner])) as RaftFrame
  const chunk = frame.messages[0]!.snapshot!
  assert.is(chunk.digest.byteLength, 0)
  assert.is((await (await receiverOn()).receiver.accept('a', chunk)).complete, true)
  // And a digest survives the wire.
  const digest = Uint8Array.from({ length: 32 }, (_, i) => i)
  const out = encodeFrame({ kind: 'raft', version: WIRE_VERSION, clusterId: 'c', sender: 'a', messages: [message({ type: 'snapshot', from: 'a', to: 'f', term: 1, snapshot: { ...chunk, digest } })] })
  assert.equal(Array.from((decodeFrame(out) as RaftFrame).messages[0]!.snapshot!.digest), Array.from(digest))
})

/** A transport whose incoming messages pass through `alter` first. */
function altering (inner: Transport, alter: (m: Message) => Message): Transport {
  return {
    get id () { return inner.id },
    get status () { return inner.status },
    open: async (handler, options) => { await inner.open((m) => { handler(alter(m)) }, options) },
    send: (messages) => { inner.send(messages) },
    close: async () => { await inner.close() },
    stats: () => inner.stats()
  }
}

/**
 * n1 and n2 commit and snapshot while n3 is away; n3 then joins and the first snapshot chunk
 * past byte 0 reaching it has one bit flipped. Returns n3 and the others' state.
 */
async function corruptedClusterTransfer (mutations: NodeMutations): Promise<{ n3: RaftNode, machine: RecordingMachine, leaderLog: RecordingMachine['log'], flipped: boolean }> {
  const options = withMutations({ snapshotEntries: 5, snapshotKeepEntries: 0, snapshotChunkBytes: 64, snapshotWindowChunks: 2 }, mutations)
  const cluster = new Cluster(['n1', 'n2', 'n3'], { node: options })
  try {
    await cluster.start('n1')
    await cluster.start('n2')
    for (let i = 0; i < 30; i++) await cluster.proposeWithRetry(`command-${i}`)
    let flipped = false
    const transport = altering(cluster.network.transport('n3'), (m) => {
      const c = m.snapshot
      if (flipped || c === null || c.offset === 0 || c.data.byteLength < 4) return m
      flipped = true
      const data = Uint8Array.from(c.data)
      data[2] = data[2]! ^ 0x01
      return { ...m, snapshot: { ...c, data } }
    })
    const { node, machine } = await cluster.start('n3', { node: { ...options, transport } })
    const leader = await cluster.waitForLeader()
    const commit = leader.status().commitIndex
    await cluster.stepUntil(() => node.lifecycle !== 'open' || node.status().appliedIndex >= commit, { maxTicks: 2000, what: 'n3 to catch up or stop' })
    const leaderLog = cluster.member(leader.id).machine.log
    return { n3: node, machine, leaderLog, flipped }
  } finally {
    await cluster.close()
  }
}

test('a RaftNode never restores a snapshot corrupted in flight: the digest catches it, the transfer is retried and the state matches the leader\'s', async () => {
  const { n3, machine, leaderLog, flipped } = await corruptedClusterTransfer({})
  assert.ok(flipped, 'a chunk was corrupted')
  assert.is(n3.failure, null)
  assert.is(n3.metrics().counters.snapshotDigestMismatches, 1)
  assert.is(machine.restores, 1, 'only the intact stream was restored')
  assert.equal(machine.log.slice(0, leaderLog.length), leaderLog)
})

test('with the old rule (snapshotResumeAcrossLeaders) the same corrupted chunk is restored: the node stops or diverges', async () => {
  const { n3, machine, leaderLog, flipped } = await corruptedClusterTransfer({ snapshotResumeAcrossLeaders: true })
  assert.ok(flipped)
  assert.is(n3.metrics().counters.snapshotDigestMismatches, 0)
  assert.ok(n3.failure !== null || JSON.stringify(machine.log.slice(0, leaderLog.length)) !== JSON.stringify(leaderLog), 'the corruption went unnoticed')
})

test.run()

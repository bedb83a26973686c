/**
 * The snapshot transfer streams end to end: the sender holds a bounded window of chunks read
 * from storage, the receiver stages every chunk durably before acknowledging it, a staged
 * transfer survives a follower restart, and a stream that fails its digest is discarded.
 * Memory is asserted on what the code holds (chunks held by the sender's source, bytes staged
 * before each acknowledgement), not on RSS.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { SnapshotReceiver, SnapshotSender } from '../../src/node/snapshot-transfer.js'
import { MemoryChunkSource, StoredChunkSource, rechunk, servedSnapshot } from '../../src/node/snapshot-source.js'
import { LevelStorage } from '../../src/storage/level-storage.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import type { RaftStorage } from '../../src/storage/storage.js'
import { withMutations } from '../../src/node/test-hooks.js'
import type { NodeMutations } from '../../src/node/test-hooks.js'
import type { Message, SnapshotChunk, SnapshotMeta } from '../../src/raft/types.js'
import type { Transport } from '../../src/transport/transport.js'
import { SeededRandom } from '../../src/util/random.js'
import { Cluster } from '../harness/index.js'

const META: SnapshotMeta = { index: 30, term: 2, config: { voters: ['a', 'f'], votersOutgoing: [], learners: [] } }

/** `count` pieces of seeded sizes 1..300 (a state machine's own chunking), and their concatenation. */
function pieces (count: number, seed: number): { pieces: Uint8Array[], bytes: Uint8Array } {
  const random = new SeededRandom(seed)
  const out: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const p = new Uint8Array(1 + Math.floor(random.next() * 300))
    for (let b = 0; b < p.length; b++) p[b] = Math.floor(random.next() * 256)
    out.push(p)
  }
  return { pieces: out, bytes: Buffer.concat(out) }
}

async function * stream (chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c
}

async function collect (chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const out: Uint8Array[] = []
  for await (const c of chunks) out.push(c)
  return Buffer.concat(out)
}

/** Lets pending storage reads (memory-level answers on later turns) complete. */
async function settle (): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => { setImmediate(resolve) })
}

test('rechunk cuts any stream into exact chunks, passing whole ones through as views', async () => {
  const { pieces: ps, bytes } = pieces(40, 3)
  for (const size of [1, 7, 64, 301, 100_000]) {
    const chunks: Uint8Array[] = []
    for await (const c of rechunk(stream(ps), size)) chunks.push(c)
    assert.ok(chunks.slice(0, -1).every((c) => c.byteLength === size), `all but the last are ${size} bytes`)
    assert.ok(chunks.at(-1)!.byteLength <= size && chunks.at(-1)!.byteLength > 0)
    assert.equal(Buffer.compare(Buffer.concat(chunks), bytes), 0)
  }
  assert.equal(await collect(rechunk(stream([]), 8)), Buffer.alloc(0))
})

/**
 * A leader's stored snapshot (LevelStorage on memory-level) sent to a follower staging into
 * CrashStorage, chunk by chunk, with seeded loss of chunks and acks. Returns what was observed.
 */
async function lossyTransfer (seed: number, options: { chunkBytes: number, window: number, pieces: number, lossRate: number, restartAt?: number }): Promise<{ maxHeld: number, chunkCount: number, staged: Uint8Array, bytes: Uint8Array, ackedNotDurable: number, resent: number }> {
  const { pieces: ps, bytes } = pieces(options.pieces, seed)
  const leaderDisk = new LevelStorage({ db: new MemoryLevel() })
  await leaderDisk.open()
  await leaderDisk.saveSnapshot(META, stream(ps))
  const stored = (await leaderDisk.loadSnapshot())!
  const served = servedSnapshot(META, stored.bytes, stored.digest!, options.chunkBytes)
  const capacity = 2 * options.window
  let ready = 0
  const source = new StoredChunkSource({
    snapshot: served,
    capacity,
    open: async () => (await leaderDisk.loadSnapshot())!.chunks,
    onReady: () => { ready++ },
    onError: (err) => { throw err }
  })
  const sender = new SnapshotSender('f', source, options.window, 3)
  let disk = new CrashStorage()
  await disk.open()
  let receiver = new SnapshotReceiver(disk)
  const random = new SeededRandom(seed * 7 + 1)
  let maxHeld = 0
  let ackedNotDurable = 0
  let delivered = 0
  let resent = 0
  let highest = 0
  let complete = false
  for (let step = 0; step < 20_000 && !complete; step++) {
    const due = sender.due()
    maxHeld = Math.max(maxHeld, source.held)
    if (due.length === 0) {
      const before = ready
      await settle()
      if (ready === before) sender.tick()
      continue
    }
    for (const c of due) {
      if (c.offset + c.data.byteLength <= highest) resent++
      highest = Math.max(highest, c.offset + c.data.byteLength)
      if (random.next() < options.lossRate) continue
      const r = await receiver.accept('a', c)
      delivered++
      if (r.received > disk.durableStagedBytes && !r.complete) ackedNotDurable++
      complete ||= r.complete
      if (random.next() < options.lossRate) continue
      sender.onAck(META.index, r.received)
      if (options.restartAt !== undefined && delivered === options.restartAt) {
        // The follower loses power: a new process over what its disk kept.
        disk = disk.crash()
        await disk.open()
        receiver = new SnapshotReceiver(disk)
        await receiver.load(() => true)
      }
    }
  }
  assert.ok(complete, 'the transfer completed')
  const staged = await collect(disk.readStagedSnapshot())
  source.close()
  await leaderDisk.close()
  return { maxHeld, chunkCount: served.chunkCount, staged, bytes, ackedNotDurable, resent }
}

test('a snapshot of hundreds of chunks is sent with at most twice the window of chunks held, under loss, and arrives exact', async () => {
  for (const seed of [1, 2, 3]) {
    const r = await lossyTransfer(seed, { chunkBytes: 64, window: 3, pieces: 120, lossRate: 0.1 })
    assert.ok(r.chunkCount >= 200, `${r.chunkCount} chunks`)
    assert.ok(r.maxHeld <= 6, `at most 6 chunks held at once, saw ${r.maxHeld}`)
    assert.ok(r.maxHeld >= 1)
    assert.is(r.ackedNotDurable, 0, 'every acknowledged byte was staged durably first')
    assert.equal(Buffer.compare(r.staged, r.bytes), 0, 'the staged stream is the stored one')
  }
})

test('a follower that restarts mid-transfer resumes from its staged bytes, not from zero', async () => {
  const r = await lossyTransfer(4, { chunkBytes: 64, window: 2, pieces: 120, lossRate: 0, restartAt: 150 })
  assert.equal(Buffer.compare(r.staged, r.bytes), 0)
  // Without the staged prefix the sender would start again from 0: 150 chunks resent.
  assert.ok(r.resent <= 4, `${r.resent} chunks resent after the restart`)
})

test('a source asked for chunk 0 again after progress rereads from the start and still holds at most its capacity', async () => {
  const { pieces: ps, bytes } = pieces(50, 9)
  const disk = new CrashStorage()
  await disk.open()
  await disk.saveSnapshot(META, stream(ps))
  const served = servedSnapshot(META, bytes.byteLength, (await disk.loadSnapshot())!.digest!, 50)
  let opens = 0
  const source = new StoredChunkSource({ snapshot: served, capacity: 4, open: async () => { opens++; return (await disk.loadSnapshot())!.chunks }, onReady: () => {}, onError: (err) => { throw err } })
  const read = async (i: number): Promise<Uint8Array> => {
    for (let t = 0; t < 100; t++) {
      const c = source.chunk(i)
      if (c !== null) return c
      await settle()
    }
    throw new Error(`chunk ${i} never arrived`)
  }
  for (let i = 0; i < 40; i++) {
    source.need(i)
    assert.equal(Buffer.compare(await read(i), bytes.subarray(i * 50, (i + 1) * 50)), 0)
    assert.ok(source.held <= 4)
  }
  assert.is(opens, 1, 'read forward once')
  source.need(0)
  assert.equal(Buffer.compare(await read(0), bytes.subarray(0, 50)), 0)
  assert.is(opens, 2, 'a rewind opens the stream again')
  source.close()
})

test('a stored stream shorter than its recorded length fails the source (the transfer is abandoned), it never sends a short chunk', async () => {
  const bytes = new Uint8Array(500).fill(3)
  const served = servedSnapshot(META, 600, new Uint8Array(32), 100)
  let failure: unknown = null
  const source = new StoredChunkSource({ snapshot: served, capacity: 8, open: async () => stream([bytes]), onReady: () => {}, onError: (err) => { failure = err } })
  for (let i = 0; i < 6; i++) { source.need(i); source.chunk(i); await settle() }
  assert.ok(failure !== null && (failure as { code?: string }).code === 'STORAGE_CORRUPT', String(failure))
  assert.is(source.chunk(5), null)
})

test('a stream that fails its digest is discarded from storage and answered with 0; a later intact copy installs', async () => {
  const disk = new CrashStorage()
  await disk.open()
  const receiver = new SnapshotReceiver(disk)
  const bytes = pieces(20, 5).bytes
  const source = new MemoryChunkSource(META, bytes, 100)
  const chunks: SnapshotChunk[] = []
  for (let i = 0; i < source.snapshot.chunkCount; i++) {
    chunks.push({ meta: META, offset: i * 100, data: source.chunk(i), done: i === source.snapshot.chunkCount - 1, digest: source.snapshot.digest })
  }
  const flipped = chunks.map((c, i) => i !== 3 ? c : { ...c, data: Uint8Array.from(c.data, (b, j) => j === 0 ? b ^ 1 : b) })
  let last = null
  for (const c of flipped) last = await receiver.accept('a', c)
  assert.equal(last, { received: 0, complete: false, corrupt: true })
  assert.is(await disk.stagedSnapshot(), null, 'nothing staged is kept')
  for (const c of chunks) last = await receiver.accept('a', c)
  assert.equal(last, { received: bytes.byteLength, complete: true, corrupt: false })
  assert.equal(Buffer.compare(await collect(disk.readStagedSnapshot()), bytes), 0)
})

test('a staged stream is picked up after a restart only if still wanted, and its digest is rebuilt from the staged bytes', async () => {
  const bytes = pieces(20, 6).bytes
  const source = new MemoryChunkSource(META, bytes, 100)
  const chunk = (i: number): SnapshotChunk => ({ meta: META, offset: i * 100, data: source.chunk(i), done: i === source.snapshot.chunkCount - 1, digest: source.snapshot.digest })
  let disk = new CrashStorage()
  await disk.open()
  const first = new SnapshotReceiver(disk)
  for (let i = 0; i < 5; i++) await first.accept('a', chunk(i))
  disk = disk.crash()
  await disk.open()
  const again = new SnapshotReceiver(disk)
  await again.load(() => true)
  assert.is(again.received, 500)
  assert.is(again.identity?.from, 'a')
  let last = null
  for (let i = 5; i < source.snapshot.chunkCount; i++) last = await again.accept('a', chunk(i))
  assert.is(last?.complete, true, 'the digest of the resumed stream matches')
  // Not wanted any more (a newer state is committed): discarded at load.
  const unwanted = new SnapshotReceiver(disk)
  await unwanted.load(() => false)
  assert.is(unwanted.identity, null)
  assert.is(await disk.stagedSnapshot(), null)
})

// ------------------------------------------------------------------ a real cluster

/** A transport whose outgoing messages are shown to `observe` first. */
function observing (inner: Transport, observe: (m: Message) => void): Transport {
  return {
    get id () { return inner.id },
    get status () { return inner.status },
    open: async (handler, options) => { await inner.open(handler, options) },
    send: (messages) => { for (const m of messages) observe(m); inner.send(messages) },
    close: async () => { await inner.close() },
    stats: () => inner.stats()
  }
}

const PAYLOAD = 'x'.repeat(200)

/**
 * n1 and n2 commit and snapshot while n3 is away; n3 then joins and receives a snapshot of
 * about 200 chunks. Every acknowledgement n3 sends is checked against what its disk would keep
 * after a crash right then; with `crashAfterAcks` n3 loses power mid-transfer and restarts.
 */
async function clusterTransfer (mutations: NodeMutations, crashAfterAcks?: number): Promise<{ ackedBeyondDurable: number, acksBefore: number, acksAfter: number, snapshotBytes: number, stagedAtCrash: number, caughtUp: boolean, sameLog: boolean }> {
  // snapshotLogRatio 0: a snapshot every 10 entries, so the one n3 gets covers nearly all 60.
  const options = withMutations({ snapshotEntries: 10, snapshotLogRatio: 0, snapshotKeepEntries: 0, snapshotChunkBytes: 64, snapshotWindowChunks: 2 }, mutations)
  const cluster = new Cluster(['n1', 'n2', 'n3'], { node: options, seed: 5 })
  let ackedBeyondDurable = 0
  const acks = [0, 0]
  let stagedAtCrash = -1
  /** Set from the ack that triggers the crash until the restart: acks sent meanwhile are moot. */
  let crashing = false
  try {
    await cluster.start('n1')
    await cluster.start('n2')
    for (let i = 0; i < 60; i++) await cluster.proposeWithRetry(`${i}:${PAYLOAD}`)
    const snapshotBytes = (await cluster.disk('n1')!.loadSnapshot())!.bytes
    const start = async (incarnation: 0 | 1): Promise<void> => {
      const transport = observing(cluster.network.transport('n3'), (m) => {
        if (m.type !== 'snapshotResponse' || crashing) return
        acks[incarnation]!++
        const disk = cluster.disk('n3') as CrashStorage
        // Acknowledged bytes a crash right now would lose (after the install, the snapshot holds them).
        if (m.context > disk.durableStagedBytes && disk.durableTerm(m.index) < 0) ackedBeyondDurable++
        if (incarnation === 0 && acks[0] === crashAfterAcks) {
          crashing = true
          stagedAtCrash = disk.durableStagedBytes
        }
      })
      await cluster.start('n3', { node: { ...options, transport } })
    }
    await start(0)
    if (crashAfterAcks !== undefined) {
      await cluster.stepUntil(() => crashing, { maxTicks: 2000, what: 'n3 mid-transfer' })
      await cluster.crash('n3')
      stagedAtCrash = (cluster.disk('n3') as CrashStorage).durableStagedBytes
      crashing = false
      await start(1)
    }
    const leader = await cluster.waitForLeader()
    const commit = leader.status().commitIndex
    const n3 = cluster.node('n3')
    let caughtUp = true
    try {
      await cluster.stepUntil(() => n3.lifecycle !== 'open' || n3.status().appliedIndex >= commit, { maxTicks: 3000, what: 'n3 to catch up' })
    } catch {
      caughtUp = false
    }
    caughtUp &&= n3.status().appliedIndex >= commit
    const leaderLog = cluster.member(leader.id).machine.log
    const sameLog = JSON.stringify(cluster.member('n3').machine.log.slice(0, leaderLog.length)) === JSON.stringify(leaderLog)
    return { ackedBeyondDurable, acksBefore: acks[0]!, acksAfter: acks[1]!, snapshotBytes, stagedAtCrash, caughtUp, sameLog }
  } finally {
    await cluster.close()
  }
}

test('a new follower receives a ~200-chunk snapshot, acknowledging only bytes already durable on its disk', async () => {
  const r = await clusterTransfer({})
  assert.ok(r.snapshotBytes > 64 * 180, `${r.snapshotBytes} bytes`)
  assert.ok(r.acksBefore >= 150, `${r.acksBefore} acknowledgements`)
  assert.is(r.ackedBeyondDurable, 0)
  assert.ok(r.caughtUp && r.sameLog)
})

test('mutant: a follower that acknowledges before its staged chunks are durable is caught by the crash check', async () => {
  const r = await clusterTransfer({ snapshotAckBeforeStaged: true })
  assert.ok(r.ackedBeyondDurable > 0, 'a crash at one of those acks would lose acknowledged bytes')
})

test('a follower that loses power mid-transfer resumes from the bytes its disk kept and ends with the leader\'s state', async () => {
  const r = await clusterTransfer({}, 80)
  assert.ok(r.stagedAtCrash >= 64 * 70, `${r.stagedAtCrash} bytes staged at the crash`)
  assert.ok(r.caughtUp && r.sameLog)
  assert.is(r.ackedBeyondDurable, 0)
  // From 0 it would take about snapshotBytes / 64 chunks again.
  const rest = Math.ceil((r.snapshotBytes - r.stagedAtCrash) / 64)
  assert.ok(r.acksAfter <= rest + 10, `${r.acksAfter} chunks acknowledged after the restart for the ${rest} not staged`)
})

/** `disk` as a storage written by an older version would present it: no recorded length or digest. */
function withoutDigests (disk: CrashStorage): RaftStorage {
  return new Proxy(disk, {
    get (target, property) {
      if (property === 'loadSnapshot') {
        return async () => {
          const stored = await target.loadSnapshot()
          return stored === null ? null : { ...stored, bytes: -1, digest: null }
        }
      }
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    }
  })
}

test('a leader whose stored snapshot has no recorded digest (an older version) hashes it once and the follower installs it intact', async () => {
  const options = { snapshotEntries: 10, snapshotKeepEntries: 0, snapshotChunkBytes: 64, snapshotWindowChunks: 2 }
  const cluster = new Cluster(['n1', 'n2', 'n3'], { node: options, seed: 3, storage: (id) => id === 'n3' ? new CrashStorage() : withoutDigests(new CrashStorage()) })
  try {
    await cluster.start('n1')
    await cluster.start('n2')
    for (let i = 0; i < 30; i++) await cluster.proposeWithRetry(`${i}:${PAYLOAD}`)
    const { node: n3, machine } = await cluster.start('n3')
    const leader = await cluster.waitForLeader()
    const commit = leader.status().commitIndex
    await cluster.stepUntil(() => n3.status().appliedIndex >= commit, { maxTicks: 3000, what: 'n3 to catch up' })
    assert.is(n3.metrics().counters.snapshotsInstalled, 1)
    assert.is(n3.metrics().counters.snapshotDigestMismatches, 0, 'the digest the leader computed matches the stream')
    assert.equal(machine.log.slice(0, 30).map((e) => e.command), cluster.member(leader.id).machine.log.slice(0, 30).map((e) => e.command))
  } finally {
    await cluster.close()
  }
})

test.run()

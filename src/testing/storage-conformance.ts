/**
 * The behaviour every RaftStorage must show, as a suite of tests any test runner can host:
 * pass a `test(name, fn)` function (uvu's `test` fits) and a factory for the backend.
 *
 * @example
 * import { test } from 'uvu'
 * import { storageConformance } from 'quorate/testing'
 * storageConformance(test, {
 *   name: 'my-backend',
 *   create: async () => new MyStorage(freshDir()),
 *   reopen: async (previous) => new MyStorage((previous as MyStorage).dir)
 * })
 * test.run()
 */
import * as assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { isQuorateError, type ErrorCode, type QuorateError } from '../errors.js'
import type { RaftStorage, SnapshotStageIdentity } from '../storage/storage.js'
import type { Entry, EntryType, HardState, SnapshotMeta } from '../raft/types.js'
import { entrySize } from '../raft/types.js'

export type TestRegistrar = (name: string, fn: () => Promise<void>) => void

export interface StorageConformanceOptions {
  /** Prefixes every test name. */
  readonly name: string
  /** A new, empty storage (opened or not: the suite calls open()). */
  create (): Promise<RaftStorage>
  /**
   * A fresh instance over the durable data of `previous`, which the suite has closed: checks
   * that what was written survives close and open. Leave it out to skip those checks.
   */
  reopen? (previous: RaftStorage): Promise<RaftStorage>
}

const ENTRY_TYPES: readonly EntryType[] = ['command', 'noop', 'config']
const CONFIG = { voters: ['n1', 'n2', 'n3'], votersOutgoing: [], learners: ['n4'] }

/** Entries from..from+count-1 of one term; data encodes index and term so mix-ups show. */
export function makeEntries (from: number, count: number, term: number, dataBytes = 8): Entry[] {
  const out: Entry[] = []
  for (let i = 0; i < count; i++) {
    const index = from + i
    const data = new Uint8Array(dataBytes)
    for (let b = 0; b < dataBytes; b++) data[b] = (index * 31 + term * 7 + b) & 0xff
    out.push({ index, term, type: ENTRY_TYPES[index % 3] as EntryType, data })
  }
  return out
}

function plain (entries: readonly Entry[]): Array<{ index: number, term: number, type: EntryType, data: number[] }> {
  return entries.map((e) => ({ index: e.index, term: e.term, type: e.type, data: Array.from(e.data) }))
}

/** Compares entries by value (backends may return Buffers or other Uint8Array views). */
export function assertEntriesEqual (actual: readonly Entry[], expected: readonly Entry[], message?: string): void {
  assert.deepEqual(plain(actual), plain(expected), message)
}

/** Asserts that `promise` rejects with a QuorateError of `code`, and returns that error. */
export async function assertRejectsWith (promise: Promise<unknown>, code: ErrorCode): Promise<QuorateError> {
  let error: unknown
  await assert.rejects(promise, (err: unknown) => {
    error = err
    assert.ok(isQuorateError(err, code), `expected ${code}, got ${String((err as Error)?.message ?? err)} (${String((err as { code?: string })?.code)})`)
    return true
  })
  return error as QuorateError
}

async function collect (chunks: AsyncIterable<Uint8Array>): Promise<number[][]> {
  const out: number[][] = []
  for await (const chunk of chunks) out.push(Array.from(chunk))
  return out
}

async function * chunksOf (...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c
}

function bytes (length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length)
  for (let i = 0; i < length; i++) b[i] = (seed + i * 13) & 0xff
  return b
}

function meta (index: number, term: number): SnapshotMeta {
  return { index, term, config: CONFIG }
}

function sha256 (...chunks: Uint8Array[]): number[] {
  const h = createHash('sha256')
  for (const c of chunks) h.update(c)
  return Array.from(h.digest())
}

function identity (index: number, from: string, digestSeed: number): SnapshotStageIdentity {
  return { meta: meta(index, 2), from, digest: bytes(32, digestSeed) }
}

/** Stages `chunks` in order for `id`, starting at 0. */
async function stageAll (s: RaftStorage, id: SnapshotStageIdentity, chunks: readonly Uint8Array[]): Promise<void> {
  let offset = 0
  for (const c of chunks) {
    await s.stageSnapshotChunk(id, offset, c)
    offset += c.byteLength
  }
}

const STAGED = [bytes(300, 1), bytes(1, 2), bytes(0, 3), bytes(700, 4), bytes(50, 5)]

export function storageConformance (test: TestRegistrar, options: StorageConformanceOptions): void {
  const { name, create, reopen } = options

  async function opened (): Promise<RaftStorage> {
    const storage = await create()
    await storage.open()
    return storage
  }

  /** Runs `fn` on a fresh open storage and closes whichever instance it ends with. */
  function withStorage (title: string, fn: (s: RaftStorage) => Promise<RaftStorage | undefined | void>): void {
    test(`${name}: ${title}`, async () => {
      let storage = await opened()
      try {
        storage = (await fn(storage)) ?? storage
      } finally {
        await storage.close()
      }
    })
  }

  async function reopened (previous: RaftStorage): Promise<RaftStorage> {
    await previous.close()
    const next = await (reopen as NonNullable<typeof reopen>)(previous)
    await next.open()
    return next
  }

  withStorage('an empty storage loads the default hard state, no snapshot and no entries', async (s) => {
    const state = await s.load()
    assert.deepEqual(state.hardState, { term: 0, vote: null, commit: 0 })
    assert.equal(state.snapshot, null)
    assert.deepEqual(state.entries, [])
    assert.equal(await s.loadSnapshot(), null)
  })

  withStorage('appended entries load back in order with term, type and data', async (s) => {
    const first = makeEntries(1, 3, 1)
    const second = [...makeEntries(4, 2, 2), { index: 6, term: 2, type: 'noop' as const, data: new Uint8Array(0) }]
    await s.write({ hardState: null, entries: first })
    await s.write({ hardState: null, entries: second })
    assertEntriesEqual((await s.load()).entries, [...first, ...second])
    assertEntriesEqual(await s.entries(1, 7), [...first, ...second])
  })

  withStorage('hard state is persisted and kept when a batch carries none', async (s) => {
    const hs: HardState = { term: 3, vote: 'n2', commit: 0 }
    await s.write({ hardState: hs, entries: [] })
    assert.deepEqual((await s.load()).hardState, hs)
    await s.write({ hardState: null, entries: makeEntries(1, 2, 3) })
    assert.deepEqual((await s.load()).hardState, hs)
    const next: HardState = { term: 4, vote: null, commit: 2 }
    await s.write({ hardState: next, entries: [] })
    assert.deepEqual((await s.load()).hardState, next)
  })

  withStorage('truncate and append replace a conflicting suffix with no gap and no leftovers', async (s) => {
    await s.write({ hardState: null, entries: makeEntries(1, 10, 1) })
    const replacement = makeEntries(6, 2, 2)
    await s.write({ hardState: { term: 2, vote: 'n1', commit: 5 }, truncateFrom: 6, entries: replacement })
    const state = await s.load()
    assertEntriesEqual(state.entries, [...makeEntries(1, 5, 1), ...replacement])
    assert.deepEqual(state.hardState, { term: 2, vote: 'n1', commit: 5 })
    await assertRejectsWith(s.entries(8, 9), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.write({ hardState: null, entries: makeEntries(9, 1, 2) }), 'STORAGE_INVALID_RANGE')
    await s.write({ hardState: null, entries: makeEntries(8, 1, 2) })
    assert.equal((await s.load()).entries.length, 8)
  })

  withStorage('truncation without entries shortens the log, and truncateFrom = last + 1 appends', async (s) => {
    await s.write({ hardState: null, entries: makeEntries(1, 5, 1) })
    await s.write({ hardState: null, truncateFrom: 3, entries: [] })
    assertEntriesEqual((await s.load()).entries, makeEntries(1, 2, 1))
    await s.write({ hardState: null, truncateFrom: 3, entries: makeEntries(3, 2, 2) })
    assertEntriesEqual((await s.load()).entries, [...makeEntries(1, 2, 1), ...makeEntries(3, 2, 2)])
    await s.write({ hardState: null, truncateFrom: 1, entries: makeEntries(1, 1, 3) })
    assertEntriesEqual((await s.load()).entries, makeEntries(1, 1, 3))
  })

  withStorage('entries() reads [lo, hi) and stops at maxBytes but returns at least one entry', async (s) => {
    const all = makeEntries(1, 10, 1, 100)
    await s.write({ hardState: null, entries: all })
    assertEntriesEqual(await s.entries(3, 7), all.slice(2, 6))
    assert.deepEqual(await s.entries(4, 4), [])
    const size = entrySize(all[0] as Entry)
    assertEntriesEqual(await s.entries(1, 11, { maxBytes: 1 }), all.slice(0, 1))
    assertEntriesEqual(await s.entries(1, 11, { maxBytes: size * 3 }), all.slice(0, 3))
    assertEntriesEqual(await s.entries(1, 11, { maxBytes: size * 3 + size / 2 }), all.slice(0, 3))
    assertEntriesEqual(await s.entries(2, 4, { maxBytes: size * 100 }), all.slice(1, 3))
  })

  withStorage('reads and writes outside the log reject STORAGE_INVALID_RANGE and change nothing', async (s) => {
    await s.write({ hardState: null, entries: makeEntries(1, 5, 1) })
    await assertRejectsWith(s.entries(0, 2), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.entries(1, 7), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.entries(4, 3), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.entries(1.5, 3), 'STORAGE_INVALID_RANGE')
    const gap = [...makeEntries(6, 1, 1), ...makeEntries(8, 1, 1)]
    await assertRejectsWith(s.write({ hardState: null, entries: gap }), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.write({ hardState: null, entries: makeEntries(7, 1, 1) }), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.write({ hardState: null, entries: makeEntries(5, 1, 1) }), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.write({ hardState: null, truncateFrom: 7, entries: makeEntries(7, 1, 1) }), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.write({ hardState: null, truncateFrom: 0, entries: [] }), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.write({ hardState: { term: -1, vote: null, commit: 0 }, entries: [] }), 'STORAGE_INVALID_RANGE')
    const state = await s.load()
    assertEntriesEqual(state.entries, makeEntries(1, 5, 1))
    assert.deepEqual(state.hardState, { term: 0, vote: null, commit: 0 })
  })

  withStorage('a multi-chunk snapshot loads back and compacts the log it covers', async (s) => {
    await s.write({ hardState: null, entries: makeEntries(1, 20, 1) })
    const chunks = [bytes(1000, 1), bytes(1, 2), bytes(0, 3), bytes(5000, 4)]
    await s.saveSnapshot(meta(10, 1), chunksOf(...chunks))
    const loaded = await s.loadSnapshot()
    assert.ok(loaded !== null)
    assert.deepEqual(loaded.meta, meta(10, 1))
    assert.deepEqual((await collect(loaded.chunks)).flat(), chunks.flatMap((c) => Array.from(c)))
    const state = await s.load()
    assert.deepEqual(state.snapshot, meta(10, 1))
    assertEntriesEqual(state.entries, makeEntries(11, 10, 1))
    await assertRejectsWith(s.entries(10, 12), 'STORAGE_INVALID_RANGE')
    assertEntriesEqual(await s.entries(11, 21), makeEntries(11, 10, 1))
    await assertRejectsWith(s.write({ hardState: null, truncateFrom: 10, entries: [] }), 'STORAGE_INVALID_RANGE')
  })

  // A node stores a snapshot while it goes on appending (RaftNodeOptions backgroundSnapshots):
  // writes made while the chunks stream must all be kept, and the snapshot compacts only the
  // entries it covers, wherever the writes fell between its chunks.
  withStorage('entries written while a snapshot streams are kept; the snapshot compacts only what it covers', async (s) => {
    await s.write({ hardState: null, entries: makeEntries(1, 20, 1) })
    const writes: Array<Promise<void>> = []
    const chunks = [bytes(100, 1), bytes(3000, 2), bytes(7, 3)]
    async function * streamWithWrites (): AsyncGenerator<Uint8Array> {
      yield chunks[0]!
      writes.push(s.write({ hardState: { term: 1, vote: null, commit: 12 }, entries: makeEntries(21, 5, 1) }))
      yield chunks[1]!
      writes.push(s.write({ hardState: null, entries: makeEntries(26, 1, 1) }))
      yield chunks[2]!
    }
    await s.saveSnapshot(meta(10, 1), streamWithWrites())
    await Promise.all(writes)
    await s.write({ hardState: null, entries: makeEntries(27, 2, 1) })
    const check = async (storage: RaftStorage): Promise<void> => {
      const state = await storage.load()
      assert.deepEqual(state.snapshot, meta(10, 1))
      assert.deepEqual(state.hardState, { term: 1, vote: null, commit: 12 })
      assertEntriesEqual(state.entries, makeEntries(11, 18, 1))
      const loaded = await storage.loadSnapshot()
      assert.deepEqual((await collect(loaded!.chunks)).flat(), chunks.flatMap((c) => Array.from(c)))
    }
    await check(s)
    if (reopen === undefined) return
    const again = await reopened(s)
    await check(again)
    return again
  })

  withStorage('a newer snapshot replaces the old one; an older one is refused', async (s) => {
    await s.write({ hardState: null, entries: makeEntries(1, 20, 1) })
    await s.saveSnapshot(meta(10, 1), chunksOf(bytes(10, 1), bytes(10, 2)))
    await s.saveSnapshot(meta(15, 1), chunksOf(bytes(3, 9)))
    const loaded = await s.loadSnapshot()
    assert.deepEqual(loaded?.meta, meta(15, 1))
    assert.deepEqual(await collect(loaded!.chunks), [Array.from(bytes(3, 9))])
    await assertRejectsWith(s.saveSnapshot(meta(12, 1), chunksOf(bytes(3, 1))), 'STORAGE_INVALID_RANGE')
    assertEntriesEqual((await s.load()).entries, makeEntries(16, 5, 1))
  })

  withStorage('a snapshot past the end of the log empties it and the log resumes after it', async (s) => {
    await s.write({ hardState: null, entries: makeEntries(1, 5, 1) })
    await s.saveSnapshot(meta(30, 4), chunksOf(bytes(64, 1)))
    const state = await s.load()
    assert.deepEqual(state.snapshot, meta(30, 4))
    assert.deepEqual(state.entries, [])
    await assertRejectsWith(s.write({ hardState: null, entries: makeEntries(6, 1, 4) }), 'STORAGE_INVALID_RANGE')
    await s.write({ hardState: null, entries: makeEntries(31, 2, 4) })
    assertEntriesEqual((await s.load()).entries, makeEntries(31, 2, 4))
  })

  withStorage('compact() accepts indices the snapshot covers and refuses anything past it', async (s) => {
    await s.write({ hardState: null, entries: makeEntries(1, 10, 1) })
    await assertRejectsWith(s.compact(3), 'STORAGE_INVALID_RANGE')
    await s.saveSnapshot(meta(5, 1), chunksOf(bytes(8, 1)))
    await s.compact(5)
    await s.compact(2)
    await assertRejectsWith(s.compact(6), 'STORAGE_INVALID_RANGE')
    assertEntriesEqual((await s.load()).entries, makeEntries(6, 5, 1))
  })

  withStorage('a saved snapshot loads with its byte length and the SHA-256 digest of its whole stream', async (s) => {
    await s.write({ hardState: null, entries: makeEntries(1, 4, 1) })
    const chunks = [bytes(100, 1), bytes(0, 2), bytes(33, 3)]
    await s.saveSnapshot(meta(3, 1), chunksOf(...chunks))
    const loaded = await s.loadSnapshot()
    assert.equal(loaded?.bytes, 133)
    assert.deepEqual(Array.from(loaded?.digest ?? []), sha256(...chunks))
  })

  withStorage('staged snapshot chunks read back from any chunk boundary, with their identity and byte count', async (s) => {
    await s.write({ hardState: null, entries: makeEntries(1, 5, 1) })
    assert.equal(await s.stagedSnapshot(), null)
    assert.deepEqual(await collect(s.readStagedSnapshot()), [])
    const id = identity(20, 'n2', 7)
    await stageAll(s, id, STAGED)
    const staged = await s.stagedSnapshot()
    assert.deepEqual({ ...staged, digest: Array.from(staged!.digest) }, { ...id, digest: Array.from(id.digest), bytes: 1051 })
    let boundary = 0
    for (let i = 0; i <= STAGED.length; i++) {
      const rest = STAGED.slice(i).flatMap((c) => Array.from(c))
      assert.deepEqual((await collect(s.readStagedSnapshot(boundary))).flat(), rest, `from byte ${boundary}`)
      boundary += STAGED[i]?.byteLength ?? 0
    }
    await assert.rejects(collect(s.readStagedSnapshot(10)), (err: unknown) => isQuorateError(err, 'STORAGE_INVALID_RANGE'))
    await assert.rejects(collect(s.readStagedSnapshot(1052)), (err: unknown) => isQuorateError(err, 'STORAGE_INVALID_RANGE'))
    // Staging touches neither the stored snapshot nor the log.
    assert.equal(await s.loadSnapshot(), null)
    assertEntriesEqual((await s.load()).entries, makeEntries(1, 5, 1))
  })

  withStorage('a staged chunk must continue the same identity at its staged end; offset 0 starts afresh', async (s) => {
    const id = identity(20, 'n2', 7)
    await stageAll(s, id, STAGED.slice(0, 2))
    await assertRejectsWith(s.stageSnapshotChunk(id, 300, bytes(5, 9)), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.stageSnapshotChunk(id, 302, bytes(5, 9)), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.stageSnapshotChunk(identity(20, 'n3', 7), 301, bytes(5, 9)), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.stageSnapshotChunk(identity(20, 'n2', 8), 301, bytes(5, 9)), 'STORAGE_INVALID_RANGE')
    await assertRejectsWith(s.stageSnapshotChunk(identity(21, 'n2', 7), 301, bytes(5, 9)), 'STORAGE_INVALID_RANGE')
    assert.equal((await s.stagedSnapshot())?.bytes, 301, 'refused chunks change nothing')
    const other = identity(25, 'n3', 1)
    await s.stageSnapshotChunk(other, 0, bytes(40, 6))
    const staged = await s.stagedSnapshot()
    assert.equal(staged?.from, 'n3')
    assert.equal(staged?.bytes, 40)
    assert.deepEqual(await collect(s.readStagedSnapshot()), [Array.from(bytes(40, 6))])
  })

  withStorage('a discarded staged snapshot is gone and the stored one is untouched', async (s) => {
    await s.write({ hardState: null, entries: makeEntries(1, 10, 1) })
    await s.saveSnapshot(meta(4, 1), chunksOf(bytes(10, 1)))
    await stageAll(s, identity(9, 'n2', 3), STAGED)
    await s.discardStagedSnapshot()
    await s.discardStagedSnapshot()
    assert.equal(await s.stagedSnapshot(), null)
    assert.deepEqual(await collect(s.readStagedSnapshot()), [])
    const loaded = await s.loadSnapshot()
    assert.deepEqual(loaded?.meta, meta(4, 1))
    assert.deepEqual(await collect(loaded!.chunks), [Array.from(bytes(10, 1))])
    assertEntriesEqual((await s.load()).entries, makeEntries(5, 6, 1))
  })

  withStorage('an installed staged snapshot is the stored snapshot, with its digest, and compacts the log it covers', async (s) => {
    await s.write({ hardState: null, entries: makeEntries(1, 10, 1) })
    await assertRejectsWith(s.installStagedSnapshot(), 'STORAGE_INVALID_RANGE')
    await s.saveSnapshot(meta(2, 1), chunksOf(bytes(10, 1)))
    const id = { meta: meta(6, 1), from: 'n2', digest: Uint8Array.from(sha256(...STAGED)) }
    await stageAll(s, id, STAGED)
    await s.installStagedSnapshot()
    assert.equal(await s.stagedSnapshot(), null)
    const loaded = await s.loadSnapshot()
    assert.deepEqual(loaded?.meta, meta(6, 1))
    assert.equal(loaded?.bytes, 1051)
    assert.deepEqual(Array.from(loaded!.digest!), sha256(...STAGED))
    assert.deepEqual((await collect(loaded!.chunks)).flat(), STAGED.flatMap((c) => Array.from(c)))
    const state = await s.load()
    assert.deepEqual(state.snapshot, meta(6, 1))
    assertEntriesEqual(state.entries, makeEntries(7, 4, 1))
    // An older staged snapshot is refused at install (and already when staged).
    await assertRejectsWith(s.stageSnapshotChunk(identity(5, 'n2', 1), 0, bytes(3, 1)), 'STORAGE_INVALID_RANGE')
  })

  test(`${name}: open and close are idempotent and safe to race; a closed storage rejects NODE_NOT_OPEN`, async () => {
    const s = await create()
    await Promise.all([s.open(), s.open()])
    assert.equal(s.status, 'open')
    await s.write({ hardState: null, entries: makeEntries(1, 1, 1) })
    await Promise.all([s.close(), s.close()])
    assert.equal(s.status, 'closed')
    await s.close()
    await assertRejectsWith(s.load(), 'NODE_NOT_OPEN')
    await assertRejectsWith(s.write({ hardState: null, entries: makeEntries(2, 1, 1) }), 'NODE_NOT_OPEN')
    await assertRejectsWith(s.entries(1, 2), 'NODE_NOT_OPEN')
    await assertRejectsWith(s.saveSnapshot(meta(1, 1), chunksOf()), 'NODE_NOT_OPEN')
    await assertRejectsWith(s.loadSnapshot(), 'NODE_NOT_OPEN')
    await assertRejectsWith(s.compact(0), 'NODE_NOT_OPEN')
    await assertRejectsWith(s.stageSnapshotChunk(identity(1, 'n1', 1), 0, bytes(1, 1)), 'NODE_NOT_OPEN')
    await assertRejectsWith(s.stagedSnapshot(), 'NODE_NOT_OPEN')
    await assertRejectsWith(collect(s.readStagedSnapshot()), 'NODE_NOT_OPEN')
    await assertRejectsWith(s.discardStagedSnapshot(), 'NODE_NOT_OPEN')
    await assertRejectsWith(s.installStagedSnapshot(), 'NODE_NOT_OPEN')
    const raced = [s.open(), s.close(), s.open()]
    await Promise.all(raced)
    assert.equal(s.status, 'open')
    await s.close()
  })

  withStorage('10,000 entries round trip through load() and entries()', async (s) => {
    const all: Entry[] = []
    for (let from = 1; from <= 10_000; from += 1000) {
      const batch = makeEntries(from, 1000, 1 + Math.floor(from / 3000), 16)
      await s.write({ hardState: null, entries: batch }, { sync: from + 1000 > 10_000 })
      all.push(...batch)
    }
    assertEntriesEqual((await s.load()).entries, all)
    assertEntriesEqual(await s.entries(4000, 6001), all.slice(3999, 6000))
    if (reopen === undefined) return
    const again = await reopened(s)
    assertEntriesEqual((await again.load()).entries, all)
    return again
  })

  if (reopen === undefined) return

  withStorage('synced hard state, log and snapshot survive close and reopen', async (s) => {
    await s.write({ hardState: { term: 1, vote: 'n1', commit: 0 }, entries: makeEntries(1, 12, 1) })
    await s.write({ hardState: { term: 2, vote: 'n3', commit: 8 }, truncateFrom: 9, entries: makeEntries(9, 2, 2) })
    await s.saveSnapshot(meta(6, 1), chunksOf(bytes(100, 1), bytes(50, 2)))
    const before = await s.load()
    const again = await reopened(s)
    const after = await again.load()
    assert.deepEqual(after.hardState, before.hardState)
    assert.deepEqual(after.snapshot, meta(6, 1))
    assertEntriesEqual(after.entries, [...makeEntries(7, 2, 1), ...makeEntries(9, 2, 2)])
    const snap = await again.loadSnapshot()
    assert.deepEqual((await collect(snap!.chunks)).flat(), [...Array.from(bytes(100, 1)), ...Array.from(bytes(50, 2))])
    // The reopened storage knows where its log ends.
    await assertRejectsWith(again.write({ hardState: null, entries: makeEntries(10, 1, 2) }), 'STORAGE_INVALID_RANGE')
    await again.write({ hardState: null, entries: makeEntries(11, 1, 2) })
    assertEntriesEqual(await again.entries(7, 12), [...makeEntries(7, 2, 1), ...makeEntries(9, 2, 2), ...makeEntries(11, 1, 2)])
    return again
  })

  withStorage('a staged snapshot survives close and reopen, continues where it ended, and installs', async (s) => {
    await s.write({ hardState: { term: 2, vote: 'n2', commit: 3 }, entries: makeEntries(1, 8, 1) })
    await s.saveSnapshot(meta(2, 1), chunksOf(bytes(10, 1)))
    const id = { meta: meta(6, 1), from: 'n2', digest: Uint8Array.from(sha256(...STAGED)) }
    await stageAll(s, id, STAGED.slice(0, 3))
    let again = await reopened(s)
    const staged = await again.stagedSnapshot()
    assert.equal(staged?.bytes, 301)
    assert.equal(staged?.from, 'n2')
    assert.deepEqual(staged?.meta, meta(6, 1))
    assert.deepEqual(Array.from(staged!.digest), sha256(...STAGED))
    assert.deepEqual((await collect(again.readStagedSnapshot(300))).flat(), [...Array.from(STAGED[1]!), ...Array.from(STAGED[2]!)])
    await again.stageSnapshotChunk(id, 301, STAGED[3]!)
    await again.stageSnapshotChunk(id, 1001, STAGED[4]!)
    assert.equal((await again.loadSnapshot())?.meta.index, 2, 'the stored snapshot is still the old one')
    again = await reopened(again)
    await again.installStagedSnapshot()
    again = await reopened(again)
    const loaded = await again.loadSnapshot()
    assert.deepEqual(loaded?.meta, meta(6, 1))
    assert.equal(loaded?.bytes, 1051)
    assert.deepEqual(Array.from(loaded!.digest!), sha256(...STAGED))
    assert.deepEqual((await collect(loaded!.chunks)).flat(), STAGED.flatMap((c) => Array.from(c)))
    assert.equal(await again.stagedSnapshot(), null)
    assertEntriesEqual((await again.load()).entries, makeEntries(7, 2, 1))
    return again
  })
}

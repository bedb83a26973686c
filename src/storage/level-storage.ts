/**
 * RaftStorage over any abstract-level database: classic-level (LevelDB) on disk, memory-level
 * in memory, or a sublevel of a database the application already uses.
 *
 * Everything lives in one sublevel (binary keys, see storage-codec.ts), and every mutation is
 * ONE chained batch: truncating a conflicting suffix, appending, the hard state, switching a
 * snapshot and compacting the log it covers each commit atomically or not at all. A failed
 * write makes the storage refuse all further writes (fail-stop): after an fsync error nothing
 * is known about what reached the disk, so the node must stop and restart from what did.
 *
 * @example
 * const storage = new LevelStorage({ location: './data/raft' })
 * await storage.open()
 * const { hardState, snapshot, entries } = await storage.load()
 */
import type { AbstractChainedBatch, AbstractLevel, AbstractSublevel } from 'abstract-level'
import { QuorateError, isQuorateError, throwIfAborted } from '../errors.js'
import { createHash } from 'node:crypto'
import type {
  ComponentStatus, LoadedSnapshot, RaftStorage, SnapshotStageIdentity, StagedSnapshot, StorageBatch, StoredState, WriteOptions
} from './storage.js'
import {
  ENTRY_KEY_BYTES, ENTRY_TAG, HARD_STATE_KEY, SNAPSHOT_CHUNK_TAG, SNAPSHOT_META_KEY, SNAPSHOT_STAGE_KEY,
  type SnapshotPointer, type StagePointer, corrupt, decodeEntry, decodeHardState, decodeSnapshotChunk, decodeSnapshotPointer,
  decodeStagePointer, encodeEntry, encodeHardState, encodeSnapshotChunk, encodeSnapshotPointer, encodeStagePointer,
  entryKey, entryKeyIndex, snapshotChunkKey
} from './codec.js'
import { writeU64 } from '../util/bytes.js'
import { EntryScratch, reusable } from './entry-scratch.js'
import { Lifecycle } from '../util/lifecycle.js'
import { checkKnownKeys } from '../util/validate.js'
import {
  DEFAULT_SYNC, LogBounds, assertSnapshotMeta, checkBatch, checkCompact, checkMaxBytes,
  checkReadRange, checkStageChunk, checkStagedRead, copyMeta, copyStageIdentity, invalidRange, notOpen, stoppedError, writeFailed
} from './validation.js'
import type { Entry, HardState, SnapshotMeta } from '../raft/types.js'
import { entrySize } from '../raft/types.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyLevel = AbstractLevel<any, any, any>
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type RaftLevel = AbstractSublevel<any, any, Buffer, Buffer>
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ChainedBatch = AbstractChainedBatch<any, any, any>

export interface LevelStorageOptions {
  /**
   * An abstract-level database (or sublevel) to store into. It is opened if needed and left
   * open on close(): the application owns it. Exactly one of `db` and `location` is required.
   */
  readonly db?: AnyLevel
  /**
   * Directory of a classic-level (LevelDB) database that the storage creates, opens and
   * closes itself.
   */
  readonly location?: string
  /**
   * Name of the sublevel everything is stored under, so one database can hold other data or
   * several nodes' storages. ASCII `#`..`~`.
   * @default 'raft'
   */
  readonly sublevel?: string
  /**
   * saveSnapshot() writes chunks in unsynced staging batches of about this many bytes before
   * the one batch that switches to the new snapshot.
   * @default 4194304 (4 MiB)
   */
  readonly snapshotBatchBytes?: number
}

export const DEFAULT_SUBLEVEL = 'raft'
export const DEFAULT_SNAPSHOT_BATCH_BYTES = 4 * 1024 * 1024
/** Entries fetched per iterator round trip. */
const READ_BATCH_ENTRIES = 1024
/** Keys and values on the hot path are Buffers already; 'buffer' encodings pass them through. */
const ROOT_OPS = Object.freeze({ keyEncoding: 'buffer', valueEncoding: 'buffer' })
const DEFAULT_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 })
const SUBLEVEL_NAME = /^[\x23-\x7e]+$/
const ENTRY_RANGE_END = Buffer.from([ENTRY_TAG + 1])
/** Bytes of snapshot chunks fetched per iterator round trip, about (at least one chunk). */
const READ_PAGE_BYTES = 1024 * 1024
/** Chunks per round trip when their size is unknown (a pointer written by an older version). */
const READ_PAGE_CHUNKS = 16

/** Chunks per iterator round trip so that a page holds about READ_PAGE_BYTES. */
function chunksPerRead (bytes: number, chunkCount: number): number {
  if (bytes < 0 || chunkCount === 0) return READ_PAGE_CHUNKS
  return Math.max(1, Math.min(READ_PAGE_CHUNKS, Math.floor(READ_PAGE_BYTES / Math.max(1, bytes / chunkCount))))
}

/** Generations cycle through 1..GENERATION_LIMIT, leaving generation + 1 a valid u32 for range ends. */
const GENERATION_LIMIT = 0xffff_fffe

function optionsInvalid (message: string): QuorateError {
  return new QuorateError('OPTIONS_INVALID', message)
}

const LEVEL_STORAGE_OPTION_KEYS: readonly string[] = Object.keys({
  db: true, location: true, sublevel: true, snapshotBatchBytes: true
} satisfies Record<keyof LevelStorageOptions, true>)

export function validateLevelStorageOptions (options: LevelStorageOptions): void {
  if (typeof options !== 'object' || options === null) throw optionsInvalid('LevelStorage options must be an object')
  checkKnownKeys(options, 'LevelStorageOptions', LEVEL_STORAGE_OPTION_KEYS)
  const { db, location, sublevel, snapshotBatchBytes } = options
  if ((db === undefined) === (location === undefined)) {
    throw optionsInvalid('LevelStorage needs exactly one of options.db and options.location')
  }
  if (db !== undefined && (typeof db !== 'object' || db === null ||
      typeof db.sublevel !== 'function' || typeof db.batch !== 'function')) {
    throw optionsInvalid('options.db must be an abstract-level database')
  }
  if (location !== undefined && (typeof location !== 'string' || location.length === 0)) {
    throw optionsInvalid('options.location must be a non-empty directory path')
  }
  if (sublevel !== undefined && (typeof sublevel !== 'string' || !SUBLEVEL_NAME.test(sublevel))) {
    throw optionsInvalid('options.sublevel must be a non-empty string of ASCII characters # to ~')
  }
  if (snapshotBatchBytes !== undefined && (!Number.isSafeInteger(snapshotBatchBytes) || snapshotBatchBytes <= 0)) {
    throw optionsInvalid('options.snapshotBatchBytes must be a positive integer')
  }
}

export class LevelStorage implements RaftStorage {
  readonly #userDb: AnyLevel | undefined
  readonly #location: string | undefined
  readonly #sublevelName: string
  readonly #snapshotBatchBytes: number
  readonly #lifecycle = new Lifecycle('storage')
  readonly #bounds = new LogBounds()

  #db: AnyLevel | null = null
  #sub: RaftLevel | null = null
  /** Chained batches go to the root database: a sublevel's own chained batch is an array batch in disguise. */
  #root: AnyLevel | null = null
  #opOptions: { sublevel: RaftLevel } | null = null
  /** The sublevel's full key prefix on the root database (hot-path writes skip the sublevel layer). */
  #prefix: Buffer | null = null
  /**
   * Options for puts on the root database: none when its default encodings are already
   * buffers (the database LevelStorage creates itself), which spares abstract-level an options
   * spread and two encoding lookups per entry; ROOT_OPS for a user database with other defaults.
   */
  #rootOps: typeof ROOT_OPS | undefined = ROOT_OPS
  #rootHardStateKey: Buffer | null = null
  /** Key and value buffers reused entry after entry; only on the classic-level created here (entry-scratch.ts says why). */
  #scratch: EntryScratch | null = null
  #snapshot: SnapshotPointer | null = null
  /** The staged (incoming) snapshot, whose chunks live under their own generation. */
  #stage: StagePointer | null = null
  #nextGeneration = 1
  /** Mutations run one at a time, in call order, so bounds checks see the previous write. */
  #writeTail: Promise<void> = Promise.resolve()
  /** Snapshot saves, one after another; each streams beside the log writes (#writeTail). */
  #snapshotTail: Promise<void> = Promise.resolve()
  /** The generation a save is streaming into, reserved so staging cannot pick it. */
  #savingGeneration = 0
  #failure: QuorateError | null = null

  constructor (options: LevelStorageOptions) {
    validateLevelStorageOptions(options)
    this.#userDb = options.db
    this.#location = options.location
    this.#sublevelName = options.sublevel ?? DEFAULT_SUBLEVEL
    this.#snapshotBatchBytes = options.snapshotBatchBytes ?? DEFAULT_SNAPSHOT_BATCH_BYTES
  }

  get status (): ComponentStatus { return this.#lifecycle.status }

  open (options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#lifecycle.open(async () => await this.#open(options.signal), options.signal)
  }

  close (): Promise<void> {
    return this.#lifecycle.close(async () => await this.#close())
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  async #open (signal: AbortSignal | undefined): Promise<void> {
    try {
      const db = this.#userDb ?? await createClassicLevel(this.#location as string)
      this.#db = db
      await db.open()
      throwIfAborted(signal)
      const sub = db.sublevel<Buffer, Buffer>(this.#sublevelName, { keyEncoding: 'buffer', valueEncoding: 'buffer' }) as RaftLevel
      await sub.open()
      this.#sub = sub
      this.#root = sub.db as AnyLevel
      this.#opOptions = { sublevel: sub }
      this.#prefix = sub.prefixKey(Buffer.alloc(0), 'buffer', false)
      this.#rootOps = encodesBuffers(this.#root) ? undefined : ROOT_OPS
      this.#rootHardStateKey = Buffer.concat([this.#prefix, HARD_STATE_KEY])
      this.#scratch = this.#userDb === undefined ? new EntryScratch(this.#prefix) : null
      await this.#recoverBounds(sub)
      throwIfAborted(signal)
      await this.#removeOrphanChunks(sub)
      this.#failure = null
    } catch (err) {
      await this.#release()
      throw this.#readError(err)
    }
  }

  async #close (): Promise<void> {
    await this.#snapshotTail
    await this.#writeTail
    await this.#release()
  }

  async #release (): Promise<void> {
    const sub = this.#sub
    const db = this.#db
    this.#sub = null
    this.#root = null
    this.#opOptions = null
    this.#prefix = null
    this.#rootHardStateKey = null
    this.#scratch = null
    this.#db = null
    if (this.#userDb === undefined) await db?.close()
    else await sub?.close()
  }

  /** Bounds come from the snapshot pointer and the last entry key; load() checks the rest. */
  async #recoverBounds (sub: RaftLevel): Promise<void> {
    const pointerValue = await sub.get(SNAPSHOT_META_KEY)
    const pointer = pointerValue === undefined ? null : decodeSnapshotPointer(pointerValue)
    this.#snapshot = pointer
    const stageValue = await sub.get(SNAPSHOT_STAGE_KEY)
    this.#stage = stageValue === undefined ? null : decodeStagePointer(stageValue)
    this.#nextGeneration = (Math.max(pointer?.generation ?? 0, this.#stage?.generation ?? 0) % GENERATION_LIMIT) + 1
    const snapshotIndex = pointer?.meta.index ?? 0
    const lastKeys = await sub.keys({ gte: Buffer.from([ENTRY_TAG]), lt: ENTRY_RANGE_END, reverse: true, limit: 1 }).all()
    const lastKey = lastKeys[0]
    let last = snapshotIndex
    if (lastKey !== undefined) {
      const index = entryKeyIndex(lastKey)
      if (index < 0) throw corrupt('log key', { key: lastKey.toString('hex') })
      last = Math.max(index, snapshotIndex)
    }
    this.#bounds.reset(snapshotIndex, last)
  }

  /**
   * Chunks of a snapshot whose save never switched over (a crash mid-save), and chunks of a
   * staged snapshot past its durable count: every chunk outside the stored and the staged
   * snapshot's generations and counts.
   */
  async #removeOrphanChunks (sub: RaftLevel): Promise<void> {
    const kept = [this.#snapshot, this.#stage].filter((p) => p !== null).sort((a, b) => a.generation - b.generation)
    const ranges: Array<{ gte: Buffer, lt: Buffer }> = []
    let from: Buffer = Buffer.from([SNAPSHOT_CHUNK_TAG])
    for (const p of kept) {
      ranges.push({ gte: from, lt: snapshotChunkKey(p.generation, 0) })
      from = snapshotChunkKey(p.generation, p.chunkCount)
    }
    ranges.push({ gte: from, lt: Buffer.from([SNAPSHOT_CHUNK_TAG + 1]) })
    const batch = this.#batch()
    for (const range of ranges) {
      for (const key of await sub.keys(range).all()) batch.del(key, this.#opOptions!)
    }
    if (batch.length === 0) return await batch.close()
    await this.#commit(batch, true)
  }

  /** A fresh key (the batch may keep it) for entry `index`, prefixed for the root database. */
  #rootEntryKey (index: number): Buffer {
    const prefix = this.#prefix!
    const at = prefix.byteLength
    const key = Buffer.allocUnsafe(at + ENTRY_KEY_BYTES)
    key.set(prefix, 0)
    // fillEntryKey's layout, written in place: no scratch key to copy from.
    key[at] = ENTRY_TAG
    writeU64(key, index, at + 1)
    return key
  }

  #batch (): ChainedBatch {
    return (this.#root as AnyLevel).batch()
  }

  /** Writes a batch; any failure is fatal to the storage (fail-stop). */
  async #commit (batch: ChainedBatch, sync: boolean): Promise<void> {
    try {
      await batch.write({ sync } as object)
    } catch (err) {
      this.#failure = writeFailed(err)
      throw this.#failure
    }
  }

  /** Runs a mutation after the previous one, once the storage is known open and healthy. */
  #mutate (run: () => Promise<void>): Promise<void> {
    if (!this.#lifecycle.isOpen) return Promise.reject(notOpen())
    const result = this.#writeTail.then(async () => {
      if (this.#failure !== null) throw stoppedError(this.#failure)
      this.#lifecycle.assertStillOpen()
      await run()
    })
    this.#writeTail = result.catch(() => {})
    return result
  }

  write (batch: StorageBatch, options: WriteOptions = {}): Promise<void> {
    return this.#mutate(async () => await this.#write(batch, options.sync ?? DEFAULT_SYNC))
  }

  async #write (batch: StorageBatch, sync: boolean): Promise<void> {
    const bounds = this.#bounds
    const from = checkBatch(batch, bounds)
    const entries = batch.entries
    const hardState = batch.hardState
    const newLast = from + entries.length - 1
    if (entries.length === 0 && hardState == null && from > bounds.last) return
    const chained = this.#batch()
    try {
      // The hot path writes full (prefixed) keys on the root database: going through the
      // `sublevel` option makes abstract-level re-prefix and re-encode every key, which cost
      // about a third of the append rate (measured: 1.1M vs 0.8M puts/s on classic-level).
      // Entries from..newLast are overwritten by the puts; only a longer old suffix needs deleting.
      // undefined is abstract-level's "no options"; its typings only list the object form.
      const ops = this.#rootOps as typeof ROOT_OPS
      const scratch = this.#scratch !== null && reusable(this.#root as AnyLevel) ? this.#scratch : null
      if (scratch !== null) {
        for (let i = newLast + 1; i <= bounds.last; i++) chained.del(scratch.key(i), ops)
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i] as Entry
          chained.put(scratch.key(entry.index), scratch.value(entry), ops)
        }
      } else {
        for (let i = newLast + 1; i <= bounds.last; i++) chained.del(this.#rootEntryKey(i), ops)
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i] as Entry
          chained.put(this.#rootEntryKey(entry.index), encodeEntry(entry), ops)
        }
      }
      if (hardState != null) chained.put(this.#rootHardStateKey!, encodeHardState(hardState), ops)
    } catch (err) {
      await chained.close()
      this.#failure = writeFailed(err)
      throw this.#failure
    }
    await this.#commit(chained, sync)
    bounds.last = newLast
  }

  async load (): Promise<StoredState> {
    const sub = this.#openSub()
    try {
      const hardStateValue = await sub.get(HARD_STATE_KEY)
      const hardState = hardStateValue === undefined ? DEFAULT_HARD_STATE : decodeHardState(hardStateValue)
      const pointerValue = await sub.get(SNAPSHOT_META_KEY)
      const snapshot = pointerValue === undefined ? null : decodeSnapshotPointer(pointerValue).meta
      const first = (snapshot?.index ?? 0) + 1
      const entries = await this.#readEntries(sub, first, ENTRY_RANGE_END, Infinity, Infinity)
      return { hardState, snapshot, entries }
    } catch (err) {
      throw this.#readError(err)
    }
  }

  async entries (lo: number, hi: number, options: { maxBytes?: number } = {}): Promise<Entry[]> {
    const sub = this.#openSub()
    checkReadRange(lo, hi, this.#bounds)
    const maxBytes = checkMaxBytes(options.maxBytes)
    if (lo === hi) return []
    try {
      return await this.#readEntries(sub, lo, entryKey(hi), hi - lo, maxBytes)
    } catch (err) {
      throw this.#readError(err)
    }
  }

  /**
   * Reads contiguous entries from index `lo` up to the key `end` (exclusive), at most `limit`
   * of them, stopping before the entry that would take the total past `maxBytes` (the first
   * entry always counts). A gap in the keys is corruption, and so is running out of keys
   * before `limit` when the limit is finite (the bounds promised those entries).
   */
  async #readEntries (sub: RaftLevel, lo: number, end: Buffer, limit: number, maxBytes: number): Promise<Entry[]> {
    const out: Entry[] = []
    let bytes = 0
    let expected = lo
    const iterator = sub.iterator({ gte: entryKey(lo), lt: end })
    try {
      while (out.length < limit) {
        const page = await iterator.nextv(Math.min(limit - out.length, READ_BATCH_ENTRIES))
        if (page.length === 0) {
          if (limit !== Infinity) throw this.#missing(expected, lo, lo + limit)
          break
        }
        for (let i = 0; i < page.length; i++) {
          const [key, value] = page[i]!
          const index = entryKeyIndex(key)
          if (index !== expected) throw corrupt('log', { index: expected, reason: 'missing entry' })
          const entry = decodeEntry(index, value)
          bytes += entrySize(entry)
          if (bytes > maxBytes && out.length > 0) return out
          out.push(entry)
          expected++
        }
      }
      return out
    } finally {
      await iterator.close()
    }
  }

  /** An entry the bounds promised was absent: a race with truncation, or lost data. */
  #missing (index: number, lo: number, hi: number): QuorateError {
    const bounds = this.#bounds
    if (lo >= bounds.first && hi <= bounds.last + 1) return corrupt('log', { index, reason: 'missing entry' })
    return invalidRange(`Range ${lo}..${hi} is no longer in the stored log`, { lo, hi, first: bounds.first, last: bounds.last })
  }

  saveSnapshot (meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<void> {
    if (!this.#lifecycle.isOpen) return Promise.reject(notOpen())
    const result = this.#snapshotTail.then(async () => { await this.#saveSnapshot(meta, chunks, options.sync ?? DEFAULT_SYNC) })
    this.#snapshotTail = result.catch(() => {})
    return result
  }

  /**
   * Chunks go under a fresh generation in unsynced staging batches, written beside the log's
   * appends (those keys belong to this save alone), so a node storing a large snapshot goes on
   * persisting entries. Only the last batch waits its turn among the mutations: it switches the
   * pointer, deletes the old generation and the compacted entries, after checking the meta
   * against the log as it is then. A crash before that batch leaves the old snapshot whole
   * (open() removes the orphans); a save refused at the switch removes its own chunks.
   */
  async #saveSnapshot (meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>, sync: boolean): Promise<void> {
    if (this.#failure !== null) throw stoppedError(this.#failure)
    this.#lifecycle.assertStillOpen()
    assertSnapshotMeta(meta, this.#bounds)
    const generation = this.#freshGeneration()
    this.#savingGeneration = generation
    try {
      const { last, pointer } = await this.#stageChunks(generation, meta, chunks)
      await this.#mutate(async () => {
        try {
          assertSnapshotMeta(meta, this.#bounds) // the log may have moved while the chunks streamed
        } catch (err) {
          await last.close()
          await this.#dropChunks(generation, pointer.chunkCount)
          throw err
        }
        await this.#switchSnapshot(last, pointer, sync)
      })
    } finally {
      this.#savingGeneration = 0
    }
  }

  /**
   * Writes the chunks under `generation` in unsynced batches of about snapshotBatchBytes and
   * returns the last, uncommitted batch (the switch goes into it) and the pointer to store.
   */
  async #stageChunks (generation: number, meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<{ last: ChainedBatch, pointer: SnapshotPointer }> {
    const opOptions = this.#opOptions!
    let batch = this.#batch()
    let staged = 0
    let seq = 0
    let total = 0
    // The digest of the whole stream is computed here, once, so a sender never has to hold it.
    const hash = createHash('sha256')
    try {
      for await (const chunk of chunks) {
        if (!(chunk instanceof Uint8Array)) throw invalidRange('Snapshot chunks must be Uint8Arrays', { seq })
        const key = snapshotChunkKey(generation, seq++)
        batch.put(key, encodeSnapshotChunk(key, chunk), opOptions)
        hash.update(chunk)
        total += chunk.byteLength
        staged += chunk.byteLength
        if (staged >= this.#snapshotBatchBytes) {
          const full = batch
          batch = this.#batch()
          staged = 0
          // A log write beside this save may have failed the storage meanwhile.
          if (this.#failure !== null) throw stoppedError(this.#failure)
          await this.#commit(full, false)
        }
      }
    } catch (err) {
      await batch.close()
      if (isQuorateError(err)) throw err
      throw new QuorateError('STORAGE_WRITE_FAILED', 'Reading the snapshot chunks failed; the stored snapshot is unchanged', { cause: err })
    }
    return { last: batch, pointer: { generation, chunkCount: seq, meta: copyMeta(meta), bytes: total, digest: new Uint8Array(hash.digest()) } }
  }

  /** Deletes chunks 0..count-1 of `generation` (a save that did not switch over). */
  async #dropChunks (generation: number, count: number): Promise<void> {
    if (count === 0) return
    const batch = this.#batch()
    for (let s = 0; s < count; s++) batch.del(snapshotChunkKey(generation, s), this.#opOptions!)
    await this.#commit(batch, false)
  }

  /**
   * Adds to `batch` the switch to `pointer` (deleting the previous snapshot's chunks and the
   * entries it covers) and commits it: the one atomic step of saving or installing a snapshot.
   */
  async #switchSnapshot (batch: ChainedBatch, pointer: SnapshotPointer, sync: boolean): Promise<void> {
    const bounds = this.#bounds
    const opOptions = this.#opOptions!
    const meta = pointer.meta
    batch.put(SNAPSHOT_META_KEY, encodeSnapshotPointer(pointer), opOptions)
    const previous = this.#snapshot
    if (previous !== null) {
      for (let s = 0; s < previous.chunkCount; s++) batch.del(snapshotChunkKey(previous.generation, s), opOptions)
    }
    const compactTo = Math.min(meta.index, bounds.last)
    // Root keys without the sublevel option, as on the append path: through the option every
    // delete was re-prefixed by abstract-level (6-19% of a B2 node's CPU at c=256).
    const rootOps = this.#rootOps as typeof ROOT_OPS
    for (let i = bounds.first; i <= compactTo; i++) batch.del(this.#rootEntryKey(i), rootOps)
    await this.#commit(batch, sync)
    this.#snapshot = pointer
    bounds.reset(meta.index, Math.max(bounds.last, meta.index))
  }

  /** A generation used by neither the stored nor the staged snapshot. */
  #freshGeneration (): number {
    let g = this.#nextGeneration
    while (g === this.#snapshot?.generation || g === this.#stage?.generation || g === this.#savingGeneration) g = (g % GENERATION_LIMIT) + 1
    this.#nextGeneration = (g % GENERATION_LIMIT) + 1
    return g
  }

  // ------------------------------------------------------------ staged snapshots

  stageSnapshotChunk (identity: SnapshotStageIdentity, offset: number, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    return this.#mutate(async () => await this.#stageChunk(identity, offset, data, options.sync ?? DEFAULT_SYNC))
  }

  /** One batch: the chunk and the stage pointer that counts it (and, at offset 0, the old stage's removal). */
  async #stageChunk (identity: SnapshotStageIdentity, offset: number, data: Uint8Array, sync: boolean): Promise<void> {
    checkStageChunk(identity, offset, data, this.#stagedView(), this.#bounds)
    const opOptions = this.#opOptions!
    const batch = this.#batch()
    let stage = this.#stage
    if (offset === 0) {
      if (stage !== null) this.#deleteStageChunks(batch, stage)
      const { meta, from, digest } = copyStageIdentity(identity)
      stage = { generation: this.#freshGeneration(), chunkCount: 0, bytes: 0, meta, from, digest }
    }
    const key = snapshotChunkKey(stage!.generation, stage!.chunkCount)
    batch.put(key, encodeSnapshotChunk(key, data), opOptions)
    const next: StagePointer = { ...stage!, chunkCount: stage!.chunkCount + 1, bytes: stage!.bytes + data.byteLength }
    batch.put(SNAPSHOT_STAGE_KEY, encodeStagePointer(next), opOptions)
    await this.#commit(batch, sync)
    this.#stage = next
  }

  #deleteStageChunks (batch: ChainedBatch, stage: StagePointer): void {
    for (let s = 0; s < stage.chunkCount; s++) batch.del(snapshotChunkKey(stage.generation, s), this.#opOptions!)
  }

  #stagedView (): StagedSnapshot | null {
    const s = this.#stage
    return s === null ? null : { meta: s.meta, from: s.from, digest: s.digest, bytes: s.bytes }
  }

  async stagedSnapshot (): Promise<StagedSnapshot | null> {
    this.#openSub()
    const s = this.#stagedView()
    return s === null ? null : { ...s, meta: copyMeta(s.meta), digest: Uint8Array.from(s.digest) }
  }

  readStagedSnapshot (fromByte = 0): AsyncIterable<Uint8Array> {
    // Checked when iteration starts, so a bad call surfaces where the stream is read.
    const self = this
    return (async function * () {
      const sub = self.#openSub()
      const stage = self.#stage
      checkStagedRead(fromByte, stage?.bytes ?? 0)
      if (stage === null) return
      yield * self.#readFrom(self.#readChunks(sub, stage, () => self.#stage?.generation === stage.generation), fromByte)
    })()
  }

  /** Skips whole chunks up to `fromByte`, which must fall on a chunk boundary. */
  async * #readFrom (chunks: AsyncIterable<Uint8Array>, fromByte: number): AsyncGenerator<Uint8Array> {
    let at = 0
    for await (const chunk of chunks) {
      if (at >= fromByte) yield chunk
      else if (at + chunk.byteLength > fromByte) throw invalidRange(`Staged byte ${fromByte} is not a chunk boundary`, { fromByte })
      at += chunk.byteLength
    }
  }

  discardStagedSnapshot (options: WriteOptions = {}): Promise<void> {
    return this.#mutate(async () => {
      const stage = this.#stage
      if (stage === null) return
      const batch = this.#batch()
      this.#deleteStageChunks(batch, stage)
      batch.del(SNAPSHOT_STAGE_KEY, this.#opOptions!)
      await this.#commit(batch, options.sync ?? DEFAULT_SYNC)
      this.#stage = null
    })
  }

  installStagedSnapshot (options: WriteOptions = {}): Promise<void> {
    return this.#mutate(async () => {
      const stage = this.#stage
      if (stage === null) throw invalidRange('No staged snapshot to install', {})
      assertSnapshotMeta(stage.meta, this.#bounds)
      const batch = this.#batch()
      batch.del(SNAPSHOT_STAGE_KEY, this.#opOptions!)
      const { generation, chunkCount, meta, bytes, digest } = stage
      // The staged chunks become the stored snapshot where they are: nothing is copied.
      await this.#switchSnapshot(batch, { generation, chunkCount, meta, bytes, digest }, options.sync ?? DEFAULT_SYNC)
      this.#stage = null
    })
  }

  async loadSnapshot (): Promise<LoadedSnapshot | null> {
    const sub = this.#openSub()
    let pointer: SnapshotPointer | null
    try {
      const value = await sub.get(SNAPSHOT_META_KEY)
      pointer = value === undefined ? null : decodeSnapshotPointer(value)
    } catch (err) {
      throw this.#readError(err)
    }
    if (pointer === null) return null
    const chunks = this.#readChunks(sub, pointer, () => this.#snapshot?.generation === pointer.generation)
    return { meta: pointer.meta, chunks, bytes: pointer.bytes, digest: pointer.digest }
  }

  /** The chunks of one generation, in order; `current` says whether it is still in use. */
  async * #readChunks (sub: RaftLevel, pointer: { generation: number, chunkCount: number, bytes: number }, current: () => boolean): AsyncGenerator<Uint8Array> {
    const { generation, chunkCount } = pointer
    const perPage = chunksPerRead(pointer.bytes, chunkCount)
    const iterator = sub.iterator({ gte: snapshotChunkKey(generation, 0), lt: snapshotChunkKey(generation + 1, 0) })
    let seq = 0
    try {
      for (;;) {
        let page: Array<[Buffer, Buffer]>
        try {
          page = await iterator.nextv(perPage)
        } catch (err) {
          throw this.#readError(err)
        }
        if (page.length === 0) break
        for (const [key, value] of page) {
          // A staged generation may hold chunks past the count read here (still being staged).
          if (seq === chunkCount || !key.equals(snapshotChunkKey(generation, seq))) break
          yield decodeSnapshotChunk(key, value)
          seq++
        }
        if (seq === chunkCount) break
      }
      if (seq !== chunkCount) {
        if (!current()) {
          throw new QuorateError('STORAGE_READ_FAILED', 'The snapshot was replaced while it was being read')
        }
        throw corrupt('snapshot', { missingChunk: seq, chunkCount })
      }
    } finally {
      await iterator.close()
    }
  }

  /**
   * Only validates and orders: compact may not pass the stored snapshot (checkCompact), and
   * saveSnapshot() already removed every entry up to it in the batch that stored it.
   */
  compact (upTo: number, _options: WriteOptions = {}): Promise<void> {
    return this.#mutate(async () => { checkCompact(upTo, this.#bounds) })
  }

  #openSub (): RaftLevel {
    const sub = this.#sub
    if (sub === null || !this.#lifecycle.isOpen) throw notOpen()
    return sub
  }

  #readError (err: unknown): QuorateError {
    if (isQuorateError(err)) return err
    if (hasCode(err, 'LEVEL_LOCKED')) {
      // Said at the top: classic-level buries it two causes deep under "failed to open".
      return new QuorateError('STORAGE_LOCKED', `LevelStorage: the directory ${this.#location ?? '(db)'} is locked: another open database (another node or process) is using it`, { cause: err })
    }
    if (!this.#lifecycle.isOpen && this.#lifecycle.status !== 'opening') {
      return new QuorateError('NODE_CLOSED', 'The storage was closed during the read', { cause: err })
    }
    return new QuorateError('STORAGE_READ_FAILED', 'Reading from storage failed', { cause: err })
  }
}

/** Whether `db` encodes keys and values as buffers by default (so puts need no encoding options). */
function encodesBuffers (db: AnyLevel): boolean {
  return db.keyEncoding().format === 'buffer' && db.keyEncoding().name === 'buffer' &&
    db.valueEncoding().format === 'buffer' && db.valueEncoding().name === 'buffer'
}

async function createClassicLevel (location: string): Promise<AnyLevel> {
  // Imported on demand so that users of memory-level never load the native addon.
  const { ClassicLevel } = await import('classic-level')
  return new ClassicLevel<Buffer, Buffer>(location, { keyEncoding: 'buffer', valueEncoding: 'buffer' }) as AnyLevel
}

/** Whether `err` or an error in its cause chain carries `code` (abstract-level nests them). */
function hasCode (err: unknown, code: string): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === code) return true
  }
  return false
}

/**
 * An in-memory RaftStorage for the deterministic simulator that models a disk with a write
 * cache: a write with `sync: true` makes it and every earlier write durable (as an fsync of a
 * write-ahead log does); writes without sync stay volatile. `crash()` returns the storage a
 * restarted node would find: only the durable state.
 *
 * Every effect happens synchronously inside the call and promises settle in microtasks (no
 * timers), so one seed replays a simulation exactly. Faults: `failNextSync()`, a seeded
 * per-sync failure probability, and `corruptEntry()`.
 *
 * @example
 * let disk = new CrashStorage()
 * await disk.open()
 * await disk.write({ hardState: null, entries: [entry] }, { sync: false })
 * disk = disk.crash()          // the unsynced entry is gone
 * await disk.open()
 */
import { createHash } from 'node:crypto'
import { QuorateError } from '../errors.js'
import type {
  ComponentStatus, LoadedSnapshot, RaftStorage, SnapshotStageIdentity, StagedSnapshot, StorageBatch, StoredState, WriteOptions
} from '../storage/storage.js'
import { Lifecycle } from '../util/lifecycle.js'
import { checkBool, checkKnownKeys, checkObject } from '../util/validate.js'
import {
  DEFAULT_SYNC, LogBounds, assertSnapshotMeta, checkBatch, checkCompact, checkMaxBytes, checkReadRange,
  checkStageChunk, checkStagedRead, copyMeta, copyStageIdentity, fitCount, invalidRange, notOpen, stoppedError, writeFailed
} from '../storage/validation.js'
import type { Entry, HardState, SnapshotMeta } from '../raft/types.js'
import type { Random } from '../util/random.js'

export interface CrashStorageOptions {
  /**
   * Probability in [0, 1] that a sync write fails with STORAGE_WRITE_FAILED (after which the
   * storage is fail-stop, like LevelStorage).
   * @default 0
   */
  readonly syncFailureProbability?: number
  /** Randomness for syncFailureProbability; required when it is above 0. @default undefined */
  readonly random?: Random
  /**
   * Copy entry data on write, so a caller mutating its buffers afterwards cannot change what is
   * "on disk". Entries are immutable by contract in quorate, so benchmarks that want an
   * in-memory log without per-entry allocation turn this off. @default true
   */
  readonly copyEntries?: boolean
}

export const DEFAULT_SYNC_FAILURE_PROBABILITY = 0

export function validateCrashStorageOptions (options: CrashStorageOptions): void {
  const C = 'CrashStorageOptions'
  checkObject(options, C, '(options)')
  checkKnownKeys(options, C, Object.keys({ syncFailureProbability: true, random: true, copyEntries: true } satisfies Record<keyof CrashStorageOptions, true>))
  if (options.copyEntries !== undefined) checkBool(options.copyEntries, C, 'copyEntries')
  const p = options.syncFailureProbability
  if (p !== undefined && (typeof p !== 'number' || !(p >= 0 && p <= 1))) {
    throw new QuorateError('OPTIONS_INVALID', 'options.syncFailureProbability must be a number in [0, 1]')
  }
  if ((p ?? 0) > 0 && typeof options.random?.next !== 'function') {
    throw new QuorateError('OPTIONS_INVALID', 'options.random is required when options.syncFailureProbability is above 0')
  }
}

interface StoredSnapshot {
  readonly meta: SnapshotMeta
  readonly chunks: readonly Uint8Array[]
  readonly bytes: number
  readonly digest: Uint8Array
}

/** A staged (incoming) snapshot; replaced, never mutated, so durable and volatile states can share it. */
interface Stage {
  readonly identity: SnapshotStageIdentity
  readonly chunks: readonly Uint8Array[]
  readonly bytes: number
}

/** One state of the "disk": entries[i] has index snapshotIndex + 1 + i. */
interface DiskState {
  hardState: HardState
  snapshot: StoredSnapshot | null
  entries: Entry[]
  staged: Stage | null
}

type Mutation =
  | { readonly kind: 'write', readonly from: number, readonly entries: readonly Entry[], readonly hardState: HardState | null }
  | { readonly kind: 'snapshot', readonly snapshot: StoredSnapshot }
  | { readonly kind: 'stage', readonly identity: SnapshotStageIdentity, readonly offset: number, readonly data: Uint8Array }
  | { readonly kind: 'discardStage' }
  | { readonly kind: 'installStage' }

const EMPTY_STATE: DiskState = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [], staged: null }

function snapshotIndex (state: DiskState): number {
  return state.snapshot?.meta.index ?? 0
}

function cloneState (state: DiskState): DiskState {
  return { hardState: state.hardState, snapshot: state.snapshot, entries: state.entries.slice(), staged: state.staged }
}

function installSnapshot (state: DiskState, snapshot: StoredSnapshot): void {
  const first = snapshotIndex(state) + 1
  state.entries = state.entries.slice(Math.max(0, snapshot.meta.index - first + 1))
  state.snapshot = snapshot
}

function apply (state: DiskState, m: Mutation): void {
  switch (m.kind) {
    case 'write': {
      const first = snapshotIndex(state) + 1
      state.entries.length = m.from - first
      for (const e of m.entries) state.entries.push(e)
      if (m.hardState !== null) state.hardState = m.hardState
      return
    }
    case 'snapshot': return installSnapshot(state, m.snapshot)
    case 'stage': {
      const old = m.offset === 0 ? null : state.staged
      state.staged = { identity: m.identity, chunks: [...(old?.chunks ?? []), m.data], bytes: (old?.bytes ?? 0) + m.data.byteLength }
      return
    }
    case 'discardStage':
      state.staged = null
      return
    case 'installStage': {
      const st = state.staged!
      installSnapshot(state, { meta: st.identity.meta, chunks: st.chunks, bytes: st.bytes, digest: st.identity.digest })
      state.staged = null
    }
  }
}

function copyEntry (e: Entry): Entry {
  return { term: e.term, index: e.index, type: e.type, data: e.data.slice() }
}

const RESOLVED: Promise<void> = Promise.resolve()

export class CrashStorage implements RaftStorage {
  readonly #options: CrashStorageOptions
  readonly #lifecycle = new Lifecycle('storage')
  readonly #bounds = new LogBounds()
  /** What survives a crash. */
  #durable: DiskState = cloneState(EMPTY_STATE)
  /** What reads see: durable plus `#unsynced` applied in order. */
  #volatile: DiskState = cloneState(EMPTY_STATE)
  #unsynced: Mutation[] = []
  /** Indices whose stored bytes are "damaged"; rewriting or removing the entry heals it. */
  #corrupt = new Set<number>()
  #nextSyncFailure: unknown = undefined
  #failure: QuorateError | null = null
  #crashed = false

  constructor (options: CrashStorageOptions = {}) {
    validateCrashStorageOptions(options)
    this.#options = options
  }

  get status (): ComponentStatus { return this.#lifecycle.status }

  /** Number of writes not yet made durable by a sync. */
  get unsyncedWrites (): number { return this.#unsynced.length }

  /** The hard state a crash now would keep (read-only; for the simulator's durability checker). */
  get durableHardState (): HardState { return this.#durable.hardState }

  /** Bytes of the staged snapshot a crash now would keep (0 if none; for crash tests of the receiver). */
  get durableStagedBytes (): number { return this.#durable.staged?.bytes ?? 0 }

  /** Term of the durable entry at `index` (what a crash now would keep); -1 if there is none. */
  durableTerm (index: number): number {
    const d = this.#durable
    const snap = snapshotIndex(d)
    if (index === snap) return d.snapshot?.meta.term ?? 0
    const e = d.entries[index - snap - 1]
    return e === undefined ? -1 : e.term
  }

  open (options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#crashed) return Promise.reject(notOpen())
    // A reopened instance is a restarted process: it may try writing again.
    return this.#lifecycle.open(async () => { this.#failure = null }, options.signal)
  }

  close (): Promise<void> {
    return this.#lifecycle.close(async () => {})
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  /**
   * Simulates a power loss: this instance stops answering (NODE_NOT_OPEN) and the returned,
   * closed instance holds only what was synced, with the same options and corruptions.
   */
  crash (): CrashStorage {
    this.#crashed = true
    void this.close()
    const restarted = new CrashStorage(this.#options)
    restarted.#durable = this.#durable
    restarted.#volatile = cloneState(this.#durable)
    restarted.#syncBounds()
    const { first, last } = restarted.#bounds
    for (const index of this.#corrupt) {
      if (index >= first && index <= last) restarted.#corrupt.add(index)
    }
    return restarted
  }

  /** The next sync write (write, saveSnapshot) rejects with STORAGE_WRITE_FAILED, `error` as cause. */
  failNextSync (error: unknown = new Error('injected fsync failure')): void {
    this.#nextSyncFailure = error
  }

  /** Makes the stored entry at `index` fail its checksum on every later read (survives crash()). */
  corruptEntry (index: number): void {
    const b = this.#bounds
    if (!Number.isSafeInteger(index) || index < b.first || index > b.last) {
      throw invalidRange(`No stored entry ${String(index)} to corrupt`, { index, first: b.first, last: b.last })
    }
    this.#corrupt.add(index)
  }

  load (): Promise<StoredState> {
    try {
      this.#assertOpen()
      const v = this.#volatile
      const entries = v.entries.slice()
      this.#checkIntact(entries)
      return Promise.resolve({ hardState: v.hardState, snapshot: v.snapshot?.meta ?? null, entries })
    } catch (err) {
      return Promise.reject(err)
    }
  }

  entries (lo: number, hi: number, options: { maxBytes?: number } = {}): Promise<Entry[]> {
    try {
      this.#assertOpen()
      checkReadRange(lo, hi, this.#bounds)
      const maxBytes = checkMaxBytes(options.maxBytes)
      const all = this.#volatile.entries
      const start = lo - this.#bounds.first
      const out = all.slice(start, start + fitCount(all, start, hi - this.#bounds.first, maxBytes))
      this.#checkIntact(out)
      return Promise.resolve(out)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  write (batch: StorageBatch, options: WriteOptions = {}): Promise<void> {
    try {
      this.#assertWritable()
      const from = checkBatch(batch, this.#bounds)
      const entries = this.#options.copyEntries === false ? batch.entries.slice() : batch.entries.map(copyEntry)
      const oldLast = this.#bounds.last
      this.#commit({ kind: 'write', from, entries, hardState: batch.hardState ?? null }, options.sync ?? DEFAULT_SYNC)
      this.#heal(from, Math.max(oldLast, this.#bounds.last))
      return RESOLVED
    } catch (err) {
      return Promise.reject(err)
    }
  }

  async saveSnapshot (meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<void> {
    this.#assertWritable()
    assertSnapshotMeta(meta, this.#bounds)
    const copies: Uint8Array[] = []
    const hash = createHash('sha256')
    let bytes = 0
    for await (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array)) throw invalidRange('Snapshot chunks must be Uint8Arrays', { seq: copies.length })
      copies.push(chunk.slice())
      hash.update(chunk)
      bytes += chunk.byteLength
    }
    // The storage may have changed while the chunks were read.
    this.#assertWritable()
    assertSnapshotMeta(meta, this.#bounds)
    const snapshot: StoredSnapshot = { meta: copyMeta(meta), chunks: copies, bytes, digest: new Uint8Array(hash.digest()) }
    this.#commit({ kind: 'snapshot', snapshot }, options.sync ?? DEFAULT_SYNC)
    this.#heal(0, meta.index)
  }

  loadSnapshot (): Promise<LoadedSnapshot | null> {
    try {
      this.#assertOpen()
      const snapshot = this.#volatile.snapshot
      if (snapshot === null) return Promise.resolve(null)
      return Promise.resolve({ meta: snapshot.meta, chunks: yieldChunks(snapshot.chunks, 0), bytes: snapshot.bytes, digest: snapshot.digest.slice() })
    } catch (err) {
      return Promise.reject(err)
    }
  }

  stageSnapshotChunk (identity: SnapshotStageIdentity, offset: number, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    try {
      this.#assertWritable()
      checkStageChunk(identity, offset, data, this.#stagedView(this.#volatile), this.#bounds)
      const id = offset === 0 ? copyStageIdentity(identity) : this.#volatile.staged!.identity
      this.#commit({ kind: 'stage', identity: id, offset, data: data.slice() }, options.sync ?? DEFAULT_SYNC)
      return RESOLVED
    } catch (err) {
      return Promise.reject(err)
    }
  }

  stagedSnapshot (): Promise<StagedSnapshot | null> {
    try {
      this.#assertOpen()
      const view = this.#stagedView(this.#volatile)
      return Promise.resolve(view === null ? null : { ...copyStageIdentity(view), bytes: view.bytes })
    } catch (err) {
      return Promise.reject(err)
    }
  }

  readStagedSnapshot (fromByte = 0): AsyncIterable<Uint8Array> {
    const self = this
    return (async function * () {
      self.#assertOpen()
      const staged = self.#volatile.staged
      checkStagedRead(fromByte, staged?.bytes ?? 0)
      if (staged === null) return
      let at = 0
      let first = 0
      while (at < fromByte) at += staged.chunks[first++]!.byteLength
      if (at !== fromByte) throw invalidRange(`Staged byte ${fromByte} is not a chunk boundary`, { fromByte })
      yield * yieldChunks(staged.chunks, first)
    })()
  }

  discardStagedSnapshot (options: WriteOptions = {}): Promise<void> {
    try {
      this.#assertWritable()
      if (this.#volatile.staged !== null) this.#commit({ kind: 'discardStage' }, options.sync ?? DEFAULT_SYNC)
      return RESOLVED
    } catch (err) {
      return Promise.reject(err)
    }
  }

  installStagedSnapshot (options: WriteOptions = {}): Promise<void> {
    try {
      this.#assertWritable()
      const staged = this.#volatile.staged
      if (staged === null) throw invalidRange('No staged snapshot to install', {})
      assertSnapshotMeta(staged.identity.meta, this.#bounds)
      this.#commit({ kind: 'installStage' }, options.sync ?? DEFAULT_SYNC)
      this.#heal(0, staged.identity.meta.index)
      return RESOLVED
    } catch (err) {
      return Promise.reject(err)
    }
  }

  #stagedView (state: DiskState): StagedSnapshot | null {
    const st = state.staged
    return st === null ? null : { ...st.identity, bytes: st.bytes }
  }

  /** saveSnapshot() already removed everything a snapshot covers; this only validates. */
  compact (upTo: number, _options: WriteOptions = {}): Promise<void> {
    try {
      this.#assertWritable()
      checkCompact(upTo, this.#bounds)
      return RESOLVED
    } catch (err) {
      return Promise.reject(err)
    }
  }

  #commit (m: Mutation, sync: boolean): void {
    if (sync) this.#maybeFailSync()
    apply(this.#volatile, m)
    this.#unsynced.push(m)
    if (sync) {
      for (const pending of this.#unsynced) apply(this.#durable, pending)
      this.#unsynced = []
    }
    this.#syncBounds()
  }

  /** A failed sync changes nothing, and the storage refuses every later write. */
  #maybeFailSync (): void {
    let cause = this.#nextSyncFailure
    this.#nextSyncFailure = undefined
    const p = this.#options.syncFailureProbability ?? DEFAULT_SYNC_FAILURE_PROBABILITY
    if (cause === undefined && p > 0 && (this.#options.random as Random).next() < p) {
      cause = new Error('injected random fsync failure')
    }
    if (cause === undefined) return
    this.#failure = writeFailed(cause)
    throw this.#failure
  }

  /** Entries lo..hi were rewritten or removed: their damage is gone. */
  #heal (lo: number, hi: number): void {
    for (const index of this.#corrupt) if (index >= lo && index <= hi) this.#corrupt.delete(index)
  }

  #syncBounds (): void {
    const v = this.#volatile
    const snap = snapshotIndex(v)
    this.#bounds.reset(snap, snap + v.entries.length)
  }

  #checkIntact (entries: readonly Entry[]): void {
    if (this.#corrupt.size === 0) return
    for (const e of entries) {
      if (this.#corrupt.has(e.index)) {
        throw new QuorateError('STORAGE_CORRUPT', 'Stored log entry is corrupt', { details: { index: e.index, reason: 'checksum mismatch' } })
      }
    }
  }

  #assertOpen (): void {
    if (this.#crashed) throw notOpen()
    this.#lifecycle.assertOpen()
  }

  #assertWritable (): void {
    this.#assertOpen()
    if (this.#failure !== null) throw stoppedError(this.#failure)
  }
}

async function * yieldChunks (chunks: readonly Uint8Array[], from: number): AsyncGenerator<Uint8Array> {
  for (let i = from; i < chunks.length; i++) yield chunks[i]!.slice()
}

/**
 * TupleStore: a replicated set of tuples with Lamport-stamped positive and negative
 * updates (see state.ts for the visibility rule and the horizon invariant).
 *
 * Every mutating call applies to memory synchronously, in call order, and resolves once
 * its single chained batch is written to the database (if any). Queries read memory.
 *
 * Replication, asynchronous: `deltaSince(v)` / `merge(delta)` exchange state (joins), and
 * a replay log keeps this replica's own transactions until every tracked replica
 * acknowledged them (`pendingFor`, `acknowledge`, `applyTransaction` on the other side).
 * Strongly consistent: see TupleStateMachine, which drives `applyTransaction` from a log.
 *
 * Mirrored (option `mirrors`): the sync protocol of sync.ts replaces the calls above.
 * Per-origin progress tells exactly what a peer lacks, the replay log relays every
 * origin's transactions until every mirror applied them, and a cancellation record
 * expires only once stable (docs/tuple-sync.md).
 */
import { QuorateError, throwIfAborted } from '../errors.js'
import type { ComponentStatus } from '../util/lifecycle.js'
import { Lifecycle } from '../util/lifecycle.js'
import type { LamportClock } from './clock.js'
import type { Delta, TupleSnapshot } from './delta.js'
import { validateDelta } from './delta.js'
import { validateTupleStoreOptions, type ResolvedTupleStoreOptions, type TupleStoreOptions } from './options.js'
import {
  ackStorageKey, encodeAck, encodeEntryValue, encodeMeta, encodeRow, encodeRuleValue, encodeVarints, floorStorageKey, loadStore,
  logStorageKey, META_KEY, rowStorageKey, ruleStorageKey, StoreBatch, syncLogStorageKey, tupleStorageKey
} from './persistence.js'
import { Progress, toPairs, type ProgressRows, type VectorPairs } from './progress.js'
import { SyncLog } from './sync-log.js'
import {
  validateSyncRequest, validateSyncResponse, type SyncRequest, type SyncResponse, type SyncResult, type SyncSnapshot
} from './sync.js'
import { compareStamps, stampId, type Stamp } from './stamp.js'
import { isVisible, TupleState, type EntryRecord, type QueryPlan, type TupleEntry } from './state.js'
import { ChangeStream, type TupleChange } from './subscription.js'
import { matches, patternShape, tupleKey, validateTuple, type Pattern, type Tuple } from './tuple.js'
import { encodeTransaction, validateTransaction, validateUpdates, type Transaction, type Update } from './update.js'

export interface StampedTuple {
  readonly tuple: Tuple
  /** The positive stamp that makes it visible. */
  readonly stamp: Stamp
}

/** A transaction this store stamped, with the store version it produced. */
export interface AppliedTransaction extends Transaction {
  readonly version: number
}

export interface PendingTransaction {
  /** Acknowledge this version (or a later one) once the replica has applied it. */
  readonly version: number
  readonly transaction: Transaction
}

export interface QueryOptions {
  /** Stop after this many tuples. @default Infinity */
  limit?: number
}

interface Watcher {
  readonly pattern: Pattern
  readonly listener: (change: TupleChange) => void
}

export class TupleStore {
  readonly #options: ResolvedTupleStoreOptions
  readonly #clock: LamportClock
  readonly #state: TupleState
  readonly #lifecycle = new Lifecycle('tuple store')
  #writes: Promise<void> = Promise.resolve()
  #failure: QuorateError | null = null
  readonly #watchers = new Set<Watcher>()
  readonly #streams = new Set<ChangeStream>()
  #muted = false
  /** This replica's own transactions, by increasing version, not yet acknowledged by all. */
  #log: PendingTransaction[] = []
  /** Transactions with version <= logFloor were dropped from the log. */
  #logFloor = 0
  readonly #acks = new Map<string, number>()
  #batch = new StoreBatch()
  /** Mirrored stores only: per-origin progress of every mirror, and the relaying log. */
  #progress: Progress | null = null
  readonly #syncLog = new SyncLog()
  /** Our own vector as last written to the database: the only progress we report. */
  #durableApplied: VectorPairs = []
  /** Snapshots this store loaded through applySync (resyncs), for tests and the simulator. */
  #resyncs = 0

  constructor (options: TupleStoreOptions) {
    this.#options = validateTupleStoreOptions(options)
    this.#clock = this.#options.clock
    this.#state = new TupleState(this.#options.horizon, this.#options.indexes)
    for (const r of this.#options.replicas) this.#acks.set(r, 0)
    if (this.#options.mirrors !== undefined) this.#progress = new Progress(this.#clock.node, this.#options.mirrors, this.#options.time.now())
    this.#state.onVisibility((tuple, visible, stamp) => { this.#dispatch(tuple, visible, stamp) })
  }

  get status (): ComponentStatus { return this.#lifecycle.status }
  /** This replica's node number (its clock's). */
  get node (): number { return this.#clock.node }
  get clock (): LamportClock { return this.#clock }
  /** Local version: increases with every applied operation. Deltas are cut by it. */
  get version (): number { return this.#state.version }
  /** Cancellation records below this Lamport counter have expired. */
  get watermark (): number { return this.#state.watermark }
  /** Number of visible tuples. */
  get size (): number { return this.#state.visibleCount }
  /**
   * Stored tuple entries (visible or cancelled), negative rules, replay-log transactions
   * and registered watchers (subscriptions included).
   */
  get stats (): { entries: number, rules: number, pending: number, watchers: number } {
    return { entries: this.#state.entryCount, rules: this.#state.ruleCount, pending: this.#log.length, watchers: this.#watchers.size }
  }

  /** Mirrored stores: replay-log size (all origins) and snapshots loaded through applySync. */
  get syncStats (): { logged: number, resyncs: number } {
    return { logged: this.#syncLog.size, resyncs: this.#resyncs }
  }

  /** Mirrored stores: this replica's applied vector ([origin, highest counter] pairs). */
  get applied (): VectorPairs {
    return this.#progress === null ? [] : toPairs(this.#progress.applied)
  }

  // ---- lifecycle ---------------------------------------------------------------------

  /**
   * Opens the store, loading its state from the database. Idempotent. open() and close()
   * calls run one after another in call order, so racing them ends in the last one's state.
   */
  async open (options: { signal?: AbortSignal } = {}): Promise<void> {
    throwIfAborted(options.signal)
    await this.#lifecycle.open(async () => { await this.#doOpen() }, options.signal)
  }

  async #doOpen (): Promise<void> {
    const db = this.#options.db
    if (db !== undefined) {
      if (db.status !== 'open') await db.open()
      await this.#load()
    }
    this.#failure = null
  }

  async #load (): Promise<void> {
    const loaded = await loadStore(this.#options.db as NonNullable<ResolvedTupleStoreOptions['db']>)
    this.#muted = true
    try {
      this.#state.reset()
      if (loaded.meta !== null) this.#state.restoreMeta(loaded.meta)
      for (const r of loaded.rules) this.#state.restoreRule(r.pattern, r.stamp, r.seq)
      for (const e of loaded.entries) this.#state.restoreEntry(e.tuple, e.pos, e.neg, e.seq)
      this.#state.finishRestore()
    } finally {
      this.#muted = false
    }
    this.#log = loaded.log
    this.#logFloor = loaded.meta?.logFloor ?? 0
    for (const [id, v] of loaded.acks) this.#acks.set(id, v)
    const p = this.#progress
    if (p !== null) {
      this.#syncLog.clear()
      for (const [o, c] of loaded.floors) this.#syncLog.setFloor(o, c)
      for (const t of loaded.syncLog) this.#syncLog.append(t)
      for (const [node, pairs] of loaded.rows) p.restoreRow(node, pairs)
      // Everything loaded was written, hence durable.
      this.#durableApplied = toPairs(p.applied)
    }
    this.#clock.observe({ counter: this.#state.maxCounter, node: 0 })
  }

  /** Waits for pending writes, ends subscriptions. Never closes the database. Idempotent. */
  async close (): Promise<void> {
    await this.#lifecycle.close(async () => {
      for (const s of this.#streams) s.end()
      this.#streams.clear()
      // A failed write already put the store in #failure; closing only waits for it to settle.
      await this.#writes.catch(() => {})
    })
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  #checkOpen (): void {
    if (this.#failure !== null) throw new QuorateError('NODE_FAILED', 'The tuple store stopped after a failed write', { cause: this.#failure })
    this.#lifecycle.assertOpen()
  }

  // ---- local writes ------------------------------------------------------------------

  /**
   * Stamps the updates with one new stamp from the clock, applies them, appends the
   * transaction to the replay log and persists all of it in one batch. `updates` may be a
   * function of the stamp, to put a cluster-unique id (`stampId(stamp)`) in a tuple.
   */
  async transact (
    updates: readonly Update[] | ((stamp: Stamp) => readonly Update[]),
    options: { signal?: AbortSignal } = {}
  ): Promise<AppliedTransaction> {
    throwIfAborted(options.signal)
    this.#checkOpen()
    // Arrays are checked before a stamp is spent on them; a builder's result after.
    if (typeof updates !== 'function') validateUpdates(updates)
    const stamp = this.#clock.tick()
    let list = updates as readonly Update[]
    if (typeof updates === 'function') {
      list = updates(stamp)
      validateUpdates(list)
    }
    const txn: Transaction = { stamp, updates: [...list] }
    const version = this.#state.begin()
    this.#applyUpdates(txn, version)
    if (this.#progress !== null) this.#logSynced(txn)
    if (this.#acks.size > 0) {
      this.#log.push({ version, transaction: txn })
      if (this.#options.db !== undefined) this.#batch.put(logStorageKey(version), encodeTransaction(txn))
    } else {
      // No replica is tracked, so none can ask for a replay; a new one starts from a snapshot.
      this.#logFloor = version
    }
    await this.#commit()
    return { ...txn, version }
  }

  /**
   * A cluster-unique id made from a fresh stamp of this store's clock. The stamp is
   * persisted before the id is returned, so a restart never issues it again.
   */
  async uniqueId (): Promise<string> {
    this.#checkOpen()
    const stamp = this.#clock.tick()
    this.#state.observe(stamp)
    await this.#commit()
    return stampId(stamp)
  }

  #applyUpdates (txn: Transaction, version: number): void {
    for (const u of txn.updates) {
      if (u.kind === 'positive') this.#state.mergeEntry(u.tuple, txn.stamp, null, version)
      else this.#state.applyNegative(u.pattern, txn.stamp, version)
    }
  }

  // ---- remote writes -----------------------------------------------------------------

  /**
   * Applies another replica's transaction (replayed from its log, or committed through
   * Raft). Idempotent. Throws TUPLE_HORIZON_EXCEEDED, changing nothing, if it asserts a
   * tuple older than the cancellation horizon that could have been cancelled here.
   */
  async applyTransaction (txn: Transaction): Promise<void> {
    this.#checkOpen()
    this.#requireUnmirrored('applyTransaction')
    validateTransaction(txn)
    if (txn.stamp.counter < this.#state.watermark) {
      const positives: EntryRecord[] = []
      for (const u of txn.updates) if (u.kind === 'positive') positives.push({ tuple: u.tuple, pos: txn.stamp, neg: null })
      const rules = txn.updates.flatMap((u) => u.kind === 'negative' ? [{ pattern: u.pattern, stamp: txn.stamp }] : [])
      this.#state.checkHorizon(positives, rules, 'The transaction')
    }
    // observe, not receive: applying is not an event of this replica, so it must not spend
    // a counter (the horizon is measured in events; the next local stamp is still larger).
    this.#clock.observe(txn.stamp)
    this.#applyUpdates(txn, this.#state.begin())
    await this.#commit()
  }

  /** Changes after `version` of this store, to `merge` into another replica. */
  deltaSince (version: number): Delta {
    this.#checkOpen()
    this.#requireUnmirrored('deltaSince')
    if (!Number.isSafeInteger(version) || version < 0) throw new QuorateError('TUPLE_INVALID', 'version must be a non-negative safe integer')
    const since = version > this.#state.version ? 0 : version
    if (since < this.#state.expiredSeq) {
      throw new QuorateError('TUPLE_HORIZON_EXCEEDED',
        `Changes since version ${since} include cancellations that have expired here; resync from a full snapshot`,
        { details: { since, expiredSeq: this.#state.expiredSeq } })
    }
    const { entries, rules } = this.#state.changedSince(since)
    return this.#delta(false, since, entries, rules)
  }

  #delta (full: boolean, since: number, entries: Iterable<TupleEntry>, rules: Iterable<{ pattern: Pattern, stamp: Stamp }>): Delta {
    const es: EntryRecord[] = []
    for (const e of entries) es.push({ tuple: e.tuple, pos: e.pos, neg: e.neg })
    const rs: Array<{ pattern: Pattern, stamp: Stamp }> = []
    for (const r of rules) rs.push({ pattern: r.pattern, stamp: r.stamp })
    return { full, since, version: this.#state.version, maxCounter: this.#state.maxCounter, watermark: this.#state.watermark, entries: es, rules: rs }
  }

  /**
   * Merges a delta (or snapshot) from another replica: per tuple, the newest positive and
   * newest negative win; rules are unioned. Idempotent, commutative, associative. Throws
   * TUPLE_HORIZON_EXCEEDED, changing nothing, if the sender's data is older than the
   * horizon in a way that could resurrect a cancelled tuple: the sender must resync from
   * this replica's `snapshot()`.
   */
  async merge (delta: Delta): Promise<void> {
    this.#checkOpen()
    this.#requireUnmirrored('merge')
    validateDelta(delta)
    if (delta.full) {
      await this.#mergeSnapshot(delta as TupleSnapshot)
      return
    }
    this.#state.checkHorizon(delta.entries, delta.rules, 'The delta')
    this.#clock.observe({ counter: delta.maxCounter, node: 0 })
    this.#joinState(delta)
    await this.#commit()
  }

  /** Joins entries and rules into the state under one new version (rules first). */
  #joinState (d: { entries: readonly EntryRecord[], rules: ReadonlyArray<{ pattern: Pattern, stamp: Stamp }> }): void {
    const version = this.#state.begin()
    for (const r of d.rules) this.#state.applyNegative(r.pattern, r.stamp, version)
    for (const e of d.entries) this.#state.mergeEntry(e.tuple, e.pos, e.neg, version)
  }

  /**
   * Merges another replica's full snapshot, keeping what this one applied (so its own
   * writes and the cancellations its peers acknowledged survive). Below a side's
   * watermark that side may have expired cancellation records the other lacks, so there
   * a positive needs that side's confirmation: one held only here below the snapshot's
   * watermark, or only in the snapshot below ours, is dropped (the sender would have
   * refused ours; we would have refused theirs). That is what a replica past the
   * horizon loses. Nothing else is dropped, and peers' cursors stay valid.
   */
  async #mergeSnapshot (snapshot: TupleSnapshot): Promise<void> {
    const held = new Map<string, EntryRecord>()
    for (const e of snapshot.entries) held.set(tupleKey(e.tuple), e)
    const w = snapshot.watermark
    const stale: EntryRecord[] = []
    for (const e of this.#state.entries()) {
      if (e.pos === null || e.pos.counter >= w) continue
      const theirs = held.get(e.key)
      if (theirs?.pos != null && compareStamps(theirs.pos, e.pos) >= 0) continue
      stale.push({ tuple: e.tuple, pos: e.pos, neg: null })
    }
    const ours = this.#state.watermark
    const entries = snapshot.entries.map((e) => {
      if (e.pos === null || e.pos.counter >= ours) return e
      const mine = this.#state.entry(tupleKey(e.tuple))
      return mine?.pos != null && compareStamps(mine.pos, e.pos) >= 0 ? e : { tuple: e.tuple, pos: null, neg: e.neg }
    })
    this.#clock.observe({ counter: snapshot.maxCounter, node: 0 })
    this.#joinState({ entries, rules: snapshot.rules })
    // Cancelling each stale positive with its own stamp drops it and nothing newer; below
    // the raised watermark the record goes at once (see TupleState.mergeEntry).
    this.#state.raiseWatermark(w)
    const version = this.#state.version
    for (const e of stale) this.#state.mergeEntry(e.tuple, null, e.pos, version)
    await this.#commit()
  }

  /** Everything this store holds (tuples, cancellation records), for `loadSnapshot`. */
  snapshot (): TupleSnapshot {
    this.#checkOpen()
    return this.#delta(true, 0, this.#state.entries(), this.#state.rules()) as TupleSnapshot
  }

  /**
   * Loads a snapshot (a replica resyncing after TUPLE_HORIZON_EXCEEDED) by merging it, as
   * `merge` does for a full snapshot: what this replica applied is kept, the replay log,
   * acknowledgements and peers' cursors too. Subscribers see only visibility changes.
   */
  async loadSnapshot (snapshot: TupleSnapshot): Promise<void> {
    this.#checkOpen()
    this.#requireUnmirrored('loadSnapshot')
    validateDelta(snapshot)
    if (!snapshot.full) throw new QuorateError('TUPLE_INVALID', 'loadSnapshot needs a full snapshot, not a delta')
    await this.#mergeSnapshot(snapshot)
  }

  /**
   * Replaces this store's tuples and cancellation records with a snapshot: a Raft
   * snapshot install (TupleStateMachine.restore), where the log is the truth and local
   * state only an older prefix of it. Not for resyncing replicas (use loadSnapshot, which
   * keeps what this one applied). The replay log and acknowledgements are kept.
   * Subscribers see only the tuples whose visibility changed.
   */
  async restoreSnapshot (snapshot: TupleSnapshot): Promise<void> {
    this.#checkOpen()
    this.#requireUnmirrored('restoreSnapshot')
    validateDelta(snapshot)
    if (!snapshot.full) throw new QuorateError('TUPLE_INVALID', 'restoreSnapshot needs a full snapshot, not a delta')
    const before = new Map<string, StampedTuple>()
    for (const e of this.#state.entries()) if (isVisible(e)) before.set(e.key, { tuple: e.tuple, stamp: e.pos as Stamp })
    this.#muted = true
    try {
      this.#state.reset()
      const version = this.#state.begin()
      this.#state.restoreMeta({
        version,
        maxCounter: snapshot.maxCounter,
        watermark: snapshot.watermark,
        // Replicas that synced from this one before may lack expirations the source did.
        expiredSeq: snapshot.watermark > 0 ? version : 0
      })
      for (const r of snapshot.rules) this.#state.applyNegative(r.pattern, r.stamp, version)
      for (const e of snapshot.entries) this.#state.mergeEntry(e.tuple, e.pos, e.neg, version)
    } finally {
      this.#muted = false
    }
    this.#clock.observe({ counter: snapshot.maxCounter, node: 0 })
    for (const e of this.#state.entries()) {
      if (!isVisible(e)) continue
      const old = before.get(e.key)
      before.delete(e.key)
      if (old === undefined) this.#dispatch(e.tuple, true, e.pos as Stamp)
    }
    for (const old of before.values()) this.#dispatch(old.tuple, false, old.stamp)
    await this.#commit()
  }

  // ---- sync protocol (mirrored stores) -----------------------------------------------

  #mirrored (what: string): Progress {
    if (this.#progress === null) throw new QuorateError('TUPLE_INVALID', `${what} needs a mirrored store (option "mirrors")`)
    return this.#progress
  }

  #requireUnmirrored (what: string): void {
    if (this.#progress !== null) {
      throw new QuorateError('TUPLE_INVALID', `A mirrored store replicates only through syncRequest/syncResponse/applySync, not ${what}`)
    }
  }

  /** Progress we report: our durable vector first-hand, every other row as gossip. */
  #reportedRows (p: Progress): ProgressRows {
    return p.rows().map(([n, v]) => [n, n === p.self ? this.#durableApplied : v] as const)
  }

  /** Takes in a mirror's message: it is reachable now, and its gossip is merged. */
  #receive (what: string, m: { from: number, progress: ProgressRows }): Progress {
    this.#checkOpen()
    const p = this.#mirrored(what)
    if (m.from === p.self || !p.isMember(m.from)) {
      throw new QuorateError('TUPLE_UNKNOWN_REPLICA', `Node ${m.from} is not a mirror of this store`, { details: { node: m.from } })
    }
    const now = this.#options.time.now()
    p.mergeRows(m.progress, now)
    p.heardFrom(m.from, now)
    return p
  }

  /** Appends an applied transaction to the relaying log and to this replica's vector. */
  #logSynced (txn: Transaction): void {
    const p = this.#progress as Progress
    p.advance(txn.stamp)
    this.#syncLog.append(txn)
    if (this.#options.db !== undefined) this.#batch.put(syncLogStorageKey(txn.stamp.node, txn.stamp.counter), encodeTransaction(txn))
  }

  /** A request to send to a mirror; answer its response with `applySync`. */
  syncRequest (): SyncRequest {
    this.#checkOpen()
    const p = this.#mirrored('syncRequest')
    return { type: 'sync-request', from: p.self, progress: this.#reportedRows(p) }
  }

  /**
   * Answers a mirror's request: the transactions it lacks, or (when this replica's log no
   * longer reaches back that far, so only the requester can be behind) a snapshot of
   * this replica's state and log. The requester is always the side that catches up; this
   * side's data never changes here, only what it knows of the others' progress.
   */
  async syncResponse (request: SyncRequest): Promise<SyncResponse> {
    validateSyncRequest(request)
    const p = this.#receive('syncResponse', request)
    const base = new Map(p.row(request.from))
    const missing = this.#syncLog.missing(new Map(this.#durableApplied), base)
    const snapshot = missing === null ? this.#syncSnapshot(p) : null
    const response: SyncResponse = {
      type: 'sync-response', from: p.self, base: toPairs(base), progress: this.#reportedRows(p), transactions: missing ?? [], snapshot
    }
    await this.#commit()
    return response
  }

  #syncSnapshot (p: Progress): SyncSnapshot {
    const { entries, rules } = this.#delta(true, 0, this.#state.entries(), this.#state.rules())
    return {
      applied: toPairs(p.applied), maxCounter: this.#state.maxCounter, entries, rules, log: [...this.#syncLog.all()], floors: this.#syncLog.floors()
    }
  }

  /**
   * Applies a mirror's response: each origin's transactions in counter order (those
   * already applied are skipped, so duplicates and reordering are harmless), or a
   * snapshot merged into this replica's state and log (nothing applied here is lost).
   */
  async applySync (response: SyncResponse): Promise<SyncResult> {
    validateSyncResponse(response)
    const p = this.#receive('applySync', response)
    const merge = this.#options.mutations.skipClockMerge !== true
    if (response.snapshot !== null) this.#mergeSyncSnapshot(p, response.snapshot, merge)
    const base = new Map(response.base)
    const version = this.#state.begin()
    let applied = 0
    for (const t of response.transactions) {
      const have = p.applied.get(t.stamp.node) ?? 0
      // Cut against progress this replica no longer has (it lost writes in a crash): the
      // suffix would leave a gap, so skip that origin until the next exchange.
      if (t.stamp.counter <= have || (base.get(t.stamp.node) ?? 0) > have) continue
      if (merge) this.#clock.observe(t.stamp)
      this.#applyUpdates(t, version)
      this.#logSynced(t)
      applied++
    }
    await this.#commit()
    return { applied, resynced: response.snapshot !== null }
  }

  #mergeSyncSnapshot (p: Progress, s: SyncSnapshot, observe: boolean): void {
    this.#resyncs++
    const before = new Map(p.applied)
    if (observe) this.#clock.observe({ counter: s.maxCounter, node: 0 })
    this.#joinState(s)
    const db = this.#options.db !== undefined
    if (this.#options.mutations.dropLogOnSnapshot === true) {
      for (const t of this.#syncLog.all()) if (db) this.#batch.del(syncLogStorageKey(t.stamp.node, t.stamp.counter))
      this.#syncLog.clear()
    } else {
      const { added, dropped } = this.#syncLog.mergeFrom(before, new Map(s.applied), s.log, new Map(s.floors))
      if (db) {
        for (const t of dropped) this.#batch.del(syncLogStorageKey(t.stamp.node, t.stamp.counter))
        for (const t of added) this.#batch.put(syncLogStorageKey(t.stamp.node, t.stamp.counter), encodeTransaction(t))
      }
    }
    p.advanceTo(s.applied)
  }

  // ---- replay log --------------------------------------------------------------------

  /**
   * This replica's transactions that `replicaId` has not acknowledged, oldest first, to
   * replay (through its `applyTransaction`) when it reconnects. Throws
   * TUPLE_HORIZON_EXCEEDED if some of them were already dropped (beyond the horizon, or
   * never tracked for this replica): it must resync from a snapshot.
   */
  pendingFor (replicaId: string): PendingTransaction[] {
    this.#checkOpen()
    const acked = this.#acks.get(replicaId)
    if ((acked ?? 0) < this.#logFloor) {
      throw new QuorateError('TUPLE_HORIZON_EXCEEDED',
        `Replica ${JSON.stringify(replicaId)} acknowledged version ${acked ?? 'none'}, but transactions through ${this.#logFloor} were dropped; resync it from a full snapshot`,
        { details: { replicaId, acknowledged: acked ?? null, logFloor: this.#logFloor } })
    }
    const from = acked ?? 0
    let lo = 0
    let hi = this.#log.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.#log[mid] as PendingTransaction).version <= from) lo = mid + 1
      else hi = mid
    }
    return this.#log.slice(lo)
  }

  /** Records that `replicaId` applied this replica's transactions through `version`. */
  async acknowledge (replicaId: string, version: number): Promise<void> {
    this.#checkOpen()
    if (typeof replicaId !== 'string' || replicaId.length === 0) throw new QuorateError('TUPLE_INVALID', 'replicaId must be a non-empty string')
    if (!Number.isSafeInteger(version) || version < 0) throw new QuorateError('TUPLE_INVALID', 'version must be a non-negative safe integer')
    const old = this.#acks.get(replicaId)
    if (old === undefined) {
      throw new QuorateError('TUPLE_UNKNOWN_REPLICA',
        `Replica ${JSON.stringify(replicaId)} is not tracked: list it in the "replicas" option`, { details: { replicaId } })
    }
    if (version <= old) return
    this.#acks.set(replicaId, Math.max(old, version))
    this.#batch.put(ackStorageKey(replicaId), encodeAck(Math.max(old, version)))
    await this.#commit()
  }

  /** Mirrored: expires stable records and drops log entries every mirror has (or abandoned). */
  #expireMirrored (p: Progress): void {
    const early = this.#options.mutations.expireEarly === true
    this.#state.expireStable(early ? this.#state.maxCounter : p.stableBound(), (stamp) => p.isStable(stamp, early))
    const now = this.#options.time.now()
    const retention = this.#options.retentionMs
    const dropped = this.#syncLog.prune((t) => p.replicatedOrAbandoned(t.stamp, now, retention))
    if (this.#options.db !== undefined) for (const t of dropped) this.#batch.del(syncLogStorageKey(t.stamp.node, t.stamp.counter))
  }

  /** Drops log entries every tracked replica acknowledged, and those beyond the horizon. */
  #pruneLog (): void {
    let upTo = Infinity
    for (const v of this.#acks.values()) upTo = Math.min(upTo, v)
    const w = this.#state.watermark
    let n = 0
    while (n < this.#log.length) {
      const p = this.#log[n] as PendingTransaction
      if (p.version > upTo && p.transaction.stamp.counter >= w) break
      n++
    }
    if (n === 0) return
    for (const p of this.#log.slice(0, n)) this.#batch.del(logStorageKey(p.version))
    this.#logFloor = Math.max(this.#logFloor, (this.#log[n - 1] as PendingTransaction).version)
    this.#log = this.#log.slice(n)
  }

  // ---- reads -------------------------------------------------------------------------

  /** Visible tuples matching the pattern, in the order of the index used. */
  query (pattern: Pattern, options: QueryOptions = {}): Tuple[] {
    return this.queryStamped(pattern, options).map((s) => s.tuple)
  }

  /** Visible tuples matching the pattern, with the stamp that makes each visible. */
  queryStamped (pattern: Pattern, options: QueryOptions = {}): StampedTuple[] {
    this.#checkOpen()
    const shape = patternShape(pattern)
    return this.#state.query(pattern, shape, options.limit ?? Infinity).map((e) => ({ tuple: e.tuple, stamp: e.pos as Stamp }))
  }

  /** Which index a pattern's lookup would scan and how many leading fields bind it. */
  plan (pattern: Pattern): QueryPlan {
    return this.#state.plan(patternShape(pattern))
  }

  has (tuple: Tuple): boolean {
    return this.stampOf(tuple) !== null
  }

  /** The positive stamp that makes `tuple` visible, or null if it is not visible. */
  stampOf (tuple: Tuple): Stamp | null {
    this.#checkOpen()
    validateTuple(tuple)
    const e = this.#state.entry(tupleKey(tuple))
    return e !== undefined && isVisible(e) ? e.pos : null
  }

  // ---- change notification -----------------------------------------------------------

  /**
   * Calls `listener` synchronously for each visibility change of a tuple matching
   * `pattern`. Returns the function that stops it. A listener that throws is removed and
   * its error reported to the `onWatcherError` option (TUPLE_WATCHER_FAILED).
   * It runs in the middle of an update: read the store there, but write only later
   * (e.g. after `await`), or the nested write interleaves with the one in progress.
   */
  watch (pattern: Pattern, listener: (change: TupleChange) => void): () => void {
    patternShape(pattern)
    const w: Watcher = { pattern, listener }
    this.#watchers.add(w)
    return () => { this.#watchers.delete(w) }
  }

  /**
   * Visible changes of tuples matching `pattern`, as an async iterator. It releases its
   * resources when the loop exits, the signal aborts (next() rejects with ABORTED) or the
   * store closes (the iterator ends).
   */
  subscribe (pattern: Pattern, options: { signal?: AbortSignal } = {}): AsyncIterableIterator<TupleChange> {
    this.#checkOpen()
    let registered: ChangeStream | undefined
    const stream = new ChangeStream((push) => {
      const stop = this.watch(pattern, push)
      return () => {
        stop()
        if (registered !== undefined) this.#streams.delete(registered)
      }
    }, this.#options.maxQueuedChanges, options.signal)
    if (options.signal?.aborted !== true) {
      registered = stream
      this.#streams.add(stream)
    }
    return stream
  }

  #dispatch (tuple: Tuple, visible: boolean, stamp: Stamp): void {
    if (this.#muted || this.#watchers.size === 0) return
    const change: TupleChange = { type: visible ? 'added' : 'removed', tuple, stamp }
    for (const w of this.#watchers) {
      if (!matches(w.pattern, tuple)) continue
      try {
        w.listener(change)
      } catch (err) {
        // The update must go on for the other watchers; the failure is reported, not hidden.
        this.#watchers.delete(w)
        this.#options.onWatcherError(new QuorateError('TUPLE_WATCHER_FAILED', `A watch() listener threw on a '${change.type}' change and was removed`, { cause: err }), change)
      }
    }
  }

  // ---- persistence -------------------------------------------------------------------

  /** Expires records, prunes the log and writes everything this operation changed. */
  async #commit (): Promise<void> {
    const p = this.#progress
    if (p === null) this.#state.expire()
    else this.#expireMirrored(p)
    this.#pruneLog()
    const db = this.#options.db
    const state = this.#state
    const batch = this.#batch
    this.#batch = new StoreBatch()
    const applied = p === null ? [] : toPairs(p.applied)
    if (db === undefined) {
      state.dirtyEntries.clear()
      state.dirtyRules.clear()
      this.#durableApplied = applied
      return
    }
    if (p !== null) {
      for (const [n, v] of p.rows()) batch.put(rowStorageKey(n), encodeRow(v))
      for (const [o, c] of this.#syncLog.floors()) batch.put(floorStorageKey(o), encodeVarints([c]))
    }
    for (const key of state.dirtyEntries) {
      const e = state.entry(key)
      if (e === undefined) batch.del(tupleStorageKey(key))
      else batch.put(tupleStorageKey(key), encodeEntryValue(e))
    }
    for (const key of state.dirtyRules) {
      const r = state.rule(key)
      if (r === undefined) batch.del(ruleStorageKey(key))
      else batch.put(ruleStorageKey(key), encodeRuleValue(r))
    }
    state.dirtyEntries.clear()
    state.dirtyRules.clear()
    batch.put(META_KEY, encodeMeta({
      version: state.version, maxCounter: state.maxCounter, watermark: state.watermark, expiredSeq: state.expiredSeq, logFloor: this.#logFloor
    }))
    const write = this.#writes.then(async () => {
      if (this.#failure !== null) throw this.#failure
      try {
        await batch.write(db, this.#options.sync)
        // Writes are chained, so this only moves forward.
        this.#durableApplied = applied
      } catch (err) {
        this.#failure ??= new QuorateError('STORAGE_WRITE_FAILED', 'Writing tuple data failed', { cause: err })
        throw this.#failure
      }
    })
    this.#writes = write.catch(() => {})
    await write
  }
}

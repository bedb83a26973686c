/** Options of a TupleStore, their defaults and validation. */
import type { AbstractLevel } from 'abstract-level'
import { QuorateError } from '../errors.js'
import { LamportClock } from './clock.js'
import { tupleMutationsOf } from './test-hooks.js'
import type { TupleMutations } from './test-hooks.js'
import { systemClock, type Clock } from '../util/clock.js'
import type { TupleChange } from './subscription.js'
import { checkLogger } from '../util/logger.js'
import type { Logger } from '../util/logger.js'

/**
 * Cancellation records expire this many Lamport counters after the newest stamp the store
 * has seen. About a million events: far longer than a reconnect in a busy cluster, while
 * an idle cluster (counters barely move) keeps its records, which is the safe direction.
 */
export const DEFAULT_HORIZON = 1_000_000
export const DEFAULT_SYNC = true
export const DEFAULT_MAX_QUEUED_CHANGES = 10_000
/**
 * A mirrored store keeps a transaction in its replay log for a mirror that has not
 * applied it for this long (on the injected Clock) since it last heard of that mirror.
 * One day: a replica away for less catches up by replay, one away longer by a snapshot.
 */
export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000

export interface TupleStoreOptions {
  /** The store's Lamport clock; its `node` number disambiguates this replica's stamps. */
  clock: LamportClock
  /**
   * Where to persist tuples, cancellation records, the replay log and acknowledgements.
   * Any abstract-level database (classic-level, memory-level, or a sublevel of one). The
   * store opens it if needed and never closes it. Omit for a memory-only store.
   * @default undefined (memory only)
   */
  db?: AbstractLevel<any, any, any>
  /**
   * The cancellation horizon in Lamport counter distance. A cancellation record stamped
   * more than `horizon` counters below the newest stamp seen expires, together with the
   * positives it cancelled. Counter distance rather than injected-clock time because it is
   * a function of the data alone: Raft replicas applying the same log expire the same
   * records at the same entries, and a simulation needs no clock to reproduce it.
   * Applies to stores without `mirrors` (standalone, or driven by Raft through
   * TupleStateMachine); a mirrored store expires a record once it is stable instead.
   * Stamps count events only: merging and receiving do not advance the counter, so sync
   * traffic does not use the horizon up.
   * @default DEFAULT_HORIZON (1_000_000)
   */
  horizon?: number
  /**
   * Secondary indexes, each the list of tuple fields it is keyed by, in order (e.g.
   * `[[2, 0]]` finds `[ANY, ANY, 'x', ...]` by field 2). The primary index is tuple order,
   * so lookups by leading fields need no secondary index.
   * @default [] (primary index only)
   */
  indexes?: ReadonlyArray<readonly number[]>
  /**
   * Replicas whose acknowledgements the replay log waits for before it drops a
   * transaction (`pendingFor` / `acknowledge`, the older per-replica replay API).
   * `acknowledge` with an id not listed here fails with TUPLE_UNKNOWN_REPLICA.
   * @default []
   */
  replicas?: readonly string[]
  /**
   * Node numbers (Lamport clock `node`) of the other replicas of this data: turns on the
   * sync protocol (`syncRequest` / `syncResponse` / `applySync`, docs/tuple-sync.md). The
   * replay log then keeps every origin's transactions until every mirror applied them,
   * and a cancellation record expires once it is stable (every mirror has applied it and
   * nothing older can still arrive), never earlier.
   * @default undefined (not mirrored)
   */
  mirrors?: readonly number[]
  /**
   * How long a mirrored store keeps transactions for a mirror it has not heard of. A
   * mirror away for longer resyncs from a snapshot when it returns (it loses nothing).
   * @default DEFAULT_RETENTION_MS (one day)
   */
  retentionMs?: number
  /**
   * Time source for `retentionMs`.
   * @default systemClock
   */
  time?: Clock
  /**
   * Ask the database for durable (fsync'd) batch writes where it supports it.
   * @default DEFAULT_SYNC (true)
   */
  sync?: boolean
  /**
   * A subscription whose consumer falls this many changes behind ends with
   * TUPLE_SUBSCRIPTION_OVERFLOW rather than buffering without bound.
   * @default DEFAULT_MAX_QUEUED_CHANGES (10_000)
   */
  maxQueuedChanges?: number
  /**
   * Told when a `watch()` listener throws: the listener is removed (it runs in the middle of
   * an update, which must go on) and the error arrives here as TUPLE_WATCHER_FAILED with the
   * listener's error as cause and the change it was handling. Must not throw.
   * @default a process warning (`process.emitWarning`), so the failure is never silent
   */
  onWatcherError?: (error: QuorateError, change: TupleChange) => void
  /**
   * A pino-compatible logger; without `onWatcherError`, a failed watcher is reported to it
   * (warn, with `err`) instead of as a process warning. @default none
   */
  logger?: Logger
}

export interface ResolvedTupleStoreOptions {
  readonly clock: LamportClock
  readonly db: AbstractLevel<any, any, any> | undefined
  readonly horizon: number
  readonly indexes: ReadonlyArray<readonly number[]>
  readonly replicas: readonly string[]
  readonly mirrors: readonly number[] | undefined
  readonly retentionMs: number
  readonly time: Clock
  readonly mutations: TupleMutations
  readonly sync: boolean
  readonly maxQueuedChanges: number
  readonly onWatcherError: (error: QuorateError, change: TupleChange) => void
}

function warnWatcherError (error: QuorateError): void {
  process.emitWarning(error)
}

function logWatcherError (logger: Logger): (error: QuorateError, change: TupleChange) => void {
  return (error) => { logger.warn({ err: error, code: error.code }, error.message) }
}

function fail (field: string, rule: string): never {
  throw new QuorateError('OPTIONS_INVALID', `TupleStore option "${field}" ${rule}`)
}

function positiveInteger (value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) fail(field, 'must be a positive safe integer')
  return value as number
}

const KNOWN_KEYS = new Set(['clock', 'db', 'horizon', 'indexes', 'replicas', 'mirrors', 'retentionMs', 'time', 'sync', 'maxQueuedChanges', 'onWatcherError', 'logger'])

export function validateTupleStoreOptions (options: TupleStoreOptions): ResolvedTupleStoreOptions {
  if (typeof options !== 'object' || options === null) throw new QuorateError('OPTIONS_INVALID', 'TupleStore options must be an object')
  for (const key of Object.keys(options)) if (!KNOWN_KEYS.has(key)) fail(key, 'is not a TupleStore option')
  if (!(options.clock instanceof LamportClock)) fail('clock', 'must be a LamportClock')
  const db = options.db
  if (db !== undefined && (typeof db !== 'object' || db === null || typeof db.batch !== 'function' || typeof db.iterator !== 'function')) {
    fail('db', 'must be an abstract-level database')
  }
  const indexes = options.indexes ?? []
  if (!Array.isArray(indexes)) fail('indexes', 'must be an array of field lists')
  for (const fields of indexes) {
    if (!Array.isArray(fields) || fields.length === 0 ||
      fields.some((f) => !Number.isInteger(f) || f < 0 || f > 255) || new Set(fields).size !== fields.length) {
      fail('indexes', 'must hold non-empty lists of distinct field numbers in [0, 255]')
    }
  }
  const replicas = options.replicas ?? []
  if (!Array.isArray(replicas) || replicas.some((r) => typeof r !== 'string' || r.length === 0)) {
    fail('replicas', 'must be an array of non-empty strings')
  }
  if (options.sync !== undefined && typeof options.sync !== 'boolean') fail('sync', 'must be a boolean')
  const mirrors = options.mirrors
  if (mirrors !== undefined && (!Array.isArray(mirrors) ||
    mirrors.some((m) => !Number.isInteger(m) || m < 0 || m > 0xffffffff || m === options.clock.node) ||
    new Set(mirrors).size !== mirrors.length)) {
    fail('mirrors', 'must be an array of distinct node numbers in [0, 2^32), without this store\'s own')
  }
  const time = options.time ?? systemClock
  if (typeof time !== 'object' || time === null || typeof time.now !== 'function') fail('time', 'must be a Clock')
  const mutations = tupleMutationsOf(options)
  if (options.onWatcherError !== undefined && typeof options.onWatcherError !== 'function') fail('onWatcherError', 'must be a function')
  checkLogger(options.logger, 'TupleStore')
  return {
    clock: options.clock,
    db,
    horizon: options.horizon === undefined ? DEFAULT_HORIZON : positiveInteger(options.horizon, 'horizon'),
    indexes: indexes.map((f) => [...f]),
    replicas: [...replicas],
    mirrors: mirrors === undefined ? undefined : [...mirrors],
    retentionMs: options.retentionMs === undefined ? DEFAULT_RETENTION_MS : positiveInteger(options.retentionMs, 'retentionMs'),
    time,
    mutations,
    sync: options.sync ?? DEFAULT_SYNC,
    maxQueuedChanges: options.maxQueuedChanges === undefined
      ? DEFAULT_MAX_QUEUED_CHANGES
      : positiveInteger(options.maxQueuedChanges, 'maxQueuedChanges'),
    onWatcherError: options.onWatcherError ?? (options.logger === undefined ? warnWatcherError : logWatcherError(options.logger))
  }
}

/** Options of a TupleStore, their defaults and validation. */
import type { AbstractLevel } from 'abstract-level'
import { QuorateError } from '../errors.js'
import { LamportClock } from './clock.js'
import type { TupleChange } from './subscription.js'

/**
 * Cancellation records expire this many Lamport counters after the newest stamp the store
 * has seen. About a million events: far longer than a reconnect in a busy cluster, while
 * an idle cluster (counters barely move) keeps its records, which is the safe direction.
 */
export const DEFAULT_HORIZON = 1_000_000
export const DEFAULT_SYNC = true
export const DEFAULT_MAX_QUEUED_CHANGES = 10_000

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
   * transaction. Replicas that call `acknowledge` are added automatically.
   * @default []
   */
  replicas?: readonly string[]
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
}

export interface ResolvedTupleStoreOptions {
  readonly clock: LamportClock
  readonly db: AbstractLevel<any, any, any> | undefined
  readonly horizon: number
  readonly indexes: ReadonlyArray<readonly number[]>
  readonly replicas: readonly string[]
  readonly sync: boolean
  readonly maxQueuedChanges: number
  readonly onWatcherError: (error: QuorateError, change: TupleChange) => void
}

function warnWatcherError (error: QuorateError): void {
  process.emitWarning(error)
}

function fail (field: string, rule: string): never {
  throw new QuorateError('OPTIONS_INVALID', `TupleStore option "${field}" ${rule}`)
}

function positiveInteger (value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) fail(field, 'must be a positive safe integer')
  return value as number
}

export function validateTupleStoreOptions (options: TupleStoreOptions): ResolvedTupleStoreOptions {
  if (typeof options !== 'object' || options === null) throw new QuorateError('OPTIONS_INVALID', 'TupleStore options must be an object')
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
  if (options.onWatcherError !== undefined && typeof options.onWatcherError !== 'function') fail('onWatcherError', 'must be a function')
  return {
    clock: options.clock,
    db,
    horizon: options.horizon === undefined ? DEFAULT_HORIZON : positiveInteger(options.horizon, 'horizon'),
    indexes: indexes.map((f) => [...f]),
    replicas: [...replicas],
    sync: options.sync ?? DEFAULT_SYNC,
    maxQueuedChanges: options.maxQueuedChanges === undefined
      ? DEFAULT_MAX_QUEUED_CHANGES
      : positiveInteger(options.maxQueuedChanges, 'maxQueuedChanges'),
    onWatcherError: options.onWatcherError ?? warnWatcherError
  }
}

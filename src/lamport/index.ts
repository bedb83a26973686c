/**
 * quorate/lamport: Lamport clocks and a replicated tuple store with negative tuples.
 *
 * May import: node, storage, util, errors.
 */
export { LamportClock, DEFAULT_INITIAL_COUNTER, validateLamportClockOptions } from './clock.js'
export type { LamportClockOptions } from './clock.js'
export {
  STAMP_BYTES, ZERO_STAMP, compareStamps, maxStamp, isValidStamp, encodeStamp, decodeStamp,
  encodeStampCompact, decodeStampCompact, stampId, parseStampId, formatStamp
} from './stamp.js'
export type { Stamp } from './stamp.js'
export {
  ANY, REST, MAX_TUPLE_DEPTH, MAX_BIGINT_BYTES, encodeTuple, decodeTuple, encodePattern, decodePattern,
  tupleKey, compareTuples, validateTuple, validatePattern, matches, valueEquals
} from './tuple.js'
export type { Value, Tuple, Pattern, PatternElement, Wildcard } from './tuple.js'
export { positive, negative, encodeTransaction, decodeTransaction, validateUpdates } from './update.js'
export type { Update, PositiveUpdate, NegativeUpdate, Transaction } from './update.js'
export { encodeDelta, decodeDelta } from './delta.js'
export type { Delta, TupleSnapshot } from './delta.js'
export type { EntryRecord, RuleRecord, QueryPlan } from './state.js'
export { TupleStore } from './store.js'
export type { StampedTuple, AppliedTransaction, PendingTransaction, QueryOptions } from './store.js'
export type { TupleChange } from './subscription.js'
export {
  DEFAULT_HORIZON, DEFAULT_SYNC, DEFAULT_MAX_QUEUED_CHANGES, DEFAULT_RETENTION_MS, validateTupleStoreOptions
} from './options.js'
export type { TupleStoreOptions } from './options.js'
export { validateSyncRequest, validateSyncResponse } from './sync.js'
export { encodeSyncMessage, decodeSyncMessage } from './sync-codec.js'
export { TupleSyncDriver, DEFAULT_SYNC_INTERVAL_MS } from './sync-driver.js'
export type { SyncChannel, TupleSyncDriverOptions, TupleSyncDriverStats } from './sync-driver.js'
export type { SyncRequest, SyncResponse, SyncResult, SyncSnapshot } from './sync.js'
export type { VectorPairs, ProgressRows } from './progress.js'
export { LwwMap, LwwArray, Counter } from './compound.js'
export { TupleStateMachine, SNAPSHOT_CHUNK_BYTES } from './state-machine.js'
export type { TupleApplyResult } from './state-machine.js'

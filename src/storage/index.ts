/**
 * storage: the storage plugin interface (`RaftStorage`) a node keeps its hard state, log and
 * snapshot in, and `LevelStorage` on any abstract-level database, with its byte codec and
 * batch validation. The conformance suite for third-party storages is in `quorate/testing`.
 *
 * May import: raft, util, errors.
 */
export type { LoadedSnapshot, RaftStorage, SnapshotStageIdentity, StagedSnapshot, StoredState, StorageBatch, WriteOptions } from './storage.js'
export { LevelStorage } from './level-storage.js'
export type { LevelStorageOptions } from './level-storage.js'

/**
 * raft: the pure, synchronous Raft core (etcd-io/raft's shape): `RaftCore` steps messages,
 * ticks and proposals and hands back a `Ready` batch; quorum arithmetic (`quorum.ts`),
 * per-peer progress (`progress.ts`), configuration changes that return a new configuration
 * (`confchange.ts`) and the in-memory log (`log.ts`) each live in their own file. No timers,
 * sockets, promises, clocks or randomness other than the injected `Random`.
 *
 * May import: util, errors. Packages: none (the core stays pure and portable).
 */
export { RaftCore } from './raft.js'
export type { CoreStatus, ProgressStatus, ProposalPosition } from './raft.js'
export { RAFT_DEFAULTS } from './options.js'
export type { RaftOptions } from './options.js'
export type { Ready, ReadState, Role, SoftState, ForwardResult } from './ready.js'
export { MESSAGE_TYPES, message, EMPTY_BYTES, entrySize } from './types.js'
export type { Entry, EntryType, HardState, Message, MessageType, NodeId, ClusterConfig, SnapshotMeta, SnapshotChunk, StoredState } from './types.js'
export { applyConfigChange, encodeConfigChange, decodeConfigChange } from './confchange.js'
export type { ConfigChange, ConfigOperation } from './confchange.js'

/**
 * quorate: Raft consensus for clustered Node.js services.
 *
 * @example
 * import { RaftNode, LevelStorage } from 'quorate'
 * import { MemoryNetwork } from 'quorate/transport'
 */
export { QuorateError, ERROR_CODES, isQuorateError } from './errors.js'
export type { ErrorCode, QuorateErrorOptions } from './errors.js'
export { RaftNode, NODE_DEFAULTS } from './raft/node.js'
export type { RaftNodeOptions, NodeStatus, RaftNodeEvents, TraceEvent, NodeMutations } from './raft/node.js'
export { RaftCore } from './raft/raft.js'
export type { CoreStatus, ProgressStatus, ProposalPosition, RaftMutations } from './raft/raft.js'
export { RAFT_DEFAULTS } from './raft/options.js'
export type { RaftOptions } from './raft/options.js'
export type { Ready, ReadState, Role, SoftState, ForwardResult } from './raft/ready.js'
export type { StateMachine } from './raft/state-machine.js'
export type { RaftStorage, StoredState, StorageBatch, WriteOptions, ComponentStatus } from './raft/storage.js'
export { LevelStorage } from './raft/level-storage.js'
export type { LevelStorageOptions } from './raft/level-storage.js'
export { MESSAGE_TYPES, message, EMPTY_BYTES, entrySize } from './raft/types.js'
export type { Entry, EntryType, HardState, Message, MessageType, NodeId, ClusterConfig, SnapshotMeta, SnapshotChunk } from './raft/types.js'
export type { Transport, TransportStats, MessageHandler } from './transport/transport.js'
export { SystemClock, systemClock } from './util/clock.js'
export type { Clock, Timer } from './util/clock.js'
export { SeededRandom, systemRandom, randomInt } from './util/random.js'
export type { Random } from './util/random.js'

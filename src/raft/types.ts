/**
 * The data types shared by the Raft core, the node shell, storage and transports.
 *
 * Messages have one flat shape (like etcd-io/raft's `raftpb.Message`) so that every
 * message object has the same hidden class on the hot path and the wire codec is a
 * single table. Fields a message type does not use are 0, false, [] or null.
 */

/** A cluster member's id. Any non-empty string; stable across restarts. */
export type NodeId = string

/**
 * - `command`: user data for the state machine.
 * - `noop`: appended by every new leader at the start of its term (§5.4.2, §8) so that
 *   entries of earlier terms commit by counting replicas of a current-term entry.
 * - `config`: a cluster configuration change (data is an encoded `ConfigChange`).
 */
/**
 * The one list of entry kinds. Its order is a format: an entry kind's position is its code
 * in the storage encoding (storage/codec.ts) and its enum value on the wire (the .proto),
 * so a new kind is appended, never inserted.
 */
export const ENTRY_TYPES = ['command', 'noop', 'config'] as const
export type EntryType = typeof ENTRY_TYPES[number]

export interface Entry {
  readonly term: number
  readonly index: number
  readonly type: EntryType
  readonly data: Uint8Array
}

/** The state Raft must persist before it answers any message that depends on it (§5.1, Figure 2). */
export interface HardState {
  /** Latest term this node has seen. Never decreases. */
  readonly term: number
  /** Candidate voted for in `term`, or null. */
  readonly vote: NodeId | null
  /** Highest index known committed. Persisting it is an optimisation, not a safety need. */
  readonly commit: number
}

/** Voters (and, during joint consensus, the outgoing voters) and non-voting learners. */
export interface ClusterConfig {
  readonly voters: readonly NodeId[]
  /** Non-empty only while in a joint configuration (C_old,new): the old voter set. */
  readonly votersOutgoing: readonly NodeId[]
  readonly learners: readonly NodeId[]
}

/** Describes a snapshot: the state machine state through `index` (whose term is `term`). */
export interface SnapshotMeta {
  readonly index: number
  readonly term: number
  readonly config: ClusterConfig
}

export type MessageType =
  | 'append' | 'appendResponse'
  | 'heartbeat' | 'heartbeatResponse'
  | 'vote' | 'voteResponse'
  | 'preVote' | 'preVoteResponse'
  | 'propose' | 'proposeResponse'
  | 'timeoutNow'
  | 'readIndex' | 'readIndexResponse'
  | 'snapshot' | 'snapshotResponse'

/** The message kinds, in wire order. Index in this array is the wire code. */
export const MESSAGE_TYPES: readonly MessageType[] = [
  'append', 'appendResponse', 'heartbeat', 'heartbeatResponse', 'vote', 'voteResponse',
  'preVote', 'preVoteResponse', 'propose', 'proposeResponse', 'timeoutNow', 'readIndex',
  'readIndexResponse', 'snapshot', 'snapshotResponse'
]

/** One chunk of a snapshot in flight (InstallSnapshot). */
export interface SnapshotChunk {
  readonly meta: SnapshotMeta
  /** Byte offset of `data` within the snapshot stream. */
  readonly offset: number
  readonly data: Uint8Array
  readonly done: boolean
  /**
   * SHA-256 of the whole snapshot stream, the same in every chunk of one transfer (empty from
   * senders that predate it). With the sender and meta it identifies the stream: a follower
   * never continues a partial transfer with chunks of another identity.
   */
  readonly digest: Uint8Array
}

export interface Message {
  readonly type: MessageType
  readonly from: NodeId
  readonly to: NodeId
  /** Sender's current term; for preVote, the term the sender would campaign in. */
  readonly term: number
  /**
   * append: term of the entry at `index` (prevLogTerm). vote/preVote: last log term.
   * appendResponse with reject: term of the follower's entry at `rejectHint` (conflict term).
   */
  readonly logTerm: number
  /**
   * append: prevLogIndex. vote/preVote: last log index. appendResponse: the follower's
   * match index on success, the rejected prevLogIndex on reject. proposeResponse: index of
   * the first proposed entry. readIndex(Response): the read index.
   */
  readonly index: number
  /** append/heartbeat: the leader's commit index (capped to what the follower has). */
  readonly commit: number
  readonly entries: readonly Entry[]
  readonly reject: boolean
  /** appendResponse reject: the highest index the follower might match (see Raft §5.3 fast backup). */
  readonly rejectHint: number
  /** Correlates requests and responses (heartbeat/readIndex round, proposal batch id, snapshot offset). */
  readonly context: number
  readonly snapshot: SnapshotChunk | null
}

/** Builds a message with every unused field at its zero value (one hidden class for all). */
export function message (fields: Partial<Message> & Pick<Message, 'type' | 'from' | 'to' | 'term'>): Message {
  return {
    type: fields.type,
    from: fields.from,
    to: fields.to,
    term: fields.term,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    commit: fields.commit ?? 0,
    entries: fields.entries ?? EMPTY_ENTRIES,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    context: fields.context ?? 0,
    snapshot: fields.snapshot ?? null
  }
}

export const EMPTY_ENTRIES: readonly Entry[] = Object.freeze([]) as readonly Entry[]
export const EMPTY_BYTES = new Uint8Array(0)

/** Bytes an entry costs in flow-control and batching limits (payload + fixed overhead). */
export function entrySize (e: Entry): number {
  return e.data.byteLength + 24
}

/** What a node needs to restart. */
export interface StoredState {
  readonly hardState: HardState
  /** Meta of the latest stored snapshot, or null. Entries start at snapshot.index + 1. */
  readonly snapshot: SnapshotMeta | null
  /** Every stored log entry, in index order, contiguous. */
  readonly entries: Entry[]
}

/**
 * The batch of work the pure core hands to its driver (the node shell, or a test), like
 * etcd-io/raft's `Ready`. The driver must process a Ready in this order:
 *
 *   1. send `earlyMessages` (they never depend on this batch being durable);
 *   2. write `truncateFrom` + `entries` + `hardState` in ONE atomic storage write, synced
 *      if `mustSync`;
 *   3. only then send `messages` (they may acknowledge entries or votes of step 2);
 *   4. apply `committed` to the state machine, in order (these entries were durable before
 *      this batch, so a driver may apply them while the write of step 2 is in flight);
 *   5. call `core.advance(ready)`.
 *
 * Only one Ready is outstanding at a time: call `ready()` again only after `advance()`.
 */
import type { Entry, HardState, Message, NodeId } from './types.js'

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader'

export interface SoftState {
  readonly role: Role
  readonly leader: NodeId | null
  readonly term: number
}

/** A confirmed read: once `index` is applied, a read for `context` is linearizable. index -1 = failed (leadership lost). */
export interface ReadState {
  readonly context: number
  readonly index: number
}

/** The leader's answer to a forwarded proposal batch. */
export interface ForwardResult {
  readonly context: number
  /** Index of the first entry of the batch, or 0 if rejected. */
  readonly index: number
  readonly term: number
  readonly rejected: boolean
  /**
   * With `rejected`: the node that refused cannot rule out that it appended an earlier copy
   * of the batch (the transport may duplicate messages), so its outcome is unknown.
   */
  readonly maybeAppended: boolean
  readonly leader: NodeId | null
}

export interface Ready {
  /** Hard state to persist, or null if unchanged. Durable before any of `messages` is sent. */
  readonly hardState: HardState | null
  /** Non-zero: storage drops entries >= truncateFrom, atomically with appending `entries`. */
  readonly truncateFrom: number
  /** Entries to append to storage. Durable before any of `messages` is sent. */
  readonly entries: readonly Entry[]
  /** True when the write must be synced (entries, term or vote changed; not commit alone). */
  readonly mustSync: boolean
  /**
   * The leader's appends and heartbeats: safe to send before this batch is durable, because the
   * leader counts itself in a quorum only for entries it has persisted (Raft thesis §10.2.1).
   */
  readonly earlyMessages: readonly Message[]
  /** Messages to send only after `hardState` and `entries` are durable. */
  readonly messages: readonly Message[]
  /** Committed entries to apply in order. Never uncommitted; always already durable on this node. */
  readonly committed: readonly Entry[]
  /** Role, leader and term as of this batch. */
  readonly soft: SoftState
  /** Reads confirmed (or failed) since the last batch, in request order. */
  readonly readStates: readonly ReadState[]
  /** Answers to proposals this follower forwarded to the leader. */
  readonly forwarded: readonly ForwardResult[]
  /** Follower: snapshot chunks received from the leader, for the driver to assemble (InstallSnapshot). */
  readonly snapshotChunks: readonly Message[]
  /** Leader: acknowledgements of snapshot chunks (context = bytes the follower has). */
  readonly snapshotAcks: readonly Message[]
  /** Leader: followers that fell behind the compacted log and need the stored snapshot streamed. */
  readonly snapshotTargets: readonly NodeId[]
}

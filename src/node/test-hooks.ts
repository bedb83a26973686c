/**
 * Test-only hooks into the node shell, reachable only through `quorate/testing`: the node's
 * own mutation switches (carried with the core's by raft/test-hooks.ts) and read access to
 * the pure core for the simulator's checkers. RaftNode installs the reader from a static
 * block, so its public surface has no `debugCore()` and its options no `mutations` field.
 */
import type { RaftCore } from '../raft/raft.js'
import type { RaftMutations } from '../raft/test-hooks.js'
import { mutationsOf } from '../raft/test-hooks.js'
import type { RaftNode } from './node.js'

export { withMutations } from '../raft/test-hooks.js'
export type { RaftMutations } from '../raft/test-hooks.js'

/** Deliberately broken behaviours for the simulator's mutation check. Never use them otherwise. */
export interface NodeMutations extends RaftMutations {
  /** Do not persist term/vote changes (violates Figure 2's persistent state rule). */
  skipVotePersist?: boolean
  /** Send messages before the batch they acknowledge is durable. */
  ackBeforeDurable?: boolean
  /** Answer reads from local state without confirming leadership. */
  staleReads?: boolean
  /** Leave forwarded proposals pending forever when the leader never answers (issue 12, defect 2). */
  forwardedProposalLeak?: boolean
  /**
   * The snapshot transfer rules before transfers had an identity: continue a partial transfer
   * by index and term alone, at the first chunk at or past the follower's byte count, without a
   * digest check, rewinding on any lower acknowledgement (glues two leaders' byte streams; loops
   * on another chunking).
   */
  snapshotResumeAcrossLeaders?: boolean
  /**
   * Stage received snapshot chunks without sync, so the follower acknowledges bytes that a
   * crash may still lose (the leader then resumes past what the restarted follower holds).
   */
  snapshotAckBeforeStaged?: boolean
}

/** The node's switches: the only writer (withMutations, from quorate/testing) passes NodeMutations. */
export function nodeMutationsOf (options: object): NodeMutations {
  return mutationsOf(options)
}

let readCore: ((node: RaftNode) => RaftCore | null) | undefined

export function installCoreReader (fn: (node: RaftNode) => RaftCore | null): void {
  readCore = fn
}

/**
 * The pure core of `node`, for checkers in the deterministic simulator. Read it, never drive
 * it: the node owns it. Null while the node is closed (or absent).
 */
export function coreOf (node: RaftNode | null | undefined): RaftCore | null {
  return node === null || node === undefined ? null : readCore!(node)
}

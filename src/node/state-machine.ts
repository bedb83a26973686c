/**
 * The state machine plugin interface: what a RaftNode applies committed commands to.
 *
 * Invariants the node guarantees: `apply` is called exactly once per committed command
 * entry on this node, in log order, with strictly increasing `index`, and never for an
 * entry that is not committed. A returned promise is awaited before the next apply.
 * `apply` must be deterministic: the same commands in the same order must produce the same
 * state and results on every replica (no clocks, no randomness, no I/O whose result varies).
 *
 * A state machine that throws from `apply` stops the node (NODE_FAILED): replicas would
 * otherwise diverge. Report command-level failures in the result value instead.
 */
export interface StateMachine<Result = unknown> {
  apply (command: Uint8Array, index: number): Result | Promise<Result>
  /** Serializes the whole state as a stream of chunks (for snapshots and compaction). */
  snapshot? (): AsyncIterable<Uint8Array>
  /** Replaces the whole state with a snapshot produced by `snapshot()`. */
  restore? (chunks: AsyncIterable<Uint8Array>): Promise<void>
}

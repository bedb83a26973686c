/**
 * The state machine plugin interface: what a RaftNode applies committed commands to.
 *
 * Invariants the node guarantees: every committed command entry on this node is applied
 * exactly once, in log order, with strictly increasing indexes, and never an entry that is
 * not committed — either through `apply` (one entry) or `applyBatch` (a run of entries with
 * consecutive indexes). A returned promise is awaited before the next call. Both must be
 * deterministic: the same commands in the same order must produce the same state and results
 * on every replica (no clocks, no randomness, no I/O whose result varies).
 *
 * A state machine that throws from `apply` or `applyBatch` stops the node (NODE_FAILED):
 * replicas would otherwise diverge. Report command-level failures in the result value instead.
 */
import { QuorateError } from '../errors.js'

export interface StateMachine<Result = unknown> {
  apply (command: Uint8Array, index: number): Result | Promise<Result>
  /**
   * Optional: applies `commands[i]` at index `firstIndex + i`, for every i in order, and
   * returns one result per command, in order. Must be exactly equivalent to calling `apply`
   * on each in turn (same results, same state afterwards, however the log is cut into
   * batches: quorate/testing's stateMachineConformance checks it). It exists so a machine can
   * make one write for many entries (one local database batch, say). The node calls it for
   * runs of consecutive committed commands (bounded by RaftNodeOptions.maxApplyBatch and
   * maxApplyBatchBytes; a no-op or configuration entry ends a run), and `apply` for the rest.
   * The node never takes a snapshot while a batch is being applied.
   */
  applyBatch? (commands: readonly Uint8Array[], firstIndex: number): readonly Result[] | Promise<readonly Result[]>
  /**
   * Serializes the whole state as a stream of chunks (for snapshots and compaction). The
   * stream must hold the state as of this call, however late it is read and with later
   * commands applied between its chunks: the node goes on applying while it stores a snapshot
   * (RaftNodeOptions.backgroundSnapshots). Capture what the stream needs in the calling turn
   * (a copy, an immutable view, a database iterator's implicit snapshot).
   */
  snapshot? (): AsyncIterable<Uint8Array>
  /** Replaces the whole state with a snapshot produced by `snapshot()`. */
  restore? (chunks: AsyncIterable<Uint8Array>): Promise<void>
}

/** Whether an apply result is a promise (or any thenable) to await. */
export function isThenable<T = unknown> (value: unknown): value is PromiseLike<T> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<T>).then === 'function'
}

/**
 * `results` if it is what applyBatch must return for `count` commands (an array of exactly
 * that many results); else throws: a machine that lost or invented a result has diverged, and
 * the node stops (NODE_FAILED) rather than resolve proposals with someone else's result.
 */
export function checkBatchResults<T> (results: readonly T[], count: number, who: string, firstIndex: number): readonly T[] {
  if (Array.isArray(results) && results.length === count) return results
  throw new QuorateError('NODE_FAILED', `${who}.applyBatch returned ${Array.isArray(results) ? `${results.length} results` : typeof results} for ${count} commands at indexes ${firstIndex}..${firstIndex + count - 1}`)
}

/**
 * Every error quorate raises is a `QuorateError` with a stable `code` (listed in
 * `ERROR_CODES` and in the README) and, where another error caused it, a `cause`.
 *
 * @example
 * try { await node.propose(cmd) } catch (err) {
 *   if (err instanceof QuorateError && err.code === 'RAFT_NOT_LEADER') retryOn(err.info?.leader)
 * }
 */

/** Stable error codes with a one-line meaning each. Codes never change meaning. */
export const ERROR_CODES = {
  OPTIONS_INVALID: 'An options object failed validation; the message names the field.',
  ABORTED: 'The operation was aborted through its AbortSignal.',
  NODE_NOT_OPEN: 'The component is not open (call open() first, or it was closed).',
  NODE_CLOSED: 'The component was closed while the operation was pending.',
  NODE_FAILED: 'The node stopped after a fatal error (for example a failed fsync); see cause.',
  RAFT_NOT_LEADER: 'This node is not the leader; details.leader names the leader if known.',
  RAFT_PROPOSAL_DROPPED: 'The proposal can never commit: another entry was committed at its index or a later term committed first.',
  RAFT_PROPOSAL_TOO_LARGE: 'The proposal is larger than maxProposalBytes.',
  RAFT_TRANSFER_IN_PROGRESS: 'Leadership is being transferred; proposals are refused until it ends.',
  RAFT_TIMEOUT: 'No answer from the leader in time (forwarded proposal or read), or a refusal of a forward that an earlier copy may have beaten; a proposal outcome is then unknown.',
  RAFT_CONFIG_INVALID: 'A configuration change makes no sense (no voters left, already joint, unknown operation).',
  RAFT_CONFIG_PENDING: 'A configuration change is already in progress, or the leader has not yet committed an entry of its term.',
  RAFT_NOT_MEMBER: 'The node is not a member of the cluster configuration.',
  SESSION_EXPIRED: 'The client session is unknown to the state machine (expired, evicted, closed or never registered); the command was not applied and earlier outstanding commands may or may not have been.',
  SESSION_SEQUENCE_TOO_OLD: 'The command\'s sequence number is below what its session still remembers (its result was discarded); it was not applied again.',
  SESSION_ENVELOPE_INVALID: 'A session envelope (a command starting with the reserved bytes F5 53) could not be decoded; it was not applied.',
  RAFT_INVALID_MESSAGE: 'A Raft message was malformed (bad numbers or fields); it was dropped.',
  STORAGE_CORRUPT: 'Stored data failed its checksum or could not be decoded; the node will not vote or lead.',
  STORAGE_WRITE_FAILED: 'A durable write (or fsync) failed; the node stops rather than retrying silently.',
  STORAGE_READ_FAILED: 'Reading from storage failed.',
  STORAGE_LOCKED: 'The storage directory is locked: another open database (another node or process) is using it.',
  STORAGE_INVALID_RANGE: 'A log range read or truncation was outside the stored log.',
  TRANSPORT_CLOSED: 'The transport is closed.',
  TRANSPORT_UNKNOWN_PEER: 'No address is known for the destination node.',
  WIRE_FRAME_TOO_LARGE: 'A frame announced a length above maxFrameBytes; the connection is closed.',
  WIRE_MALFORMED: 'A frame could not be decoded.',
  WIRE_UNKNOWN_TYPE: 'A frame carried an unknown message kind.',
  WIRE_INVALID_NUMBER: 'A term, index or other counter was not a non-negative safe integer.',
  WIRE_IDENTITY_MISMATCH: 'The sender named in a message does not match the peer certificate identity.',
  WIRE_CLUSTER_MISMATCH: 'The peer belongs to another cluster (cluster id differs).',
  WIRE_VERSION_UNSUPPORTED: 'The peer speaks an unsupported wire protocol version.',
  WIRE_HANDSHAKE_TIMEOUT: 'An inbound connection did not complete TLS and the hello within connectTimeoutMs; it is closed.',
  WIRE_TOO_MANY_PENDING: 'An inbound connection was closed on accept: maxUnauthenticatedConnections were already waiting to authenticate.',
  WIRE_TLS_FAILED: 'The TLS handshake failed (for example the peer certificate is not signed by the cluster CA).',
  TUPLE_INVALID: 'A tuple or pattern contains a value of an unsupported type.',
  TUPLE_HORIZON_EXCEEDED: 'The replica last synced before the cancellation horizon; resync from a full snapshot.',
  TUPLE_SUBSCRIPTION_OVERFLOW: 'A tuple subscriber fell more than maxQueuedChanges behind; its iterator ended with this error.',
  LEASE_FENCED: 'A command carried a fencing token older than one already seen.',
  LEASE_HELD: 'The lease is held by another holder and has not expired.',
  LEASE_NOT_HOLDER: 'The caller does not hold the lease it tried to renew or release.',
  LEASE_EXPIRED: 'The lease expired before the operation completed.',
  LEASE_NOT_READY: 'A restarted node waits one maximum lease duration before it grants leases.',
  CLOCK_NOT_IDLE: 'ManualClock.runUntilIdle reached its timer limit with timers still pending (a periodic timer never goes idle).',
  CHECKER_TIMEOUT: 'The linearizability checker ran out of its time budget (counted as a failure).',
  CHECKER_NOT_LINEARIZABLE: 'assertLinearizable found a history that is not linearizable; the message explains why and details.result holds the counterexample.',
  CHECKER_HISTORY_INVALID: 'A history given to the linearizability checker or its recorder is malformed; the message names the operation.',
  KV_COMMAND_INVALID: 'A key-value workload command (quorate/testing) could not be encoded or decoded.',
  CLUSTER_PROCESS_FAILED: 'A node process could not be started, or exited before it printed its ready line; the message holds its stderr.',
  CLUSTER_REQUEST_INVALID: 'A client request to a cluster node was malformed (bad JSON, unknown type, wrong field types or too large).'
} as const

export type ErrorCode = keyof typeof ERROR_CODES

export interface QuorateErrorOptions {
  cause?: unknown
  /** Structured, code-specific facts (e.g. `{ leader: 'n2' }` for RAFT_NOT_LEADER). */
  details?: Record<string, unknown>
}

export class QuorateError extends Error {
  readonly code: ErrorCode
  /**
   * Structured, code-specific facts (from the `details` constructor option). Named `info`, not
   * `details`, because test runners such as uvu treat an error's `details` as preformatted text.
   */
  readonly info: Record<string, unknown> | undefined

  constructor (code: ErrorCode, message: string, options: QuorateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    // An abort is recognisable the way the platform's are (`err.name === 'AbortError'`, as
    // fetch and node:timers/promises reject), while keeping quorate's stable `code`.
    this.name = code === 'ABORTED' ? 'AbortError' : 'QuorateError'
    this.code = code
    this.info = options.details
  }
}

/** True if `err` is a QuorateError, optionally with the given code. */
export function isQuorateError (err: unknown, code?: ErrorCode): err is QuorateError {
  return err instanceof QuorateError && (code === undefined || err.code === code)
}

/** The error a long operation rejects with when its AbortSignal fires. */
export function abortError (signal: AbortSignal): QuorateError {
  return new QuorateError('ABORTED', 'The operation was aborted', { cause: signal.reason })
}

/** Throws ABORTED if the signal has already fired. */
export function throwIfAborted (signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortError(signal)
}

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
  RAFT_NOT_LEADER: 'This node is not the leader; err.info.leader names the leader if known.',
  RAFT_PROPOSAL_DROPPED: 'The proposal can never commit: another entry was committed at its index or a later term committed first.',
  RAFT_PROPOSAL_TOO_LARGE: 'The proposal is larger than maxProposalBytes.',
  RAFT_TRANSFER_IN_PROGRESS: 'Leadership is being transferred; proposals are refused until it ends.',
  RAFT_TIMEOUT: 'No answer from the leader in time (forwarded proposal or read), or a refusal of a forward that an earlier copy may have beaten; a proposal outcome is then unknown.',
  RAFT_CONFIG_INVALID: 'A configuration change makes no sense (no voters left, already joint, unknown operation).',
  RAFT_CONFIG_PENDING: 'A configuration change is already in progress, or the leader has not yet committed an entry of its term.',
  RAFT_NOT_MEMBER: 'The node is not a member of the cluster configuration.',
  SESSION_EXPIRED: 'The client session is unknown to the state machine (expired, evicted, closed or never registered); the command was not applied and earlier outstanding commands may or may not have been.',
  SESSION_SEQUENCE_TOO_OLD: 'The command\'s sequence number is below what its session still remembers (its result was discarded); it was not applied again.',
  SESSION_ENVELOPE_INVALID: 'A command given to a SessionStateMachine is not a well-formed session envelope; it was not applied.',
  SM_MOUNT_INVALID: 'A state machine could not be mounted on the router (bad or duplicate id, no snapshot()/restore() and not declared stateless, or mounted after the first apply).',
  SM_UNKNOWN_MACHINE: 'A routed command names a member id that is not mounted; it was not applied (returned as the entry result).',
  SM_COMMAND_INVALID: 'A command given to the router does not start with a valid member tag; it was not applied (returned as the entry result).',
  SM_SNAPSHOT_MISMATCH: 'A router snapshot holds a different set of members than the ones mounted; nothing was restored.',
  SM_SNAPSHOT_INVALID: 'A router snapshot stream is malformed (bad header, section or chunk length, truncated or trailing bytes).',
  LEVEL_COMMAND_INVALID: 'A level command (quorate/level) is malformed; it was not applied (returned as the entry result, or thrown by encodeLevelCommand).',
  LEVEL_SNAPSHOT_INVALID: 'A level snapshot stream is malformed (bad version or record tag, truncated, or bytes after its end marker).',
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
  TUPLE_UNKNOWN_REPLICA: 'A replica id or node number is not one the tuple store tracks (options replicas or mirrors).',
  TUPLE_WATCHER_FAILED: 'A TupleStore watch() listener threw; it was removed and the error (as cause) reported to onWatcherError.',
  LEASE_FENCED: 'A command carried a fencing token older than one already seen.',
  LEASE_HELD: 'The lease is held by another holder and has not expired.',
  LEASE_NOT_HOLDER: 'The caller does not hold the lease it tried to renew or release.',
  LEASE_EXPIRED: 'The lease expired before the operation completed.',
  LEASE_NOT_READY: 'A restarted node waits one maximum lease duration before it grants leases.',
  CLOCK_NOT_IDLE: 'ManualClock.runUntilIdle reached its timer limit with timers still pending (a periodic timer never goes idle).',
  CHECKER_TIMEOUT: 'The linearizability checker ran out of its time or step budget (counted as a failure); err.info.result.timedOut names the unfinished sub-histories.',
  CHECKER_NOT_LINEARIZABLE: 'assertLinearizable found a history that is not linearizable; the message explains why and err.info.result holds the counterexample.',
  CHECKER_HISTORY_INVALID: 'A history given to the linearizability checker or its recorder is malformed; the message names the operation.',
  CHECKER_WORKER_FAILED: 'A worker thread of checkLinearizabilityInWorkers could not start, load its model, receive the history or answer.',
  KV_COMMAND_INVALID: 'A key-value workload command (quorate/testing) could not be encoded or decoded.',
  CLUSTER_PROCESS_FAILED: 'A node process could not be started, or exited before it printed its ready line; the message holds its stderr.',
  CLUSTER_REQUEST_INVALID: 'A client request to a cluster node was malformed (bad JSON, unknown type, wrong field types or too large).',
  GRAPH_SCHEMA_INVALID: 'A graph schema declaration is malformed (unknown key, bad name, field type, relation end or root); the message names it.',
  GRAPH_KIND_UNKNOWN: 'A graph write or query named a resource kind the schema does not declare.',
  GRAPH_FIELD_INVALID: 'A resource field is unknown to its kind, of the wrong type, or a required field is missing; err.info.field names it.',
  GRAPH_RELATION_INVALID: 'A relation is not declared, or does not join the kinds of the two resources given.',
  GRAPH_NOT_FOUND: 'A graph transaction updated, marked or connected a resource that does not exist; nothing was applied.',
  GRAPH_KIND_MISMATCH: 'A put named an existing resource of another kind; nothing was applied.',
  GRAPH_CONFLICT: "A graph transaction's compare-and-set precondition failed (err.info.conflicts: id, expected, actual version); nothing was applied.",
  GRAPH_GC_REACHABLE: 'A gc op named a resource that is reachable from a root, kept, or created in the same transaction; nothing was applied.',
  GRAPH_COMMAND_INVALID: 'A graph command or result could not be encoded or decoded; a replica refuses it without applying anything.',
  GRAPH_SNAPSHOT_INVALID: 'A graph snapshot stream is malformed or truncated, or the graph changed while it was streamed.',
  GRAPH_HISTORY_TRIMMED: 'A watch asked for changes older than the replica still retains (historyEntries); read the current state and watch from there.',
  GRAPH_QUERY_INVALID: 'A graph query is malformed (for example a path of too many hops).',
  EVENTS_QUEUE_FULL: 'The events queue is at maxQueuedEvents or maxQueuedBytes, or dedupCapacity ids are remembered within the window; the event was not stored (retry after the consumer trims).',
  EVENTS_NOT_FOUND: 'A handle transaction named an event that is not queued (already handled by another consumer); nothing was applied.',
  EVENTS_EVENT_INVALID: 'An event\'s id is not a string of 1 to 128 characters or its payload is not bytes within maxEventBytes.',
  // agent and its protocol with the coordinator (src/agent)
  AGENT_EVENT_INVALID: 'A failure event (quorate/agent HaEvent) is malformed: unknown type, unknown field or a field of the wrong type; a consumer gets it as a value, not a throw.',
  AGENT_COMMAND_INVALID: 'A command sent to a node agent is malformed (unknown kind or field, missing fence or id); the agent refuses it without acting.',
  AGENT_UNREACHABLE: 'A command could not be delivered to the node agent, or its reply did not arrive; whether it took effect is unknown (resend with the same id).',
  AGENT_SPAWN_FAILED: "The node agent could not spawn a service's command (not found, not executable, bad cwd); the start is refused and nothing runs.",
  AGENT_STATE_INVALID: "The node agent's fence file is damaged; the agent refuses to open rather than guess which coordinator is current.",
  AGENT_CHANNEL_INVALID: 'A frame on the agent command channel is not a JSON object within maxFrameBytes, or a reply does not match its command; the connection is closed.',
  AGENT_IO_FAILED: "The node agent could not write its own files (fence file, instance record, parameters, logs) while executing a command; the command's effect is unknown, resend it with the same id.",
  // coordinator and supervisors (src/coordinator)
  COORDINATOR_STOPPED: 'The coordinator may no longer act: its lease lapsed by its own clock, its supervisor stopped or killed it, or it was run twice; nothing was committed or sent.',
  COORDINATOR_RULE_INVALID: 'A coordinator rule returned a malformed outcome (commands without a node, phases without a subject); the rule\'s part of the decision is dropped and noted in the decision record.',
  COORDINATOR_SCHEMA_INVALID: 'The graph schema given to the coordinator lacks its ha.* kinds or relation as declared (build the schema with coordinatorSchema()).',
  // cluster client path (src/cluster)
  CLUSTER_AUTH_REQUIRED: 'The client endpoint was called without credentials: no client certificate and no bearer token (HTTP 401).',
  CLUSTER_AUTH_FAILED: 'The client endpoint refused the credentials: a certificate not from the cluster CA or without a quorate://client/ identity, or an unknown bearer token (HTTP 401).',
  CLUSTER_FORBIDDEN: "The caller's role may not do this, for example a read-only client proposing (HTTP 403).",
  CLUSTER_TLS_REQUIRED: 'A connection to the TLS client endpoint did not complete a TLS handshake (for example plaintext HTTP); it was closed.',
  CLUSTER_REQUEST_TOO_LARGE: 'A client request body or binary frame was over the endpoint\'s maxRequestBytes (HTTP 413); the connection was closed.',
  CLUSTER_ROUTE_UNKNOWN: 'The client endpoint has no such route (HTTP 404); the routes are POST /, GET /status, /metrics, /health, /view, /graph, /events (and /dashboard when enabled) and the quorate-client/1 upgrade.',
  // operator views (logger, metrics, CLI)
  VIEW_UNREACHABLE: 'The quorate command reached none of the endpoints it was given (refused, timed out, or a TLS failure such as a certificate not from the given CA); it exits 3.',
  // transponder: signed envelopes, relays, assignment (src/transponder)
  TRANSPONDER_ENVELOPE_MALFORMED: 'A transponder envelope (quorate/transponder) is truncated, has trailing bytes, an unknown version or kind, or a payload that disagrees with its signed header; it was refused.',
  TRANSPONDER_SIGNATURE_INVALID: 'A transponder envelope\'s Ed25519 signature does not verify with its sender\'s key: it was altered in transit, forged, or signed with another key; it was refused.',
  TRANSPONDER_UNKNOWN_SIGNER: 'A transponder envelope names a sender with no public key in the key ring; it was refused.',
  TRANSPONDER_WRONG_TARGET: 'A transponder envelope addressed to one node (or station) was delivered to another (a replay); it was refused.',
  TRANSPONDER_SENDER_MISMATCH: 'An agent sent an envelope signed by another node over its downlink (the sender must be the connection\'s identity); the relay refused it.',
  TRANSPONDER_UNDELIVERABLE: 'A relayed command could not be delivered to its agent (not connected to the transponder, or no reply within deliveryTimeoutMs); whether it took effect is unknown (resend with the same id).',
  TRANSPONDER_OVERLOADED: 'A transponder holds maxPendingEnvelopes envelopes waiting for the uplink; the agent should retry (through this or another transponder).',
  TRANSPONDER_NO_TRANSPONDER: 'No live transponder is known to reach the agent (the assignment has no transponders).',
  TRANSPONDER_UPLINK_UNAVAILABLE: 'A transponder could not reach the tracking station over its uplink (connection refused, closed, or not yet re-established after a backoff) before the batch was acknowledged; the relay retries the same batch, which the station appends once.'
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

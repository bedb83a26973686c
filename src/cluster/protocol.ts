/**
 * The client protocol of a cluster node: one JSON request, one JSON response. The same
 * objects travel over the node's HTTP endpoint (http-endpoint.ts) and, in one process,
 * straight into `KvService.handle` — so the retrying `ClusterClient` works with both.
 *
 * - `kv`: propose a key-value command (get/put/cas/append, see quorate/testing's kvModel);
 *   answered once committed and applied on that node, which must be the leader.
 * - `read`: a linearizable read of some keys (ReadIndex, any node; a follower asks the leader).
 * - `status`: the node's role, term, indexes and (unless `hash: false`) a hash of its key-value state.
 *
 * A refused request answers `{ ok: false, code, message, leader }`; `code` is a QuorateError
 * code, and for RAFT_NOT_LEADER `leader` names the leader to retry on (null if unknown).
 */
import { QuorateError } from '../errors.js'
import type { KvInput, KvOutput } from '../kv/semantics.js'
import type { Role } from '../raft/ready.js'
import type { NodeId } from '../raft/types.js'

/** Most keys one `read` request may name. */
export const MAX_READ_KEYS = 100_000

export type ClientRequest =
  | { readonly type: 'kv', readonly input: KvInput }
  | { readonly type: 'read', readonly keys: readonly string[] }
  /** `hash: false` skips hashing the state (cheap polling); `stateHash` is then ''. */
  | { readonly type: 'status', readonly hash?: boolean }

/** A node's view of itself, taken in one synchronous step (so `appliedIndex` and `stateHash` match). */
export interface NodeReport {
  readonly id: NodeId
  readonly pid: number
  readonly role: Role
  readonly term: number
  readonly leader: NodeId | null
  readonly commitIndex: number
  /** Last log index applied (commands, no-ops and config entries alike). */
  readonly appliedIndex: number
  /** Number of keys in the key-value state. */
  readonly keys: number
  /** SHA-256 (hex) of the sorted key-value pairs: equal on replicas at equal `appliedIndex`. '' if not asked for. */
  readonly stateHash: string
  /**
   * The transport's counters (TransportStats: for tcpTransport sent/received/dropped,
   * connections and every rejection by reason, e.g. rejectedHandshakeTimeout,
   * rejectedTooManyPending, rejectedBadCertificate, rejectedBadHello). Absent if the service
   * was not given the transport.
   */
  readonly transport?: Readonly<Record<string, number>>
  /** Requests and connections the client endpoint refused, by error code (absent without an endpoint). */
  readonly rejections?: Readonly<Record<string, number>>
}

export interface ClientFailure {
  readonly ok: false
  readonly code: string
  readonly message: string
  /** For RAFT_NOT_LEADER: the leader to retry on, if known. */
  readonly leader: NodeId | null
}

export type ClientResponse =
  | { readonly ok: true, readonly type: 'kv', readonly output: KvOutput }
  /** `values[i]` is the value of `keys[i]` (null: absent) as of read index `index`. */
  | { readonly ok: true, readonly type: 'read', readonly index: number, readonly values: ReadonlyArray<string | null> }
  | { readonly ok: true, readonly type: 'status', readonly status: NodeReport }
  | ClientFailure

function invalid (message: string): QuorateError {
  return new QuorateError('CLUSTER_REQUEST_INVALID', message)
}

const isText = (v: unknown): v is string => typeof v === 'string'

function parseKvInput (raw: unknown): KvInput {
  if (typeof raw !== 'object' || raw === null) throw invalid('kv request: "input" must be an object')
  const { op, key, value, expected } = raw as Record<string, unknown>
  if (!isText(key)) throw invalid('kv request: "input.key" must be a string')
  switch (op) {
    case 'get': return { op, key }
    case 'put':
    case 'append':
      if (!isText(value)) throw invalid(`kv request: "input.value" of ${op} must be a string`)
      return { op, key, value }
    case 'cas':
      if (!isText(value)) throw invalid('kv request: "input.value" of cas must be a string')
      if (expected !== null && !isText(expected)) throw invalid('kv request: "input.expected" of cas must be a string or null')
      return { op, key, expected, value }
    default:
      throw invalid(`kv request: unknown op ${JSON.stringify(op)}`)
  }
}

/** Validates a decoded JSON request; throws CLUSTER_REQUEST_INVALID naming what is wrong. */
export function parseClientRequest (raw: unknown): ClientRequest {
  if (typeof raw !== 'object' || raw === null) throw invalid('a request must be a JSON object')
  const r = raw as Record<string, unknown>
  switch (r.type) {
    case 'kv': return { type: 'kv', input: parseKvInput(r.input) }
    case 'read': {
      const keys = r.keys
      if (!Array.isArray(keys) || !keys.every(isText)) throw invalid('read request: "keys" must be an array of strings')
      if (keys.length > MAX_READ_KEYS) throw invalid(`read request: at most ${MAX_READ_KEYS} keys (got ${keys.length})`)
      return { type: 'read', keys }
    }
    case 'status':
      if (r.hash !== undefined && typeof r.hash !== 'boolean') throw invalid('status request: "hash" must be a boolean')
      return { type: 'status', hash: r.hash !== false }
    default: throw invalid(`unknown request type ${JSON.stringify(r.type)}`)
  }
}

/** The failure response for an error (a QuorateError keeps its code; anything else is NODE_FAILED). */
export function failureResponse (err: unknown): ClientFailure {
  if (err instanceof QuorateError) {
    const leader = err.info?.leader
    return { ok: false, code: err.code, message: err.message, leader: typeof leader === 'string' ? leader : null }
  }
  return { ok: false, code: 'NODE_FAILED', message: String((err as Error)?.message ?? err), leader: null }
}

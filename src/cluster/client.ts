/**
 * ClusterClient: sends client protocol requests (protocol.ts) to a cluster and retries until
 * one succeeds or the caller's deadline passes. It remembers the leader: a RAFT_NOT_LEADER
 * answer that names one sends the next attempt there; an unreachable node, a timed-out
 * attempt or an unknown leader moves on to the next member.
 *
 * Retrying a proposal whose attempt timed out may apply it twice; the workloads here use
 * idempotent puts (unique keys), for which that is harmless.
 *
 * @example
 * const client = new ClusterClient({ members: ['n1', 'n2', 'n3'], call: (id, req, signal) => httpClientCall(addresses[id], req, signal) })
 * await client.put('k', 'v', { signal: AbortSignal.timeout(10_000) })
 */
import { ERROR_CODES, QuorateError, abortError } from '../errors.js'
import type { NodeId } from '../raft/types.js'
import type { KvInput, KvOutput } from '../kv/semantics.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import type { ClientFailure, ClientRequest, ClientResponse, NodeReport } from './protocol.js'

/** Sends one request to one node; rejects if the node cannot be reached. */
export type ClientCall = (id: NodeId, request: ClientRequest, signal: AbortSignal) => Promise<ClientResponse>

export const DEFAULT_ATTEMPT_TIMEOUT_MS = 1000
export const DEFAULT_RETRY_DELAY_MS = 25
export const DEFAULT_CLIENT_DEADLINE_MS = 30_000

export interface ClusterClientOptions {
  /** The cluster's members, in the order they are tried. */
  readonly members: readonly NodeId[]
  /** How a request reaches a node (e.g. `httpClientCall` to its endpoint). */
  readonly call: ClientCall
  /** One attempt on one node gives up after this many ms. @default DEFAULT_ATTEMPT_TIMEOUT_MS (1000) */
  readonly attemptTimeoutMs?: number
  /** Pause before retrying on another node after a failure. @default DEFAULT_RETRY_DELAY_MS (25) */
  readonly retryDelayMs?: number
  /** Deadline of a request whose caller passes no signal. @default DEFAULT_CLIENT_DEADLINE_MS (30000) */
  readonly deadlineMs?: number
}

const CLIENT_KEYS = Object.keys({ members: true, call: true, attemptTimeoutMs: true, retryDelayMs: true, deadlineMs: true } satisfies Record<keyof ClusterClientOptions, true>)

export function validateClusterClientOptions (options: ClusterClientOptions): void {
  const C = 'ClusterClient'
  checkObject(options as unknown, C, '(options)')
  checkKnownKeys(options, C, CLIENT_KEYS)
  check(Array.isArray(options?.members) && options.members.length > 0 && options.members.every((m) => typeof m === 'string' && m.length > 0),
    C, 'members', 'a non-empty array of node ids', options?.members)
  check(typeof options.call === 'function', C, 'call', 'a function', typeof options.call)
  checkInt(options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS, C, 'attemptTimeoutMs', 1)
  checkInt(options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS, C, 'retryDelayMs', 0)
  checkInt(options.deadlineMs ?? DEFAULT_CLIENT_DEADLINE_MS, C, 'deadlineMs', 1)
}

/** Codes after which the same request may succeed elsewhere or later. */
const RETRYABLE = new Set(['RAFT_NOT_LEADER', 'RAFT_TIMEOUT', 'RAFT_PROPOSAL_DROPPED', 'RAFT_TRANSFER_IN_PROGRESS', 'ABORTED', 'NODE_NOT_OPEN', 'NODE_CLOSED', 'NODE_FAILED'])

type SuccessType = Exclude<ClientResponse, ClientFailure>['type']
type Success<T extends SuccessType> = Extract<ClientResponse, { ok: true, type: T }>

export class ClusterClient {
  readonly #members: readonly NodeId[]
  readonly #call: ClientCall
  readonly #attemptMs: number
  readonly #retryDelayMs: number
  readonly #deadlineMs: number
  #leader: NodeId | null = null
  #next = 0

  constructor (options: ClusterClientOptions) {
    validateClusterClientOptions(options)
    this.#members = [...options.members]
    this.#call = options.call
    this.#attemptMs = options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS
    this.#retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS
    this.#deadlineMs = options.deadlineMs ?? DEFAULT_CLIENT_DEADLINE_MS
  }

  /** The leader as last seen (a hint, not a guarantee). */
  get leader (): NodeId | null { return this.#leader }

  /** Proposes a key-value command; resolves with its result once committed and applied. */
  async command (input: KvInput, options: { signal?: AbortSignal } = {}): Promise<KvOutput> {
    return (await this.#retry({ type: 'kv', input }, 'kv', options.signal)).output
  }

  /** Sets `key` to `value` (committed and applied when this resolves). */
  async put (key: string, value: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.command({ op: 'put', key, value }, options)
  }

  /** Linearizable read of `keys`: values in the same order, null for absent keys. */
  async read (keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Array<string | null>> {
    return [...(await this.#retry({ type: 'read', keys }, 'read', options.signal)).values]
  }

  /**
   * One node's report; rejects if that node does not answer within one attempt timeout.
   * `hash: false` skips hashing its state (for frequent polling).
   */
  async status (id: NodeId, options: { signal?: AbortSignal, hash?: boolean } = {}): Promise<NodeReport> {
    const response = await this.#attempt(id, { type: 'status', hash: options.hash ?? true }, options.signal)
    if (!response.ok) throw toError(response)
    if (response.type !== 'status') throw new QuorateError('CLUSTER_REQUEST_INVALID', `node ${id} answered a status request with ${response.type}`)
    return response.status
  }

  async #retry<T extends SuccessType> (request: ClientRequest, type: T, signal: AbortSignal | undefined): Promise<Success<T>> {
    const deadline = signal ?? AbortSignal.timeout(this.#deadlineMs)
    let last: unknown = null
    for (;;) {
      if (deadline.aborted) {
        throw last === null ? abortError(deadline) : new QuorateError('RAFT_TIMEOUT', `no node completed the ${type} request in time; last error: ${String((last as Error)?.message ?? last)}`, { cause: last })
      }
      const target = this.#leader ?? this.#members[this.#next++ % this.#members.length]!
      let response: ClientResponse
      try {
        response = await this.#attempt(target, request, deadline)
      } catch (err) {
        last = err
        if (this.#leader === target) this.#leader = null
        await pause(this.#retryDelayMs, deadline)
        continue
      }
      if (response.ok) {
        if (response.type !== type) throw new QuorateError('CLUSTER_REQUEST_INVALID', `node ${target} answered a ${type} request with ${response.type}`)
        if (type === 'kv') this.#leader = target
        return response as Success<T>
      }
      last = toError(response)
      if (!RETRYABLE.has(response.code)) throw last
      this.#leader = response.code === 'RAFT_NOT_LEADER' && response.leader !== target && this.#members.includes(response.leader ?? '') ? response.leader : null
      if (this.#leader === null) await pause(this.#retryDelayMs, deadline)
    }
  }

  async #attempt (id: NodeId, request: ClientRequest, signal: AbortSignal | undefined): Promise<ClientResponse> {
    const timeout = AbortSignal.timeout(this.#attemptMs)
    return await this.#call(id, request, signal === undefined ? timeout : AbortSignal.any([signal, timeout]))
  }
}

function toError (failure: ClientFailure): QuorateError {
  const code = Object.hasOwn(ERROR_CODES, failure.code) ? failure.code as keyof typeof ERROR_CODES : 'NODE_FAILED'
  return new QuorateError(code, failure.message, { details: { leader: failure.leader } })
}

async function pause (ms: number, signal: AbortSignal): Promise<void> {
  if (ms === 0 || signal.aborted) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    function done (): void { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}

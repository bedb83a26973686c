/**
 * QuorateClient: the general client of a quorate cluster. It speaks the endpoint's binary
 * protocol over pooled, pipelined TLS connections (stream-connection.ts), follows the leader
 * (RAFT_NOT_LEADER hints, then the other nodes in turn), and proposes every command through
 * a client session (sessions/), so a retry after a timeout, a lost connection or a leader
 * crash is applied at most once: whichever copy commits first is applied and the others are
 * answered from the session's cache.
 *
 * Commands go to any member of the nodes' state-machine router by id (`propose(member,
 * payload)`): 'kv', 'lease', a graph or a user service; `kv` has typed helpers. Every call
 * takes an AbortSignal; without one it gives up at `deadlineMs`.
 *
 * @example
 * const client = new QuorateClient({
 *   nodes: { n1: { host: '10.0.0.1', port: 8001 }, n2: { host: '10.0.0.2', port: 8001 }, n3: { host: '10.0.0.3', port: 8001 } },
 *   credentials: { ca: readFileSync('ca.crt'), cert: readFileSync('app.crt'), key: readFileSync('app.key') }
 * })
 * await client.kv.put('greeting', 'hello')
 * console.log(await client.kv.read(['greeting']))   // ['hello']
 * await client.close()
 */
import { QuorateError, abortError, isQuorateError } from '../errors.js'
import { Transaction } from '../graph/client.js'
import { encodeCommand as encodeGraphCommand } from '../graph/codec.js'
import type { GraphResult } from '../graph/codec.js'
import type { Schema, SchemaSpec } from '../graph/schema.js'
import { toResult, unlessRefused } from '../graph/submit.js'
import { encodeKvCommand } from '../kv/command.js'
import type { KvInput, KvOutput } from '../kv/semantics.js'
import type { NodeId } from '../raft/types.js'
import { ClientSession, isRetryableProposalError } from '../sessions/client.js'
import type { ProposeFn } from '../sessions/client.js'
import { checkMachineId, prefixed, routePrefix } from '../sm/route-id.js'
import type { TcpAddress } from '../transport/tcp.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { MAX_REQUEST_BYTES } from './http-endpoint.js'
import type { NodeReport } from './protocol.js'
import { StreamConnection } from './stream-connection.js'
import type { ClientCredentials } from './stream-connection.js'
import { OP_PROPOSE, OP_READ, OP_STATUS } from './wire.js'

/** The router member the nodes mount the session machine under (cluster-node.ts). */
export const SESSION_MEMBER = 'session'
/** The router member a node mounts the graph under when its config has `graph`. */
export const GRAPH_MEMBER = 'graph'

export const QUORATE_CLIENT_DEFAULTS = {
  connectionsPerNode: 2,
  attemptTimeoutMs: 2000,
  deadlineMs: 30_000,
  backoffMs: 10,
  maxBackoffMs: 250
} as const

export interface QuorateClientOptions {
  /** Every node's client endpoint, by node id. */
  readonly nodes: Readonly<Record<NodeId, TcpAddress>>
  /** The cluster CA and a client certificate, or a token; `{ insecure: true }` for a plaintext endpoint. */
  readonly credentials: ClientCredentials
  /** Connections kept to each node; requests are spread over them. @default 2 */
  readonly connectionsPerNode?: number
  /** An attempt without an answer is abandoned (and, for a proposal, retried: deduplicated) after this many ms. @default 2000 */
  readonly attemptTimeoutMs?: number
  /** How long a call without a signal may take in all. @default 30000 */
  readonly deadlineMs?: number
  /** First pause between attempts (doubling, jittered). @default 10 */
  readonly backoffMs?: number
  /** Longest pause between attempts. @default 250 */
  readonly maxBackoffMs?: number
}

const KEYS = Object.keys({
  nodes: true, credentials: true, connectionsPerNode: true, attemptTimeoutMs: true, deadlineMs: true, backoffMs: true, maxBackoffMs: true
} satisfies Record<keyof QuorateClientOptions, true>)
const CREDENTIAL_KEYS = Object.keys({ ca: true, cert: true, key: true, token: true, insecure: true } satisfies Record<keyof ClientCredentials, true>)

export function validateQuorateClientOptions (options: QuorateClientOptions): void {
  const C = 'QuorateClient'
  checkObject(options as unknown, C, '(options)')
  checkKnownKeys(options, C, KEYS)
  check(typeof options.nodes === 'object' && options.nodes !== null && Object.keys(options.nodes).length > 0, C, 'nodes', 'an object of node id to { host, port }', options.nodes)
  for (const [id, a] of Object.entries(options.nodes)) {
    check(typeof a?.host === 'string' && a.host.length > 0 && Number.isInteger(a.port) && a.port > 0 && a.port < 65536, C, `nodes.${id}`, 'an address { host, port }', a)
  }
  const c = options.credentials
  checkObject(c as unknown, C, 'credentials')
  checkKnownKeys(c, `${C} credentials`, CREDENTIAL_KEYS)
  check(c.insecure === undefined || typeof c.insecure === 'boolean', C, 'credentials.insecure', 'a boolean', c.insecure)
  if (c.insecure !== true) {
    check(c.ca !== undefined, C, 'credentials.ca', 'the cluster CA certificate (PEM), or insecure: true', c.ca)
    check(c.token !== undefined || (c.cert !== undefined && c.key !== undefined), C, 'credentials', 'a client certificate (cert and key) or a token', Object.keys(c))
  }
  check(c.token === undefined || (typeof c.token === 'string' && /^[\x21-\x7e]+$/.test(c.token)), C, 'credentials.token', 'a string of printable ASCII without spaces', typeof c.token)
  checkInt(options.connectionsPerNode ?? QUORATE_CLIENT_DEFAULTS.connectionsPerNode, C, 'connectionsPerNode', 1, 64)
  checkInt(options.attemptTimeoutMs ?? QUORATE_CLIENT_DEFAULTS.attemptTimeoutMs, C, 'attemptTimeoutMs', 1)
  checkInt(options.deadlineMs ?? QUORATE_CLIENT_DEFAULTS.deadlineMs, C, 'deadlineMs', 1)
  checkInt(options.backoffMs ?? QUORATE_CLIENT_DEFAULTS.backoffMs, C, 'backoffMs', 0)
  checkInt(options.maxBackoffMs ?? QUORATE_CLIENT_DEFAULTS.maxBackoffMs, C, 'maxBackoffMs', 0)
}

/** Failures after which a read or status request may succeed on another node or later. */
function retryableRead (err: unknown): boolean { return isRetryableProposalError(err) }

export interface CallOptions {
  readonly signal?: AbortSignal
}

/**
 * Writes to the graph member ('graph') of nodes that mount one: transactions built and checked
 * against the schema here, committed exactly once; events emitted to its queue. (Reads need
 * a replica: quorate/graph's Graph on a node.)
 */
export interface RemoteGraph<S extends SchemaSpec> {
  /** A transaction whose `commit()` proposes through this client (refusals reject with their code: GRAPH_CONFLICT, LEASE_FENCED, ...). */
  transaction (): Transaction<S>
  /** Queues an event; 'duplicate' if one with this id was already committed. */
  emit (event: { readonly id: string, readonly payload: Uint8Array }, options?: CallOptions): Promise<'stored' | 'duplicate'>
}

/** Typed helpers for the key-value member ('kv'). */
export interface KvClient {
  command (input: KvInput, options?: CallOptions): Promise<KvOutput>
  put (key: string, value: string, options?: CallOptions): Promise<void>
  /** Appends and resolves with the new value. */
  append (key: string, value: string, options?: CallOptions): Promise<string>
  /** Sets `key` to `value` if it holds `expected` (null: absent); resolves with whether it did. */
  cas (key: string, expected: string | null, value: string, options?: CallOptions): Promise<boolean>
  /** Linearizable read of `keys` (ReadIndex, no log entry): values in order, null for absent. */
  read (keys: readonly string[], options?: CallOptions): Promise<Array<string | null>>
}

export class QuorateClient {
  readonly kv: KvClient
  readonly #ids: readonly NodeId[]
  readonly #addresses: Readonly<Record<NodeId, TcpAddress>>
  readonly #credentials: ClientCredentials
  readonly #perNode: number
  readonly #attemptMs: number
  readonly #deadlineMs: number
  readonly #backoffMs: number
  readonly #maxBackoffMs: number
  readonly #pools = new Map<NodeId, Array<StreamConnection | undefined>>()
  readonly #proposers = new Map<NodeId, ProposeFn>()
  readonly #sessionPrefix = routePrefix(SESSION_MEMBER)
  readonly #prefixes = new Map<string, Uint8Array>()
  #session: ClientSession
  #leader: NodeId | null = null
  #next = 0
  #turn = 0
  #closed = false
  #attempts = 0
  #proposals = 0

  constructor (options: QuorateClientOptions) {
    validateQuorateClientOptions(options)
    this.#ids = Object.keys(options.nodes)
    this.#addresses = { ...options.nodes }
    this.#credentials = { ...options.credentials }
    this.#perNode = options.connectionsPerNode ?? QUORATE_CLIENT_DEFAULTS.connectionsPerNode
    this.#attemptMs = options.attemptTimeoutMs ?? QUORATE_CLIENT_DEFAULTS.attemptTimeoutMs
    this.#deadlineMs = options.deadlineMs ?? QUORATE_CLIENT_DEFAULTS.deadlineMs
    this.#backoffMs = options.backoffMs ?? QUORATE_CLIENT_DEFAULTS.backoffMs
    this.#maxBackoffMs = options.maxBackoffMs ?? QUORATE_CLIENT_DEFAULTS.maxBackoffMs
    for (const id of this.#ids) {
      this.#proposers.set(id, (command, { signal }) => {
        this.#attempts++
        return this.#send(id, OP_PROPOSE, command, signal, this.#sessionPrefix)
      })
    }
    this.#session = this.#newSession()
    this.kv = this.#kvClient()
  }

  /** The leader as last seen (a hint, not a guarantee). */
  get leader (): NodeId | null { return this.#leader }

  /** Proposals made (registration and close included) and the attempts they took: attempts above proposals were retries. */
  get stats (): { readonly proposals: number, readonly attempts: number } { return { proposals: this.#proposals, attempts: this.#attempts } }

  /** The session's client id once registered (null before the first proposal). */
  get sessionId (): number | null { return this.#session.clientId }

  /**
   * Proposes `payload` to router member `member`, exactly once; resolves with the member's
   * apply result. A QuorateError the member answers (GRAPH_CONFLICT, LEASE_FENCED, ...) is
   * thrown. Rejects with ABORTED / RAFT_TIMEOUT when the signal or deadline fires first (the
   * command may then still commit, once), CLUSTER_FORBIDDEN for a read-only credential.
   */
  propose (member: string, payload: Uint8Array, options: CallOptions = {}): Promise<unknown> {
    if (!(payload instanceof Uint8Array)) return Promise.reject(new QuorateError('OPTIONS_INVALID', 'QuorateClient.propose: payload must be a Uint8Array'))
    let command: Uint8Array
    try {
      command = prefixed(this.#prefix(member), payload)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#proposeRouted(command, options)
  }

  /**
   * Proposes a routed command (`[id length][member id][payload]`) through the session. Not
   * async: the session's promise and one continuation per call.
   */
  #proposeRouted (command: Uint8Array, options: CallOptions): Promise<unknown> {
    const session = this.#session
    this.#proposals++
    const first = this.#proposers.get(this.#leader ?? this.#ids[0]!)!
    // Without a caller's signal the deadline is checked before each retry (no timer and no
    // signal per call); each attempt is bounded by attemptTimeoutMs.
    const deadlineAt = options.signal === undefined ? performance.now() + this.#deadlineMs : Infinity
    return session.propose(first, command, {
      signal: options.signal,
      nextTarget: (context) => {
        if (performance.now() >= deadlineAt) throw this.#timedOut(context.error)
        return this.#proposers.get(this.#retarget(context))!
      }
    }).then(unlessErrorValue, this.#onProposalFailed)
  }

  /** An expired session refused the command (not applied); later calls get a new session. */
  readonly #onProposalFailed = (err: unknown): never => {
    if (isQuorateError(err, 'SESSION_EXPIRED') && this.#session.ended && !this.#closed) this.#session = this.#newSession()
    throw err
  }

  /** Typed writes to the nodes' graph member (config `graph`), checked against `schema`. */
  graph<S extends SchemaSpec> (schema: Schema<S>): RemoteGraph<S> {
    const submit = async (command: Uint8Array, options?: CallOptions): Promise<unknown> => await this.propose(GRAPH_MEMBER, command, options)
    return {
      // A Transaction needs only submit (and now); the local replica is for reads, which stay on nodes.
      transaction: () => new Transaction(schema, { submit, machine: undefined as never }),
      emit: async (event, options) => {
        const time = Math.max(0, Math.floor(Date.now()))
        const result = unlessRefused<GraphResult>(toResult(await submit(encodeGraphCommand({ type: 'emit', time, id: event.id, payload: event.payload }), options)))
        if (result.status !== 'stored' && result.status !== 'duplicate') throw new QuorateError('GRAPH_COMMAND_INVALID', `an emit answered ${result.status}`)
        return result.status
      }
    }
  }

  /** One node's report (no retries on other nodes); `hash: false` skips hashing its state. */
  async status (id: NodeId, options: CallOptions & { hash?: boolean } = {}): Promise<NodeReport> {
    if (!this.#ids.includes(id)) throw new QuorateError('OPTIONS_INVALID', `unknown node ${JSON.stringify(id)} (nodes: ${this.#ids.join(', ')})`)
    const signal = options.signal === undefined ? AbortSignal.timeout(this.#attemptMs) : AbortSignal.any([options.signal, AbortSignal.timeout(this.#attemptMs)])
    return await this.#send(id, OP_STATUS, Uint8Array.of(options.hash === false ? 0 : 1), signal) as NodeReport
  }

  /** Closes the session on the cluster (best effort, one attempt timeout) and every connection. Idempotent. */
  async close (): Promise<void> {
    if (this.#closed) return
    if (this.#session.clientId !== null) {
      await this.#session.close(this.#proposers.get(this.#leader ?? this.#ids[0]!)!, { signal: AbortSignal.timeout(this.#attemptMs) }).catch(() => {})
    }
    this.#closed = true
    for (const pool of this.#pools.values()) for (const c of pool) c?.close()
    this.#pools.clear()
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  #newSession (): ClientSession {
    return new ClientSession({
      maxAttempts: Number.MAX_SAFE_INTEGER,
      // The connections time out each request at attemptTimeoutMs (one sweep per connection,
      // stream-connection.ts) and honour the signal, so the session needs no timer, no
      // AbortController and no listener per attempt: they were a tenth of the client's CPU.
      attemptTimeoutMs: Infinity,
      backoffMs: this.#backoffMs,
      maxBackoffMs: this.#maxBackoffMs,
      // Registration and close; proposals pass their own (deadline-checking) nextTarget.
      nextTarget: (context) => this.#proposers.get(this.#retarget(context))!,
      // Once closed, nothing is retried: pending calls settle now, not at their deadline.
      isRetryable: (error) => !this.#closed && isRetryableProposalError(error)
    })
  }

  #prefix (member: string): Uint8Array {
    let p = this.#prefixes.get(member)
    if (p === undefined) {
      checkMachineId(member, 'QuorateClient.propose')
      p = routePrefix(member)
      this.#prefixes.set(member, p)
    }
    return p
  }

  /** Where the attempt after a failed one goes: the named leader, else the next node. */
  #retarget (context: { leader: NodeId | null, target: unknown }): NodeId {
    const failed = [...this.#proposers].find(([, p]) => p === context.target)?.[0] ?? null
    if (context.leader !== null && context.leader !== failed && this.#proposers.has(context.leader)) {
      this.#leader = context.leader
      return context.leader
    }
    if (this.#leader === failed) this.#leader = null
    return this.#leader ?? this.#ids[this.#next++ % this.#ids.length]!
  }

  #timedOut (last: unknown): QuorateError {
    return new QuorateError('RAFT_TIMEOUT', `no node completed the request within ${this.#deadlineMs} ms (the command may still commit, at most once); last error: ${String((last as Error)?.message ?? last)}`, { cause: last })
  }

  /** Sends on one of `id`'s pooled connections (opening it if needed); records the leader on a proposal's success. */
  #send (id: NodeId, op: number, body: Uint8Array, signal: AbortSignal | undefined, prefix?: Uint8Array): Promise<unknown> {
    // Not async, and no await once the connection is up: the request's own promise, nothing
    // more (the connection records the leader when a proposal is answered).
    if (this.#closed) return Promise.reject(new QuorateError('NODE_CLOSED', 'QuorateClient is closed'))
    const connection = this.#connection(id)
    return connection.usable ? connection.request(op, body, signal, prefix) : connection.ready.then(() => connection.request(op, body, signal, prefix))
  }

  #connection (id: NodeId): StreamConnection {
    let pool = this.#pools.get(id)
    if (pool === undefined) { pool = []; this.#pools.set(id, pool) }
    const slot = this.#turn++ % this.#perNode
    let c = pool[slot]
    if (c === undefined || c.closed) {
      c = new StreamConnection(this.#addresses[id]!, id, this.#credentials, MAX_REQUEST_BYTES, this.#attemptMs, () => { this.#leader = id })
      pool[slot] = c
    }
    return c
  }

  /** A read on the leader if known, else on the nodes in turn, retried until the signal fires. */
  async #read (op: number, body: Uint8Array, options: CallOptions): Promise<unknown> {
    const signal = options.signal ?? AbortSignal.timeout(this.#deadlineMs)
    let last: unknown = null
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw new QuorateError('NODE_CLOSED', 'QuorateClient is closed')
      if (signal.aborted) throw last === null ? abortError(signal) : new QuorateError('RAFT_TIMEOUT', `no node answered the read before the deadline: ${String((last as Error).message)}`, { cause: last })
      const target = this.#leader ?? this.#ids[this.#next++ % this.#ids.length]!
      try {
        return await this.#send(target, op, body, AbortSignal.any([signal, AbortSignal.timeout(this.#attemptMs)]))
      } catch (err) {
        if (signal.aborted) continue
        if (!retryableRead(err)) throw err
        last = err
        this.#retarget({ leader: isQuorateError(err) && typeof err.info?.leader === 'string' ? err.info.leader : null, target: this.#proposers.get(target) })
        await pause(Math.min(this.#maxBackoffMs, this.#backoffMs * 2 ** Math.min(attempt - 1, 16)), signal)
      }
    }
  }

  #kvClient (): KvClient {
    const kvPrefix = this.#prefix('kv')
    // The routed command in one allocation, and one continuation that checks and maps the output.
    const run = <T>(input: KvInput, options: CallOptions | undefined, output: (o: KvOutput) => T): Promise<T> => {
      let command: Uint8Array
      try {
        command = encodeKvCommand(input, kvPrefix)
      } catch (err) {
        return Promise.reject(err)
      }
      return this.#proposeRouted(command, options ?? NO_CALL_OPTIONS).then(output as (o: unknown) => T)
    }
    return {
      command: (input, options) => run(input, options, kvOutput),
      put: (key, value, options) => run({ op: 'put', key, value }, options, kvNothing),
      append: (key, value, options) => run({ op: 'append', key, value }, options, kvAppended),
      cas: (key, expected, value, options) => run({ op: 'cas', key, expected, value }, options, kvSwapped),
      read: async (keys, options = {}) => {
        const answer = await this.#read(OP_READ, Buffer.from(JSON.stringify(keys), 'utf8'), options) as { values: Array<string | null> }
        return answer.values
      }
    }
  }
}

const NO_CALL_OPTIONS: CallOptions = Object.freeze({})

/** A member's QuorateError answer is thrown; anything else is the result. */
function unlessErrorValue (result: unknown): unknown {
  if (isQuorateError(result)) throw result
  return result
}

/** The kv member's output, or KV_COMMAND_INVALID for its `error` output. */
function kvOutput (output: KvOutput): KvOutput {
  if (output.op === 'error') throw new QuorateError('KV_COMMAND_INVALID', output.message)
  return output
}
function kvNothing (output: KvOutput): void { kvOutput(output) }
function kvAppended (output: KvOutput): string { return (kvOutput(output) as { value: string }).value }
function kvSwapped (output: KvOutput): boolean { return (kvOutput(output) as { ok: boolean }).ok }

async function pause (ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    function done (): void { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}

/**
 * KvService: answers client protocol requests (protocol.ts) for one RaftNode replicating a
 * KvStateMachine. Transport-agnostic: the HTTP endpoint and in-process callers both use
 * `handle`, which never throws — every failure becomes a `{ ok: false, code }` response.
 */
import { createHash } from 'node:crypto'
import { QuorateError, abortError } from '../errors.js'
import type { RaftNode } from '../node/node.js'
import type { TransportStats } from '../transport/transport.js'
import { encodeKvCommand } from '../kv/command.js'
import type { KvOutput } from '../kv/semantics.js'
import type { KvStateMachine } from '../kv/state-machine.js'
import { Route } from '../sm/route.js'
import { StateMachineRouter } from '../sm/router.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { failureResponse, parseClientRequest } from './protocol.js'
import type { ClientResponse, NodeReport } from './protocol.js'

/** Default time a proposal or read may take before the node answers ABORTED (outcome unknown). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000

/** The options of a proposal without a deadline, shared (RaftNode.propose only reads them). */
const NO_OPTIONS: { signal?: AbortSignal } = Object.freeze({})

export interface KvServiceOptions {
  /** The node; the service neither opens nor closes it. */
  readonly node: RaftNode
  /** The key-value member of the node's router: proposals are tagged for it, reads answer from its machine. */
  readonly kv: Route<KvStateMachine>
  /** A proposal or read still pending after this many ms is answered ABORTED (a proposal may still commit). @default DEFAULT_REQUEST_TIMEOUT_MS (5000) */
  readonly requestTimeoutMs?: number
  /** The transport's counters, included in status reports so operators see refused connections. @default undefined (not reported) */
  readonly transportStats?: () => TransportStats
  /** The node's router: `proposeRouted` accepts commands for its members only. @default undefined (proposeRouted refuses everything) */
  readonly router?: StateMachineRouter
}

const KV_SERVICE_KEYS = Object.keys({ node: true, kv: true, requestTimeoutMs: true, transportStats: true, router: true } satisfies Record<keyof KvServiceOptions, true>)

export function validateKvServiceOptions (options: KvServiceOptions): void {
  checkObject(options as unknown, 'KvService', '(options)')
  checkKnownKeys(options, 'KvService', KV_SERVICE_KEYS)
  if (typeof options?.node?.propose !== 'function') throw new QuorateError('OPTIONS_INVALID', 'KvService: option "node" must be a RaftNode')
  if (!(options.kv instanceof Route) || typeof (options.kv.machine as Partial<KvStateMachine>).entries !== 'function') throw new QuorateError('OPTIONS_INVALID', 'KvService: option "kv" must be the Route of a KvStateMachine (router.mount(\'kv\', new KvStateMachine()))')
  checkInt(options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, 'KvService', 'requestTimeoutMs', 1)
  check(options.router === undefined || options.router instanceof StateMachineRouter, 'KvService', 'router', 'a StateMachineRouter', typeof options.router)
  check(options.transportStats === undefined || typeof options.transportStats === 'function', 'KvService', 'transportStats', 'a function returning the transport\'s stats', typeof options.transportStats)
}

/** SHA-256 (hex) of a state machine's sorted key-value pairs. */
export function kvStateHash (machine: KvStateMachine): string {
  const hash = createHash('sha256')
  for (const [key, value] of machine.entries()) {
    // Length prefixes keep ("ab","c") and ("a","bc") apart.
    hash.update(`${key.length}:${key}${value.length}:${value}`)
  }
  return hash.digest('hex')
}

export class KvService {
  readonly #node: RaftNode
  readonly #machine: KvStateMachine
  readonly #kv: Route<KvStateMachine>
  readonly #transportStats: (() => TransportStats) | undefined
  readonly #timeoutMs: number
  readonly #router: StateMachineRouter | undefined
  /** Route prefixes of the router's members, taken on first use (members are fixed once the node applies). */
  #prefixes: Uint8Array[] | null = null
  /** Set by the client endpoint: its rejection counts, by code, for status reports. */
  rejections: (() => Readonly<Record<string, number>>) | undefined

  constructor (options: KvServiceOptions) {
    validateKvServiceOptions(options)
    this.#node = options.node
    this.#kv = options.kv
    this.#machine = options.kv.machine
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.#transportStats = options.transportStats
    this.#router = options.router
  }

  get node (): RaftNode { return this.#node }

  /** The node's status and (unless `hash` is false) a hash of its state, taken in one synchronous step. */
  report (hash = true): NodeReport {
    const s = this.#node.status()
    return {
      id: s.id,
      pid: process.pid,
      role: s.role,
      term: s.term,
      leader: s.leader,
      commitIndex: s.commitIndex,
      appliedIndex: s.appliedIndex,
      keys: this.#machine.size,
      stateHash: hash ? kvStateHash(this.#machine) : '',
      ...(this.#transportStats === undefined ? {} : { transport: this.#transportStats() }),
      ...(this.rejections === undefined ? {} : { rejections: this.rejections() })
    }
  }

  /** True if `command` is addressed (by its route prefix) to a member of the router. */
  isRouted (command: Uint8Array): boolean {
    this.#prefixes ??= (this.#router?.ids ?? []).map((id) => this.#router!.route(id)!.prefix)
    outer: for (const p of this.#prefixes) {
      if (command.length < p.length) continue
      for (let i = 0; i < p.length; i++) if (command[i] !== p[i]) continue outer
      return true
    }
    return false
  }

  /**
   * Proposes a routed log command (`[id length][member id][payload]`) for any mounted member;
   * resolves with the member's apply result (which may be a QuorateError value). Rejects with
   * CLUSTER_REQUEST_INVALID for a command no member is mounted for, or the node's refusal.
   * `deadline` ends the wait (ABORTED; the command may still commit); it should include the
   * service's request timeout. `null`: no deadline — the proposal then settles only when it
   * commits, when the node learns a newer term's entry at or past it (RAFT_PROPOSAL_DROPPED;
   * a deposed leader learns it once it hears from the new one), or when the node closes; it
   * costs the node no abort listener per proposal.
   */
  proposeRouted (command: Uint8Array, deadline: AbortSignal | null = this.deadline()): Promise<unknown> {
    // Not async: the node's own promise, without a wrapping one (the endpoint calls this per request).
    if (!this.isRouted(command)) return Promise.reject(new QuorateError('CLUSTER_REQUEST_INVALID', `no member is mounted for this command (mounted: ${(this.#router?.ids ?? []).join(', ')})`))
    return this.#node.propose(command, deadline === null ? NO_OPTIONS : { signal: deadline })
  }

  /** A linearizable read of kv keys: the read index and the values (null: absent). */
  async readKeys (keys: readonly string[], deadline: AbortSignal = this.deadline()): Promise<{ index: number, values: Array<string | null> }> {
    const index = await untilAborted(this.#node.read({ signal: deadline }), deadline)
    return { index, values: keys.map((k) => this.#machine.get(k)) }
  }

  /** Pending requests are answered ABORTED after this many ms (pass `deadline()` or your own, shorter, signal). */
  get requestTimeoutMs (): number { return this.#timeoutMs }

  /** `signal` (if any) combined with the service's request timeout. */
  deadline (signal?: AbortSignal): AbortSignal {
    const timeout = AbortSignal.timeout(this.#timeoutMs)
    return signal === undefined ? timeout : AbortSignal.any([signal, timeout])
  }


  /**
   * Answers one request (a decoded JSON value, validated here). `signal` aborts it, for
   * example when the client disconnects; the service's own timeout applies as well.
   */
  async handle (raw: unknown, signal?: AbortSignal): Promise<ClientResponse> {
    try {
      const request = parseClientRequest(raw)
      if (request.type === 'status') return { ok: true, type: 'status', status: this.report(request.hash) }
      if (request.type === 'kv') {
        const output = await this.#node.propose(this.#kv.command(encodeKvCommand(request.input)), { signal: this.deadline(signal) }) as KvOutput
        return { ok: true, type: 'kv', output }
      }
      const { index, values } = await this.readKeys(request.keys, this.deadline(signal))
      return { ok: true, type: 'read', index, values }
    } catch (err) {
      return failureResponse(err)
    }
  }
}

/** `promise`, or ABORTED once `signal` fires (node.read's wait for apply takes no signal). */
async function untilAborted<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(abortError(signal)) }
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort!)
    promise.catch(() => {})
  }
}

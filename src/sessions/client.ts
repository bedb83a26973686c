/**
 * ClientSession: the client half of exactly-once proposals. It numbers commands, wraps them
 * in session envelopes and retries a failed attempt with the SAME sequence number (on the
 * same node or one `nextTarget` picks), so a command whose first attempt did commit is
 * answered from the SessionStateMachine's cache instead of being applied again.
 *
 * The GC watermark sent with every command is the lowest sequence number still in flight:
 * once a command settles (answered, refused or given up) it is never retried, so the
 * machine may forget its result.
 */
import { QuorateError, abortError, isQuorateError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import type { NodeId } from '../raft/types.js'
import type { Clock, Timer } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import type { Random } from '../util/random.js'
import { systemRandom } from '../util/random.js'
import { check, checkInt, checkKnownKeys } from '../util/validate.js'
import { encodeClose, encodeRegister, encodeSessionCommand } from './codec.js'

/** Proposes one command; resolves with the apply result. `RaftNode.propose` has this shape. */
export type ProposeFn = (command: Uint8Array, options: { signal?: AbortSignal }) => Promise<unknown>

/** Anything with a `propose` like RaftNode's (a RaftNode, or a client stub for a remote node). */
export interface Proposer {
  propose (command: Uint8Array, options?: { signal?: AbortSignal }): Promise<unknown>
}

export type ProposeTarget = Proposer | ProposeFn

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number
  /** An attempt with no answer after this long is abandoned (its command may still commit) and retried. */
  attemptTimeoutMs: number
  /** Pause before the first retry; doubles per retry, with jitter in [50 %, 100 %]. */
  backoffMs: number
  /** Longest pause between attempts. */
  maxBackoffMs: number
}

/** What `nextTarget` learns about the attempt that just failed. */
export interface RetryContext {
  readonly error: unknown
  /** Number of the attempt that failed (1 for the first). */
  readonly attempt: number
  readonly target: ProposeTarget
  /** The leader named by a RAFT_NOT_LEADER error, if any. */
  readonly leader: NodeId | null
}

export const CLIENT_SESSION_DEFAULTS = {
  nextSequence: 1,
  maxAttempts: 10,
  attemptTimeoutMs: 5_000,
  backoffMs: 10,
  maxBackoffMs: 1_000
} as const

export interface ClientSessionOptions {
  /** Resume a session registered earlier. @default none: registered on first use */
  clientId?: number
  /**
   * First sequence number to use. When resuming a session, start above every number used
   * before: a reused number is answered with the old command's result. @default 1
   */
  nextSequence?: number
  /** Attempts in all, the first included. @default 10 */
  maxAttempts?: number
  /**
   * Abandon and retry an attempt with no answer after this many ms. `Infinity`: no timer, no
   * AbortController and no listener per attempt — for a target that settles every attempt by
   * itself and honours the signal it is given (QuorateClient's connections do). @default 5000
   */
  attemptTimeoutMs?: number
  /** Pause before the first retry (doubling, jittered). @default 10 */
  backoffMs?: number
  /** Longest pause between attempts. @default 1000 */
  maxBackoffMs?: number
  /** Picks where the next attempt goes (for example the current leader). @default the same target */
  nextTarget?: (context: RetryContext) => ProposeTarget | Promise<ProposeTarget>
  /** Which failures are worth another attempt. @default isRetryableProposalError */
  isRetryable?: (error: unknown) => boolean
  /** Timers for attempt timeouts and backoff. @default systemClock */
  clock?: Clock
  /** Backoff jitter. @default systemRandom */
  random?: Random
}

export interface SessionProposeOptions {
  signal?: AbortSignal
  /** Overrides the session's retry policy for this call. */
  retry?: Partial<RetryPolicy>
  /** Overrides the session's `nextTarget` for this call. */
  nextTarget?: ClientSessionOptions['nextTarget']
}

const C = 'ClientSessionOptions'

function validateRetry (r: Partial<RetryPolicy>, component: string): void {
  if (r.maxAttempts !== undefined) checkInt(r.maxAttempts, component, 'maxAttempts', 1)
  if (r.attemptTimeoutMs !== undefined) check(typeof r.attemptTimeoutMs === 'number' && r.attemptTimeoutMs > 0, component, 'attemptTimeoutMs', 'a positive number', r.attemptTimeoutMs)
  if (r.backoffMs !== undefined) check(typeof r.backoffMs === 'number' && r.backoffMs >= 0 && Number.isFinite(r.backoffMs), component, 'backoffMs', 'a finite number >= 0', r.backoffMs)
  if (r.maxBackoffMs !== undefined) check(typeof r.maxBackoffMs === 'number' && r.maxBackoffMs >= 0 && Number.isFinite(r.maxBackoffMs), component, 'maxBackoffMs', 'a finite number >= 0', r.maxBackoffMs)
}

const CLIENT_SESSION_KEYS: readonly string[] = Object.keys({
  clientId: true, nextSequence: true, maxAttempts: true, attemptTimeoutMs: true, backoffMs: true, maxBackoffMs: true,
  nextTarget: true, isRetryable: true, clock: true, random: true
} satisfies Record<keyof ClientSessionOptions, true>)

export function validateClientSessionOptions (options: ClientSessionOptions): void {
  check(typeof options === 'object' && options !== null, C, '(options)', 'an object', options)
  checkKnownKeys(options, C, CLIENT_SESSION_KEYS)
  if (options.clientId !== undefined) checkInt(options.clientId, C, 'clientId', 1)
  if (options.nextSequence !== undefined) checkInt(options.nextSequence, C, 'nextSequence', 1)
  validateRetry(options, C)
  for (const f of ['nextTarget', 'isRetryable'] as const) {
    if (options[f] !== undefined) check(typeof options[f] === 'function', C, f, 'a function', typeof options[f])
  }
  if (options.clock !== undefined) check(typeof options.clock?.setTimeout === 'function', C, 'clock', 'a Clock', typeof options.clock)
  if (options.random !== undefined) check(typeof options.random?.next === 'function', C, 'random', 'a Random', typeof options.random)
}

// ABORTED is here because the caller's own abort is handled before this test is asked: an
// ABORTED that reaches it came from the target (a proxy or transport giving up an attempt).
const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ABORTED', 'RAFT_NOT_LEADER', 'RAFT_TIMEOUT', 'RAFT_PROPOSAL_DROPPED', 'RAFT_TRANSFER_IN_PROGRESS',
  'NODE_CLOSED', 'NODE_NOT_OPEN', 'NODE_FAILED', 'TRANSPORT_CLOSED', 'TRANSPORT_UNKNOWN_PEER'
])

/**
 * The default retry test: failures where another attempt (maybe on another node) can
 * succeed. Retrying is always safe with a session, even when the first attempt committed.
 * It counts ABORTED as retryable; ClientSession never asks about its caller's own abort.
 */
export function isRetryableProposalError (error: unknown): boolean {
  return isQuorateError(error) && RETRYABLE_CODES.has(error.code)
}

function isSessionRefusal (result: unknown): result is QuorateError {
  return isQuorateError(result) && result.code.startsWith('SESSION_')
}

function callTarget (target: ProposeTarget, command: Uint8Array, signal: AbortSignal | undefined): Promise<unknown> {
  try {
    return typeof target === 'function' ? target(command, { signal }) : target.propose(command, { signal })
  } catch (err) {
    return Promise.reject(err)
  }
}

export class ClientSession {
  readonly #clock: Clock
  readonly #random: Random
  readonly #policy: RetryPolicy
  readonly #nextTarget: ClientSessionOptions['nextTarget']
  readonly #isRetryable: (error: unknown) => boolean
  #clientId: number | null
  #registering: Promise<number> | null = null
  #nextSeq: number
  /** Sequence numbers in flight. Assigned ascending, so insertion order is sorted order. */
  readonly #inFlight = new Set<number>()
  #ended: QuorateError | null = null

  constructor (options: ClientSessionOptions = {}) {
    validateClientSessionOptions(options)
    this.#clientId = options.clientId ?? null
    this.#nextSeq = options.nextSequence ?? CLIENT_SESSION_DEFAULTS.nextSequence
    this.#policy = {
      maxAttempts: options.maxAttempts ?? CLIENT_SESSION_DEFAULTS.maxAttempts,
      attemptTimeoutMs: options.attemptTimeoutMs ?? CLIENT_SESSION_DEFAULTS.attemptTimeoutMs,
      backoffMs: options.backoffMs ?? CLIENT_SESSION_DEFAULTS.backoffMs,
      maxBackoffMs: options.maxBackoffMs ?? CLIENT_SESSION_DEFAULTS.maxBackoffMs
    }
    this.#nextTarget = options.nextTarget
    this.#isRetryable = options.isRetryable ?? isRetryableProposalError
    this.#clock = options.clock ?? systemClock
    this.#random = options.random ?? systemRandom
  }

  /** The registered client id, or null before registration. */
  get clientId (): number | null { return this.#clientId }

  /** The sequence number the next `propose` will use. */
  get nextSequence (): number { return this.#nextSeq }

  /** The GC watermark: the lowest sequence number in flight (or the next one if none). */
  get firstUnacknowledged (): number {
    const first = this.#inFlight.values().next()
    return first.done === true ? this.#nextSeq : first.value
  }

  /**
   * Registers the session (once; concurrent callers share it) and resolves with the client
   * id. A retried registration may leave an unused session behind; it simply expires.
   */
  async register (target: ProposeTarget, options: SessionProposeOptions = {}): Promise<number> {
    this.#assertUsable()
    if (this.#clientId !== null) return this.#clientId
    if (this.#registering === null) {
      this.#registering = this.#withRetries(target, () => encodeRegister(), options).then((id) => {
        if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
          throw new QuorateError('OPTIONS_INVALID', `ClientSession: the state machine answered registration with ${String(id)}, not a client id (is it wrapped in a SessionStateMachine?)`)
        }
        this.#clientId = id
        return id
      }).finally(() => { this.#registering = null })
    }
    return await this.#registering
  }

  /**
   * Proposes `command` exactly once: retries go out with the same sequence number, and
   * whichever copy commits first is the one applied; the others return its result.
   * Rejects with the machine's refusal (SESSION_EXPIRED, SESSION_SEQUENCE_TOO_OLD), ABORTED
   * if `signal` fires, or the last error once retries are exhausted or an error is not
   * retryable (the command's outcome is then unknown).
   */
  propose<R = unknown> (target: ProposeTarget, command: Uint8Array, options: SessionProposeOptions = {}): Promise<R> {
    // Not async once registered: the attempt's own promise and two continuations, no async
    // frame (a registered session's command is a microtask turn or two shorter for it).
    try {
      if (!(command instanceof Uint8Array)) throw new QuorateError('OPTIONS_INVALID', 'ClientSession.propose: command must be a Uint8Array')
      if (options.signal?.aborted === true) throw abortError(options.signal)
      this.#assertUsable()
    } catch (err) {
      return Promise.reject(err)
    }
    const clientId = this.#clientId
    if (clientId === null) return this.register(target, options).then((id) => this.#proposeAs<R>(id, target, command, options))
    return this.#proposeAs<R>(clientId, target, command, options)
  }

  /** True once the session expired on the cluster or was closed: it refuses every command. */
  get ended (): boolean { return this.#ended !== null }

  #proposeAs<R> (clientId: number, target: ProposeTarget, command: Uint8Array, options: SessionProposeOptions): Promise<R> {
    const seq = this.#nextSeq++
    this.#inFlight.add(seq)
    // The watermark is read per attempt: it may have risen while this command waited.
    const envelope = (): Uint8Array => encodeSessionCommand(clientId, seq, this.firstUnacknowledged, command)
    return this.#withRetries(target, envelope, options).then(
      (result) => { this.#inFlight.delete(seq); return result as R },
      (err: unknown) => { this.#inFlight.delete(seq); throw err }
    )
  }

  /** Ends the session on the cluster (frees its cached results) and locally. */
  async close (target: ProposeTarget, options: SessionProposeOptions = {}): Promise<void> {
    if (this.#ended !== null) return
    const clientId = this.#clientId
    this.#ended = new QuorateError('SESSION_EXPIRED', `client session ${String(clientId)} was closed`)
    if (clientId === null) return
    await this.#withRetries(target, () => encodeClose(clientId), options).catch((err) => {
      // Already gone on the cluster is as good as closed.
      if (!isQuorateError(err, 'SESSION_EXPIRED')) throw err
    })
  }

  #assertUsable (): void {
    if (this.#ended !== null) throw this.#ended
  }

  /** The first attempt without an async frame; a failed one continues in #retry. */
  #withRetries (first: ProposeTarget, envelope: () => Uint8Array, options: SessionProposeOptions): Promise<unknown> {
    let policy: RetryPolicy
    let attempt: Promise<unknown>
    try {
      if (options.retry !== undefined) validateRetry(options.retry, 'SessionProposeOptions.retry')
      policy = options.retry === undefined ? this.#policy : { ...this.#policy, ...options.retry }
      attempt = this.#attemptOnce(first, envelope(), policy, options.signal)
    } catch (err) {
      return Promise.reject(err)
    }
    return attempt.then(this.#accept, (error: unknown) => this.#retry(first, envelope, options, policy, error))
  }

  /** Attempts after the first failed one (which failed with `error`), until one answers or retrying ends. */
  async #retry (failed: ProposeTarget, envelope: () => Uint8Array, options: SessionProposeOptions, policy: RetryPolicy, error: unknown): Promise<unknown> {
    const pick = options.nextTarget ?? this.#nextTarget
    const { signal } = options
    let target = failed
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted === true) throw abortError(signal)
      if (attempt >= policy.maxAttempts || !this.#isRetryable(error)) throw error
      await this.#sleep(this.#backoff(policy, attempt), signal)
      if (pick !== undefined) {
        const leader = isQuorateError(error) && typeof error.info?.leader === 'string' ? error.info.leader : null
        target = await pick({ error, attempt, target, leader })
      }
      let result: unknown
      try {
        result = await this.#attemptOnce(target, envelope(), policy, signal)
      } catch (err) {
        error = err
        continue
      }
      return this.#accept(result)
    }
  }

  /** Without a timeout the target bounds the attempt itself: no timer and no async frame of our own. */
  #attemptOnce (target: ProposeTarget, command: Uint8Array, policy: RetryPolicy, signal: AbortSignal | undefined): Promise<unknown> {
    return policy.attemptTimeoutMs === Infinity ? callTarget(target, command, signal) : this.#attempt(target, command, policy.attemptTimeoutMs, signal)
  }

  /** An attempt's answer: a session refusal rejects (an expired session ends this one); anything else is the result. */
  readonly #accept = (result: unknown): unknown => {
    if (isSessionRefusal(result)) {
      if (result.code === 'SESSION_EXPIRED') this.#ended = result
      throw result
    }
    return result
  }

  /**
   * One attempt, abandoned with RAFT_TIMEOUT after `timeoutMs`. It settles at the timeout
   * even if the target ignores its signal, so a hung node cannot hold the session.
   */
  async #attempt (target: ProposeTarget, command: Uint8Array, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown> {
    if (signal?.aborted === true) throw abortError(signal)
    const controller = new AbortController()
    let timer: Timer | null = null
    let onAbort: (() => void) | null = null
    try {
      return await new Promise<unknown>((resolve, reject) => {
        onAbort = () => { controller.abort(signal?.reason); reject(abortError(signal!)) }
        signal?.addEventListener('abort', onAbort, { once: true })
        timer = this.#clock.setTimeout(() => {
          const err = new QuorateError('RAFT_TIMEOUT', `ClientSession: no answer within ${timeoutMs} ms (the command may still commit; a retry is deduplicated)`)
          controller.abort(err)
          reject(err)
        }, timeoutMs)
        callTarget(target, command, controller.signal).then(resolve, reject)
      })
    } finally {
      if (timer !== null) this.#clock.clearTimeout(timer)
      if (onAbort !== null) signal?.removeEventListener('abort', onAbort)
    }
  }

  #backoff (policy: RetryPolicy, failedAttempt: number): number {
    const base = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (failedAttempt - 1))
    return base * (0.5 + this.#random.next() / 2)
  }

  async #sleep (ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (ms <= 0) return
    await new Promise<void>((resolve, reject) => {
      let timer: Timer | null = null
      const onAbort = (): void => {
        if (timer !== null) this.#clock.clearTimeout(timer)
        reject(abortError(signal!))
      }
      timer = this.#clock.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, ms)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}

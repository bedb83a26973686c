/**
 * The supervisor, one per tracking-station node: it contends for the coordinator lease, and
 * where this node holds it, runs the coordinator with the lease's fencing token.
 *
 * - Lease lost (its signal fired a safety margin before local expiry): the coordinator's
 *   signal fires; the supervisor waits up to `stopGraceMs` for it to stop and kills it if it
 *   has not (it is revoked: `isLive()` answers false, so it cannot commit or send again). Only
 *   then does it contend again. `stopGraceMs` must end within the lease's safety margin: then
 *   by the time another node judges the lease expired, this coordinator has stopped acting.
 * - Crashed (run rejected or returned while the lease lasts): restarted under the same lease
 *   after a capped exponential backoff (`restartBackoffInitialMs`, doubling to
 *   `restartBackoffMaxMs`); the backoff resets with each new lease.
 * - Blocked: pinged every `pingIntervalMs`; no answer within `pingTimeoutMs` is a hang: it is
 *   stopped (and killed) as above and restarted like a crash.
 * - Superseded (LEASE_FENCED: a newer coordinator wrote): stopped, the lease released.
 *
 * Invariant: at no time does this supervisor have two coordinators that may act (`isLive()`
 * true and not exited): a new one is created only after the previous one exited or was killed.
 */
import { EventEmitter } from 'node:events'
import type { CommandFence } from '../agent/protocol.js'
import { QuorateError, isQuorateError } from '../errors.js'
import { deadline, sleep } from '../lease/deadline.js'
import type { LeaseHolder } from '../lease/holder.js'
import type { LeaseManager } from '../lease/manager.js'
import { check, checkFunction, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { supervisorHooks } from './test-hooks.js'

/** What the supervisor runs: a Coordinator, or anything with the same run/ping contract. */
export interface SupervisedCoordinator {
  run: (signal: AbortSignal) => Promise<void>
  ping: (signal?: AbortSignal) => Promise<void>
}

export interface CoordinatorContext {
  /** The lease and token to act under (pass as the coordinator's `fence`). */
  readonly fence: CommandFence
  readonly lease: LeaseHolder
  /** False once the coordinator must not act any more (pass as the coordinator's `isLive`). */
  readonly isLive: () => boolean
  /** Which run of this lease this is (1, then 2 after a restart, ...). */
  readonly run: number
}

export interface SupervisorOptions {
  /** This node's lease manager. */
  leases: LeaseManager
  /** Builds the coordinator of one run (e.g. `(ctx) => new Coordinator({ ...shared, fence: ctx.fence, isLive: ctx.isLive })`). */
  create: (context: CoordinatorContext) => SupervisedCoordinator
  /** The coordinator lease's name. @default 'quorate/coordinator' */
  lease?: string
  /** Holder id, unique to this supervisor. @default the manager's node id */
  holder?: string
  /**
   * Lease duration, ms: a crashed coordinator's successor acts about this long (times
   * 1 + maxDrift, plus retryMs) after the crash. @default SUPERVISOR_DEFAULTS.durationMs (2000), or the manager's defaultDurationMs if shorter
   */
  durationMs?: number
  /** Longest wait between acquire attempts, ms. @default durationMs / 10 */
  retryMs?: number
  /** First restart delay after a crash, ms. @default 100 */
  restartBackoffInitialMs?: number
  /** Longest restart delay, ms. @default 10000 */
  restartBackoffMaxMs?: number
  /** Ping period, ms (Halon pinged every few minutes; a lease period is cheaper to wait out). @default durationMs */
  pingIntervalMs?: number
  /** A ping unanswered this long is a hang, ms. @default durationMs / 2 */
  pingTimeoutMs?: number
  /** How long a stopping coordinator may take before it is killed, ms; keep it within the lease's safety margin. @default durationMs / 20 */
  stopGraceMs?: number
  /** Stops the supervisor like close(). @default none */
  signal?: AbortSignal
}

export const SUPERVISOR_DEFAULTS = { lease: 'quorate/coordinator', durationMs: 2000, restartBackoffInitialMs: 100, restartBackoffMaxMs: 10_000 } as const

const KEYS = ['leases', 'create', 'lease', 'holder', 'durationMs', 'retryMs', 'restartBackoffInitialMs', 'restartBackoffMaxMs', 'pingIntervalMs', 'pingTimeoutMs', 'stopGraceMs', 'signal']

export type StopReason = 'lease-lost' | 'closing' | 'crashed' | 'hung' | 'fenced'

export interface SupervisorEvents {
  /** A coordinator started under `token` (run: its number under this lease). */
  start: [{ token: number, run: number }]
  /** A coordinator stopped (`killed`: it had not stopped within stopGraceMs). */
  stop: [{ token: number, run: number, reason: StopReason, killed: boolean, error: unknown }]
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly lease: string
  readonly holder: string
  readonly #o: Required<Omit<SupervisorOptions, 'signal' | 'lease' | 'holder'>>
  readonly #stop = new AbortController()
  readonly #skipStopWait: boolean
  #loop: Promise<void> | null = null
  #token: number | null = null
  #restarts = 0

  constructor (options: SupervisorOptions) {
    super()
    const C = 'SupervisorOptions'
    checkObject(options, C, '(options)')
    checkKnownKeys(options, C, KEYS)
    check(typeof options.leases?.acquire === 'function', C, 'leases', 'a LeaseManager', typeof options.leases)
    checkFunction(options.create, C, 'create')
    const durationMs = options.durationMs ?? Math.min(SUPERVISOR_DEFAULTS.durationMs, options.leases.defaultDurationMs)
    check(Number.isFinite(durationMs) && durationMs > 0, C, 'durationMs', 'a positive number of milliseconds', durationMs)
    this.#o = {
      leases: options.leases,
      create: options.create,
      durationMs,
      retryMs: options.retryMs ?? Math.max(1, Math.floor(durationMs / 10)),
      restartBackoffInitialMs: options.restartBackoffInitialMs ?? SUPERVISOR_DEFAULTS.restartBackoffInitialMs,
      restartBackoffMaxMs: options.restartBackoffMaxMs ?? SUPERVISOR_DEFAULTS.restartBackoffMaxMs,
      pingIntervalMs: options.pingIntervalMs ?? durationMs,
      pingTimeoutMs: options.pingTimeoutMs ?? Math.max(1, Math.floor(durationMs / 2)),
      stopGraceMs: options.stopGraceMs ?? Math.max(1, Math.floor(durationMs / 20))
    }
    for (const k of ['retryMs', 'restartBackoffInitialMs', 'restartBackoffMaxMs', 'pingIntervalMs', 'pingTimeoutMs', 'stopGraceMs'] as const) checkInt(this.#o[k], C, k, 1)
    check(this.#o.restartBackoffMaxMs >= this.#o.restartBackoffInitialMs, C, 'restartBackoffMaxMs', 'at least restartBackoffInitialMs', this.#o.restartBackoffMaxMs)
    check(this.#o.stopGraceMs < durationMs, C, 'stopGraceMs', `below durationMs (${durationMs}), within the lease's safety margin`, this.#o.stopGraceMs)
    this.lease = options.lease ?? SUPERVISOR_DEFAULTS.lease
    check(typeof this.lease === 'string' && this.lease.length > 0, C, 'lease', 'a non-empty string', this.lease)
    this.holder = options.holder ?? options.leases.nodeId
    check(typeof this.holder === 'string' && this.holder.length > 0, C, 'holder', 'a non-empty string', this.holder)
    this.#skipStopWait = supervisorHooks.of(options).skipStopWait === true
    const signal = options.signal
    if (signal !== undefined) {
      if (signal.aborted) this.#stop.abort(signal.reason)
      else signal.addEventListener('abort', () => { void this.close() }, { once: true })
    }
  }

  /** The token the coordinator runs under here, or null. */
  get token (): number | null { return this.#token }
  /** Restarts after crashes and hangs, over the supervisor's life. */
  get restarts (): number { return this.#restarts }

  /** Starts contending for the lease. Idempotent; does nothing once closed. */
  open (): this {
    if (this.#loop === null && !this.#stop.signal.aborted) this.#loop = this.#compete()
    return this
  }

  /** Stops the coordinator (waiting for it, or killing it), releases the lease. Idempotent. */
  async close (): Promise<void> {
    if (!this.#stop.signal.aborted) this.#stop.abort(new QuorateError('ABORTED', 'supervisor closed'))
    await this.#loop
  }

  async #compete (): Promise<void> {
    const stop = this.#stop.signal
    const { leases, retryMs } = this.#o
    while (!stop.aborted) {
      let lease: LeaseHolder
      try {
        lease = await leases.acquire(this.lease, { holder: this.holder, durationMs: this.#o.durationMs, signal: stop })
      } catch (err) {
        if (stop.aborted || isQuorateError(err, 'NODE_NOT_OPEN')) return
        const hint = isQuorateError(err) ? err.info?.retryAfterMs : undefined
        await sleep(leases.clock, typeof hint === 'number' ? Math.min(Math.max(hint, 1), retryMs) : retryMs, stop).catch(() => {})
        continue
      }
      await this.#hold(lease)
      if (!stop.aborted) await sleep(leases.clock, retryMs, stop).catch(() => {})
    }
  }

  /** Runs coordinators under `lease` until it is lost, the supervisor closes, or one is fenced. */
  async #hold (lease: LeaseHolder): Promise<void> {
    const clock = this.#o.leases.clock
    let crashes = 0
    let release = false
    for (let run = 1; lease.valid; run++) {
      const reason = await this.#runOnce(lease, run)
      if (reason === 'closing' || reason === 'fenced') { release = true; break }
      if (reason === 'lease-lost') break
      crashes++
      this.#restarts++
      const backoff = Math.min(this.#o.restartBackoffMaxMs, this.#o.restartBackoffInitialMs * 2 ** Math.min(crashes - 1, 30))
      try { await sleep(clock, backoff, anyOf(lease.signal, this.#stop.signal)) } catch { release = this.#stop.signal.aborted; break }
    }
    if (release && lease.valid) {
      const limit = deadline(clock, lease.durationMs, 'release')
      try { await lease.release({ signal: limit.signal }) } catch { /* unknown outcome: it lapses */ } finally { limit.done() }
    }
  }

  async #runOnce (lease: LeaseHolder, run: number): Promise<StopReason> {
    const clock = this.#o.leases.clock
    const token = lease.token
    let killed = false
    let exited = false
    let error: unknown
    const isLive = (): boolean => !killed && lease.valid
    const controller = new AbortController()
    const coordinator = this.#o.create({ fence: { lease: this.lease, token }, lease, isLive, run })
    this.#token = token
    this.emit('start', { token, run })
    const done = Promise.resolve().then(async () => { await coordinator.run(controller.signal) }).then(() => { exited = true }, (err) => { exited = true; error = err })
    const reason = await new Promise<StopReason>((resolve) => {
      const offs: Array<() => void> = []
      const finish = (r: StopReason): void => { for (const off of offs) off(); resolve(r) }
      const onLease = (): void => { finish('lease-lost') }
      const onStop = (): void => { finish('closing') }
      if (lease.signal.aborted) { finish('lease-lost'); return }
      if (this.#stop.signal.aborted) { finish('closing'); return }
      lease.signal.addEventListener('abort', onLease, { once: true })
      this.#stop.signal.addEventListener('abort', onStop, { once: true })
      offs.push(() => { lease.signal.removeEventListener('abort', onLease) }, () => { this.#stop.signal.removeEventListener('abort', onStop) })
      void done.then(() => { finish(isQuorateError(error, 'LEASE_FENCED') ? 'fenced' : lease.signal.aborted ? 'lease-lost' : 'crashed') })
      const pinger = this.#pinger(coordinator, () => { finish('hung') })
      offs.push(pinger)
    })
    if (!exited) {
      controller.abort(new QuorateError('COORDINATOR_STOPPED', `coordinator stopped: ${reason}`))
      if (!this.#skipStopWait) {
        const grace = deadline(clock, this.#o.stopGraceMs, 'coordinator stop')
        await Promise.race([done, new Promise((resolve) => { grace.signal.addEventListener('abort', resolve, { once: true }) })])
        grace.done()
        // Not stopped in time: revoked, so whatever it still does cannot commit or send.
        if (!exited) killed = true
      }
    }
    this.#token = null
    this.emit('stop', { token, run, reason, killed, error })
    return reason
  }

  /** Pings every pingIntervalMs; calls `hung` when one goes unanswered for pingTimeoutMs. Returns the canceller. */
  #pinger (coordinator: SupervisedCoordinator, hung: () => void): () => void {
    const clock = this.#o.leases.clock
    let cancelled = false
    let timer = clock.setTimeout(tick, this.#o.pingIntervalMs)
    const pingTimeoutMs = this.#o.pingTimeoutMs
    const pingIntervalMs = this.#o.pingIntervalMs
    function tick (): void {
      const limit = deadline(clock, pingTimeoutMs, 'ping')
      // Raced against the deadline: a blocked coordinator may not honour the signal either.
      const timedOut = new Promise<never>((_resolve, reject) => { limit.signal.addEventListener('abort', () => { reject(limit.signal.reason) }, { once: true }) })
      Promise.race([coordinator.ping(limit.signal), timedOut]).then(() => {
        limit.done()
        if (!cancelled) timer = clock.setTimeout(tick, pingIntervalMs)
      }, () => {
        limit.done()
        if (!cancelled) hung()
      })
    }
    return () => { cancelled = true; clock.clearTimeout(timer) }
  }
}

function anyOf (...signals: AbortSignal[]): AbortSignal {
  const c = new AbortController()
  for (const s of signals) {
    if (s.aborted) { c.abort(s.reason); break }
    s.addEventListener('abort', () => { c.abort(s.reason) }, { once: true })
  }
  return c.signal
}

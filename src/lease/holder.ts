/**
 * The holder side of a granted lease. The holder counts from the moment it sent the
 * (re)grant, on its own clock, and stops trusting the lease a safety margin before
 * `sentAt + durationMs`: then `signal` fires and `valid` turns false, for good.
 *
 * It renews by itself once `renewFraction` of the duration has passed since the last
 * successful send; attempts that fail for transient reasons (no leader, timeouts) are retried
 * until the margin is reached; a refused renewal (LEASE_NOT_HOLDER: a successor was granted)
 * aborts at once. Work done under the lease should carry `token` to the resources it touches
 * (see FencingGuard): the signal cannot stop a paused process from acting late.
 */
import { QuorateError } from '../errors.js'
import type { Clock, Timer } from '../util/clock.js'
import type { LeaseCommand } from './command.js'
import { deadline, sleep } from './deadline.js'
import type { LeaseOutcome } from './table.js'

/** One renewal attempt may take this fraction of the duration before it is retried. */
export const RENEW_ATTEMPT_FRACTION = 0.15
/** Pause between failed renewal attempts, as a fraction of the duration. */
export const RENEW_RETRY_FRACTION = 0.05

/** What a holder needs from its manager. */
export interface HolderContext {
  readonly clock: Clock
  readonly renewFraction: number
  readonly safetyMarginFraction: number
  propose: (command: LeaseCommand, signal: AbortSignal | undefined) => Promise<LeaseOutcome>
  /** Told once, when the holder stops holding (for the manager's bookkeeping). */
  ended: (holder: LeaseHolder) => void
}

export interface LeaseGrant {
  readonly name: string
  readonly holder: string
  readonly token: number
  readonly durationMs: number
  /** Local clock time at which the acquire was sent. */
  readonly sentAt: number
}

export class LeaseHolder {
  readonly name: string
  readonly holder: string
  /** Fencing token: the log index of the grant. Larger than every earlier grant's token of this name. */
  readonly token: number
  readonly durationMs: number
  readonly #ctx: HolderContext
  readonly #controller = new AbortController()
  #sentAt: number
  #expiryTimer: Timer | null = null
  #renewTimer: Timer | null = null
  #renewing: Promise<void> | null = null

  constructor (ctx: HolderContext, grant: LeaseGrant) {
    this.#ctx = ctx
    this.name = grant.name
    this.holder = grant.holder
    this.token = grant.token
    this.durationMs = grant.durationMs
    this.#sentAt = grant.sentAt
    if (this.valid) this.#arm()
  }

  /** Fires when the lease is lost: local expiry minus the margin, a refused renewal, release or close. */
  get signal (): AbortSignal { return this.#controller.signal }

  /** Local clock time at which the holder stops trusting the lease (unless renewed). */
  get expiresAt (): number {
    return this.#sentAt + this.durationMs * (1 - this.#ctx.safetyMarginFraction)
  }

  /** The holder's own judgment: true until the signal fires or the local clock reaches `expiresAt`. */
  get valid (): boolean {
    if (this.#controller.signal.aborted) return false
    if (this.#ctx.clock.now() < this.expiresAt) return true
    this.#lose(new QuorateError('LEASE_EXPIRED', `lease ${JSON.stringify(this.name)} (token ${this.token}) expired`))
    return false
  }

  /**
   * Renews now. Resolves once the renewal is applied; the lease then runs from the moment it
   * was sent. Rejects LEASE_EXPIRED if the lease is no longer valid, LEASE_NOT_HOLDER (and
   * aborts) if a successor was granted, or with the Raft error of a failed attempt.
   */
  async renew (options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#throwUnlessValid()
    const sentAt = this.#ctx.clock.now()
    const d = deadline(this.#ctx.clock, this.expiresAt - sentAt, `renewal of lease ${JSON.stringify(this.name)}`, options.signal, this.signal)
    let outcome: LeaseOutcome
    try {
      outcome = await this.#ctx.propose({ op: 'renew', name: this.name, holder: this.holder, token: this.token }, d.signal)
    } finally {
      d.done()
    }
    if (!outcome.ok) {
      const err = new QuorateError('LEASE_NOT_HOLDER', `lease ${JSON.stringify(this.name)}: token ${this.token} of ${this.holder} was superseded`, { details: { record: outcome.record } })
      this.#lose(err)
      throw err
    }
    this.#throwUnlessValid()
    if (sentAt > this.#sentAt) {
      this.#sentAt = sentAt
      this.#arm()
    }
  }

  /**
   * Gives the lease up: aborts the signal first (so work stops before anyone else may be
   * granted), then proposes the release so the name is free at once rather than after
   * expiry. Resolves when the release is applied, or at once if it was already superseded.
   */
  async release (options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#lose(new QuorateError('ABORTED', `lease ${JSON.stringify(this.name)} released`))
    await this.#ctx.propose({ op: 'release', name: this.name, holder: this.holder, token: this.token }, options.signal)
  }

  /** Aborts the signal without proposing anything (the manager closing). */
  abandon (reason: QuorateError): void { this.#lose(reason) }

  #throwUnlessValid (): void {
    if (!this.valid) {
      throw new QuorateError('LEASE_EXPIRED', `lease ${JSON.stringify(this.name)} (token ${this.token}) is no longer held`, { cause: this.signal.reason })
    }
  }

  #arm (): void {
    const clock = this.#ctx.clock
    this.#clearTimers()
    const now = clock.now()
    this.#expiryTimer = clock.setTimeout(() => { void this.valid }, this.expiresAt - now)
    if (this.#renewing === null) {
      const renewAt = this.#sentAt + this.durationMs * this.#ctx.renewFraction
      this.#renewTimer = clock.setTimeout(() => { this.#autoRenew() }, renewAt - now)
    }
  }

  #autoRenew (): void {
    this.#renewTimer = null
    this.#renewing = this.#renewUntilDone().finally(() => {
      this.#renewing = null
      if (this.valid) this.#arm()
    })
  }

  async #renewUntilDone (): Promise<void> {
    const clock = this.#ctx.clock
    const lastSentAt = this.#sentAt
    while (this.valid && this.#sentAt === lastSentAt) {
      const attempt = deadline(clock, this.durationMs * RENEW_ATTEMPT_FRACTION, 'renewal attempt')
      try {
        await this.renew({ signal: attempt.signal })
        return
      } catch {
        // A refusal has aborted the lease; anything else is retried while the lease lasts.
      } finally {
        attempt.done()
      }
      if (!this.valid) return
      await sleep(clock, this.durationMs * RENEW_RETRY_FRACTION, this.signal).catch(() => {})
    }
  }

  #clearTimers (): void {
    if (this.#expiryTimer !== null) this.#ctx.clock.clearTimeout(this.#expiryTimer)
    if (this.#renewTimer !== null) this.#ctx.clock.clearTimeout(this.#renewTimer)
    this.#expiryTimer = null
    this.#renewTimer = null
  }

  #lose (reason: QuorateError): void {
    if (this.#controller.signal.aborted) return
    this.#clearTimers()
    this.#controller.abort(reason)
    this.#ctx.ended(this)
  }
}

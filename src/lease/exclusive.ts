/**
 * Exclusive execution: run a function on exactly one node of the cluster at a time, the
 * recovery supervisor's job for the recovery coordinator. Every node runs an ExclusiveRunner
 * for the same name; the one that acquires the lease runs `fn`, which must stop when its
 * signal fires (the lease was lost, or `stop()` was called). The runner waits until `fn`
 * has stopped before it competes again. Another node acquires only after it judges the
 * lease expired, and the holder's signal fires a safety margin before its own expiry, so
 * while clocks drift within the bound and `fn` stops within the margin, no two nodes run
 * `fn` at once. Effects should still carry `token` to a FencingGuard: a paused process can
 * act late.
 *
 * If `fn` returns or throws on its own, the lease is released and the runner competes again
 * after `retryMs`: a crashed coordinator is restarted, here or on another node.
 */
import { EventEmitter } from 'node:events'
import { QuorateError, isQuorateError } from '../errors.js'
import { check } from '../util/validate.js'
import { deadline, sleep } from './deadline.js'
import type { LeaseHolder } from './holder.js'
import type { LeaseManager } from './manager.js'
import { DEFAULT_RETRY_FRACTION, checkDuration, checkName, isPositiveDuration } from './options.js'
import type { ExclusiveOptions } from './options.js'

export interface ExclusiveContext {
  /** Fires when `fn` must stop. */
  readonly signal: AbortSignal
  /** The lease's fencing token: pass it with every effect. */
  readonly token: number
  readonly lease: LeaseHolder
}

export type ExclusiveFn = (context: ExclusiveContext) => unknown

export interface ExclusiveEvents {
  /** `fn` was started under the grant `token`. */
  start: [{ token: number }]
  /** `fn` has stopped (`error` is what it threw, if anything). */
  stop: [{ token: number, error: unknown }]
}

export class ExclusiveRunner extends EventEmitter<ExclusiveEvents> {
  readonly name: string
  readonly holder: string
  readonly #manager: LeaseManager
  readonly #fn: ExclusiveFn
  readonly #durationMs: number
  readonly #retryMs: number
  readonly #stop = new AbortController()
  #loop: Promise<void> | null = null
  #token: number | null = null

  constructor (manager: LeaseManager, name: string, fn: ExclusiveFn, options: ExclusiveOptions = {}) {
    super()
    const C = 'ExclusiveOptions'
    check(typeof options === 'object' && options !== null, C, '(options)', 'an object', options)
    check(typeof fn === 'function', C, 'fn', 'a function', typeof fn)
    checkName(C, 'name', name)
    this.holder = options.holder ?? manager.nodeId
    checkName(C, 'holder', this.holder)
    this.#durationMs = options.durationMs ?? manager.defaultDurationMs
    checkDuration(C, 'durationMs', this.#durationMs, Number.MAX_VALUE)
    this.#retryMs = options.retryMs ?? this.#durationMs * DEFAULT_RETRY_FRACTION
    check(isPositiveDuration(this.#retryMs), C, 'retryMs', 'a positive finite number of milliseconds', this.#retryMs)
    this.name = name
    this.#manager = manager
    this.#fn = fn
    const signal = options.signal
    if (signal !== undefined) {
      if (signal.aborted) this.#stop.abort(signal.reason)
      else signal.addEventListener('abort', () => { void this.stop() }, { once: true })
    }
  }

  /** True while `fn` runs on this node. */
  get running (): boolean { return this.#token !== null }

  /** The token `fn` currently runs under, or null. */
  get token (): number | null { return this.#token }

  /** Starts competing for the lease. Idempotent; does nothing once stopped. */
  start (): this {
    if (this.#loop === null && !this.#stop.signal.aborted) this.#loop = this.#compete()
    return this
  }

  /** Stops `fn` if it runs here, waits until it has stopped, and releases the lease. Idempotent. */
  async stop (): Promise<void> {
    if (!this.#stop.signal.aborted) this.#stop.abort(new QuorateError('ABORTED', `exclusive runner for ${JSON.stringify(this.name)} stopped`))
    await this.#loop
  }

  async #compete (): Promise<void> {
    const stop = this.#stop.signal
    const clock = this.#manager.clock
    while (!stop.aborted) {
      let lease: LeaseHolder
      try {
        lease = await this.#manager.acquire(this.name, { holder: this.holder, durationMs: this.#durationMs, signal: stop })
      } catch (err) {
        if (stop.aborted || isQuorateError(err, 'NODE_NOT_OPEN')) return
        const hint = isQuorateError(err) ? err.info?.retryAfterMs : undefined
        const wait = typeof hint === 'number' ? Math.min(Math.max(hint, 1), this.#retryMs) : this.#retryMs
        await sleep(clock, wait, stop).catch(() => {})
        continue
      }
      await this.#runUnder(lease, stop)
      if (!stop.aborted) await sleep(clock, this.#retryMs, stop).catch(() => {})
    }
  }

  async #runUnder (lease: LeaseHolder, stop: AbortSignal): Promise<void> {
    let releasing: Promise<void> | undefined
    const onStop = (): void => { releasing = this.#release(lease) }
    stop.addEventListener('abort', onStop, { once: true })
    const token = lease.token
    this.#token = token
    let error: unknown
    try {
      this.emit('start', { token })
      await this.#fn({ signal: lease.signal, token, lease })
    } catch (err) {
      error = err
    } finally {
      this.#token = null
      stop.removeEventListener('abort', onStop)
    }
    // fn stopped on its own while the lease lasts: free the name so it can be restarted anywhere.
    await (releasing ?? (lease.valid ? this.#release(lease) : undefined))
    this.emit('stop', { token, error })
  }

  /** Releases `lease`, waiting at most its duration (after which it has lapsed anyway). */
  async #release (lease: LeaseHolder): Promise<void> {
    const limit = deadline(this.#manager.clock, lease.durationMs, 'release')
    try {
      await lease.release({ signal: limit.signal })
    } catch {
      // Unknown outcome: the grant then lapses after its duration.
    } finally {
      limit.done()
    }
  }
}

/** Creates and starts an ExclusiveRunner: `fn` runs on one node at a time while it holds lease `name`. */
export function runExclusive (manager: LeaseManager, name: string, fn: ExclusiveFn, options: ExclusiveOptions = {}): ExclusiveRunner {
  return new ExclusiveRunner(manager, name, fn, options).start()
}

/**
 * Request timeouts for one connection without a timer per request: each request gets its own
 * AbortController (node.propose listens on it), remembered with its start time in insertion
 * order; one sweep per `sweepMs` aborts those older than `timeoutMs` (so a timeout fires at
 * most `sweepMs` late, never early), and `abortAll` ends every pending one when the
 * connection closes. Why not AbortSignal.timeout + AbortSignal.any per request: a timer, two
 * signals and a dependant link per request; and why not one signal shared by many requests:
 * Node's EventTarget removes a listener in time linear in the listeners, so hundreds of
 * requests on one signal cost quadratic time.
 */
import { systemClock } from '../util/clock.js'
import type { Clock, Timer } from '../util/clock.js'

export class PendingDeadlines {
  readonly #timeoutMs: number
  readonly #sweepMs: number
  readonly #clock: Clock
  readonly #pending = new Map<AbortController, number>()
  /** Armed only while requests are pending, so an idle connection holds no timer. */
  #sweep: Timer | null = null
  #ended: unknown = undefined

  constructor (timeoutMs: number, options: { sweepMs?: number, clock?: Clock } = {}) {
    this.#timeoutMs = timeoutMs
    this.#sweepMs = options.sweepMs ?? Math.min(1000, timeoutMs)
    this.#clock = options.clock ?? systemClock
  }

  /** A signal for one request; call `done` with it when the request settles. */
  start (): AbortController {
    const controller = new AbortController()
    if (this.#ended !== undefined) { controller.abort(this.#ended); return controller }
    this.#pending.set(controller, this.#clock.now())
    this.#sweep ??= this.#clock.setTimeout(this.#onSweep, this.#sweepMs)
    return controller
  }

  readonly #onSweep = (): void => {
    this.#sweep = null
    this.#expire(this.#clock.now())
    if (this.#pending.size > 0 && this.#ended === undefined) this.#sweep = this.#clock.setTimeout(this.#onSweep, this.#sweepMs)
  }

  done (controller: AbortController): void { this.#pending.delete(controller) }

  /** Requests still pending. */
  get size (): number { return this.#pending.size }

  /** Aborts every pending request with `reason` and stops sweeping; later requests start aborted. */
  abortAll (reason: unknown): void {
    this.#ended = reason
    if (this.#sweep !== null) this.#clock.clearTimeout(this.#sweep)
    this.#sweep = null
    for (const c of this.#pending.keys()) c.abort(reason)
    this.#pending.clear()
  }

  #expire (now: number): void {
    // Insertion order is start order: stop at the first request still within its time.
    for (const [c, started] of this.#pending) {
      if (now - started < this.#timeoutMs) return
      this.#pending.delete(c)
      c.abort(new DOMException(`request pending for over ${this.#timeoutMs} ms`, 'TimeoutError'))
    }
  }
}

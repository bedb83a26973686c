/**
 * Timeouts for the requests pending on one connection, without a timer, an AbortController or
 * a signal listener per request: each request is remembered with its start time in insertion
 * order; one sweep per `sweepMs` hands those older than `timeoutMs` to `onExpire` (so a
 * timeout fires at most `sweepMs` late, never early), and `expireAll` ends every pending one
 * when the connection closes. Used on both ends of the binary protocol: the endpoint
 * (stream-server.ts) answers an expired request ABORTED, the client (stream-connection.ts)
 * rejects it RAFT_TIMEOUT.
 *
 * Why not AbortSignal.timeout + AbortSignal.any per request: a timer, two signals and a
 * dependant link per request — profiled at about a fifth of the leader's CPU at c=256. Why not
 * one signal shared by many requests: Node's EventTarget removes a listener in time linear in
 * the listeners, so hundreds of requests on one signal cost quadratic time.
 *
 * Invariant: `onExpire(item)` is called at most once per `start(item)`, and never after
 * `done(item)` returned; `done` tells the caller whether the item was still pending (false: it
 * already expired, so its late answer must be dropped).
 */
import { systemClock } from '../util/clock.js'
import type { Clock, Timer } from '../util/clock.js'

export interface PendingDeadlinesOptions {
  /** How often expired requests are looked for. @default min(1000, timeoutMs) */
  readonly sweepMs?: number
  readonly clock?: Clock
}

export class PendingDeadlines<T> {
  readonly #timeoutMs: number
  readonly #sweepMs: number
  readonly #clock: Clock
  readonly #onExpire: (item: T, reason: unknown) => void
  /** Item -> start time; a Map keeps insertion order, which is start order. */
  readonly #pending = new Map<T, number>()
  /** Armed only while requests are pending, so an idle connection holds no timer. */
  #sweep: Timer | null = null
  #ended: unknown = undefined

  /** `onExpire(item, reason)`: `reason` is a TimeoutError DOMException, or expireAll's reason. */
  constructor (timeoutMs: number, onExpire: (item: T, reason: unknown) => void, options: PendingDeadlinesOptions = {}) {
    this.#timeoutMs = timeoutMs
    this.#onExpire = onExpire
    this.#sweepMs = options.sweepMs ?? Math.min(1000, timeoutMs)
    this.#clock = options.clock ?? systemClock
  }

  /** Tracks `item` from now; once `expireAll` ran, it expires at once (with that reason). */
  start (item: T): void {
    if (this.#ended !== undefined) { this.#onExpire(item, this.#ended); return }
    this.#pending.set(item, this.#clock.now())
    this.#sweep ??= this.#clock.setTimeout(this.#onSweep, this.#sweepMs)
  }

  /** Stops tracking `item`; true if it was pending (false: it expired, or was never started). */
  done (item: T): boolean { return this.#pending.delete(item) }

  /** Requests still pending. */
  get size (): number { return this.#pending.size }

  /** Expires every pending request with `reason` and stops sweeping; later ones expire at start. Idempotent. */
  expireAll (reason: unknown): void {
    if (this.#ended !== undefined) return
    this.#ended = reason
    if (this.#sweep !== null) this.#clock.clearTimeout(this.#sweep)
    this.#sweep = null
    const items = [...this.#pending.keys()]
    this.#pending.clear()
    for (const item of items) this.#onExpire(item, reason)
  }

  readonly #onSweep = (): void => {
    this.#sweep = null
    this.#expire(this.#clock.now())
    if (this.#pending.size > 0 && this.#ended === undefined) this.#sweep = this.#clock.setTimeout(this.#onSweep, this.#sweepMs)
  }

  #expire (now: number): void {
    // Insertion order is start order: stop at the first request still within its time.
    for (const [item, started] of this.#pending) {
      if (now - started < this.#timeoutMs) return
      this.#pending.delete(item)
      this.#onExpire(item, new DOMException(`request pending for over ${this.#timeoutMs} ms`, 'TimeoutError'))
    }
  }
}

/**
 * A virtual-time `Clock` for tests and simulators: time moves only when `advance()`,
 * `runNext()` or `runUntilIdle()` is called, and timers fire synchronously inside those
 * calls.
 *
 * Deterministic: timers fire in due-time order, and timers due at the same instant fire in
 * the order they were set (`setTimeout(fn, 0)` set while a timer runs fires at the same
 * virtual instant, after every timer already due then).
 *
 * @example
 * const clock = new ManualClock()
 * clock.setTimeout(() => console.log('at', clock.now()), 10)
 * clock.advance(10) // prints "at 10"
 */
import type { Clock, Timer } from '../util/clock.js'
import { QuorateError } from '../errors.js'
import { DueQueue } from '../transport/memory-queue.js'

/** @default 1_000_000 */
export const DEFAULT_RUN_UNTIL_IDLE_LIMIT = 1_000_000

interface ManualTimer extends Timer {
  fn: (() => void) | null
}

export class ManualClock implements Clock {
  #now: number
  readonly #timers = new DueQueue<ManualTimer>()
  #live = 0

  /** @param start the initial value of `now()`; @default 0 */
  constructor (start = 0) {
    requireFiniteTime('start', start)
    this.#now = start
  }

  now (): number { return this.#now }

  /** Number of timers set and neither fired nor cleared. */
  get pendingTimers (): number { return this.#live }

  /** Due time of the earliest pending timer, or undefined if none. */
  nextDue (): number | undefined {
    this.#dropCleared()
    return this.#timers.size === 0 ? undefined : this.#timers.peekDue()
  }

  setTimeout (fn: () => void, ms: number): Timer {
    const timer: ManualTimer = { __timer: true, fn }
    const delay = ms > 0 ? ms : 0
    this.#timers.push(this.#now + delay, timer)
    this.#live++
    return timer
  }

  clearTimeout (timer: Timer): void {
    const t = timer as ManualTimer
    if (t.fn === null || t.fn === undefined) return // already fired or cleared
    t.fn = null
    this.#live--
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way (at its due time). */
  advance (ms: number): void {
    requireFiniteTime('ms', ms)
    const target = this.#now + ms
    while (this.nextDue() !== undefined && this.#timers.peekDue() <= target) this.#fireNext()
    // A timer may itself have advanced the clock past `target`; time never goes back.
    if (target > this.#now) this.#now = target
  }

  /** Jumps to the earliest pending timer and fires it. Returns false if no timer is pending. */
  runNext (): boolean {
    if (this.nextDue() === undefined) return false
    this.#fireNext()
    return true
  }

  /**
   * Fires timers (jumping time forward to each) until none is pending. Throws CLOCK_NOT_IDLE
   * after `limit` timers, so that a periodic timer cannot hang a test.
   */
  runUntilIdle (options: { limit?: number } = {}): number {
    const limit = options.limit ?? DEFAULT_RUN_UNTIL_IDLE_LIMIT
    let fired = 0
    while (this.runNext()) {
      if (++fired >= limit && this.#live > 0) {
        throw new QuorateError('CLOCK_NOT_IDLE', `ManualClock.runUntilIdle fired ${fired} timers and ${this.#live} are still pending`)
      }
    }
    return fired
  }

  #fireNext (): void {
    const due = this.#timers.peekDue()
    const timer = this.#timers.pop()!
    const fn = timer.fn!
    timer.fn = null
    this.#live--
    if (due > this.#now) this.#now = due
    fn()
  }

  /** Removes cleared timers from the top of the queue so `peekDue()` names a live one. */
  #dropCleared (): void {
    while (this.#timers.size > 0 && this.#timers.peek()!.fn === null) this.#timers.pop()
  }
}

function requireFiniteTime (field: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new QuorateError('OPTIONS_INVALID', `ManualClock: ${field} must be a finite number >= 0 (got ${String(value)})`)
  }
}

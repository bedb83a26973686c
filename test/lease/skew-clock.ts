/**
 * A node's monotonic clock in a virtual-time simulation: it runs at `rate` times true time
 * (a ManualClock), from an arbitrary origin, and can be frozen (a paused process: no time
 * passes and no timer fires), unfrozen, sped up or slowed down, or jumped forward.
 * Timers are kept in local time and re-armed on the true clock whenever the rate changes.
 */
import type { Clock, Timer } from '../../src/util/clock.js'
import type { ManualClock } from '../../src/testing/manual-clock.js'

interface SkewTimer extends Timer {
  readonly fn: () => void
  readonly due: number
  inner: Timer | null
}

export class SkewClock implements Clock {
  readonly #base: ManualClock
  #baseTrue: number
  #baseLocal: number
  #rate: number
  #frozen = false
  /** Never report less than the due time of a timer that fired (float rounding). */
  #floor: number
  readonly #timers = new Set<SkewTimer>()

  constructor (base: ManualClock, options: { origin?: number, rate?: number } = {}) {
    this.#base = base
    this.#baseTrue = base.now()
    this.#baseLocal = options.origin ?? 0
    this.#floor = this.#baseLocal
    this.#rate = options.rate ?? 1
  }

  get rate (): number { return this.#rate }
  get frozen (): boolean { return this.#frozen }

  now (): number {
    const computed = this.#frozen ? this.#baseLocal : this.#baseLocal + (this.#base.now() - this.#baseTrue) * this.#rate
    return computed > this.#floor ? computed : this.#floor
  }

  setTimeout (fn: () => void, ms: number): Timer {
    const t: SkewTimer = { __timer: true, fn, due: this.now() + (ms > 0 ? ms : 0), inner: null }
    this.#timers.add(t)
    this.#arm(t)
    return t
  }

  clearTimeout (timer: Timer): void {
    const t = timer as SkewTimer
    if (!this.#timers.delete(t)) return
    if (t.inner !== null) this.#base.clearTimeout(t.inner)
  }

  setRate (rate: number): void { this.#rebase(() => { this.#rate = rate }) }
  freeze (): void { this.#rebase(() => { this.#frozen = true }) }
  unfreeze (): void { this.#rebase(() => { this.#frozen = false }) }
  /** A forward jump of the monotonic clock (e.g. a suspended VM). */
  jump (ms: number): void { this.#rebase(() => { this.#baseLocal += ms }) }

  #rebase (change: () => void): void {
    this.#baseLocal = this.now()
    this.#baseTrue = this.#base.now()
    change()
    for (const t of this.#timers) {
      if (t.inner !== null) this.#base.clearTimeout(t.inner)
      this.#arm(t)
    }
  }

  #arm (t: SkewTimer): void {
    if (this.#frozen) { t.inner = null; return }
    const delay = Math.max(0, (t.due - this.now()) / this.#rate)
    t.inner = this.#base.setTimeout(() => {
      if (!this.#timers.delete(t)) return
      if (t.due > this.#floor) this.#floor = t.due
      t.fn()
    }, delay)
  }
}

/**
 * One simulated process's view of time: a `Clock` over the simulator's global virtual clock
 * with its own rate (drift), offset (jumps forward) and the ability to stop (a paused process)
 * or die (a crashed process: its timers never fire again).
 *
 * Local time is piecewise linear in global time: now = base + (global - globalBase) * rate.
 * A timer set for `ms` local milliseconds is due at a local instant; whenever the mapping
 * changes (new rate, jump) every pending timer is re-armed at the global instant where its
 * local due time now falls, so a jump forward fires overdue timers at once, as it would on a
 * real host whose monotonic clock jumped.
 */
import type { Clock, Timer } from '../../util/clock.js'
import { QuorateError } from '../../errors.js'

interface NodeTimer extends Timer {
  fn: (() => void) | null
  localDue: number
  inner: Timer | null
  seq: number
}

export class NodeClock implements Clock {
  readonly #global: Clock
  #rate: number
  #base: number
  #globalBase: number
  readonly #pending = new Set<NodeTimer>()
  /** Timers that fell due while paused, in due order; they fire on resume. */
  #deferred: NodeTimer[] = []
  #paused = false
  #dead = false
  #seq = 0

  /** @param rate local milliseconds per global millisecond (1 = no drift) */
  constructor (global: Clock, rate = 1, offset = 0) {
    requireRate(rate)
    this.#global = global
    this.#rate = rate
    this.#globalBase = global.now()
    this.#base = this.#globalBase + offset
  }

  get rate (): number { return this.#rate }
  get paused (): boolean { return this.#paused }

  now (): number {
    return this.#base + (this.#global.now() - this.#globalBase) * this.#rate
  }

  setTimeout (fn: () => void, ms: number): Timer {
    const t: NodeTimer = { __timer: true, fn, localDue: this.now() + Math.max(0, ms), inner: null, seq: this.#seq++ }
    if (this.#dead) { t.fn = null; return t }
    this.#pending.add(t)
    this.#arm(t)
    return t
  }

  clearTimeout (timer: Timer): void {
    const t = timer as NodeTimer
    if (t.fn === null) return
    t.fn = null
    if (t.inner !== null) this.#global.clearTimeout(t.inner)
    this.#pending.delete(t)
  }

  /** Changes the drift rate from now on. */
  setRate (rate: number): void {
    requireRate(rate)
    this.#rebase()
    this.#rate = rate
    this.#rearmAll()
  }

  /** Moves local time forward by `ms` at once; timers that become due fire immediately. */
  jump (ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new QuorateError('OPTIONS_INVALID', `NodeClock.jump: ms must be a finite number >= 0 (got ${String(ms)})`)
    this.#base += ms
    this.#rearmAll()
  }

  /** Stops firing timers (a stopped process); time keeps passing. */
  pause (): void { this.#paused = true }

  /** Fires, as soon as possible and in due order, every timer that fell due while paused. */
  resume (): void {
    if (!this.#paused) return
    this.#paused = false
    const deferred = this.#deferred
    this.#deferred = []
    for (const t of deferred) if (t.fn !== null) t.inner = this.#global.setTimeout(() => { this.#fire(t) }, 0)
  }

  /** The process died: no timer of this clock fires again. */
  kill (): void {
    this.#dead = true
    for (const t of this.#pending) {
      if (t.inner !== null) this.#global.clearTimeout(t.inner)
      t.fn = null
    }
    this.#pending.clear()
    this.#deferred = []
  }

  #rebase (): void {
    const now = this.now()
    this.#globalBase = this.#global.now()
    this.#base = now
  }

  #rearmAll (): void {
    // Re-arm in the order the timers were set, so equal due times keep their order.
    const timers = [...this.#pending].filter((t) => t.inner !== null).sort((a, b) => a.seq - b.seq)
    for (const t of timers) {
      this.#global.clearTimeout(t.inner!)
      this.#arm(t)
    }
  }

  #arm (t: NodeTimer): void {
    const delay = (t.localDue - this.now()) / this.#rate
    t.inner = this.#global.setTimeout(() => { this.#fire(t) }, delay > 0 ? delay : 0)
  }

  #fire (t: NodeTimer): void {
    t.inner = null
    const fn = t.fn
    if (fn === null) return
    if (this.#paused) {
      this.#deferred.push(t)
      return
    }
    t.fn = null
    this.#pending.delete(t)
    fn()
  }
}

function requireRate (rate: number): void {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new QuorateError('OPTIONS_INVALID', `NodeClock: rate must be a finite number > 0 (got ${String(rate)})`)
}

/**
 * Driving a ManualClock from a test: time moves only when every promise chain that can
 * progress without time passing has done so, then by jumping to the next timer. Whatever a
 * test awaits (a condition, a promise) is checked after every timer, so a test waits exactly
 * as long in virtual time as the system needs, never a wall-clock guess.
 *
 * One pump serves every waiter: concurrent waits (e.g. many client workers) share the same
 * sequence of timer firings instead of each racing the clock forward.
 */
import type { ManualClock } from '../../src/testing/manual-clock.js'

export interface WaitOptions {
  /** Virtual milliseconds to wait at most; then the wait fails naming `what`. */
  readonly maxMs: number
  /** What is awaited, for the timeout message. */
  readonly what: string
}

interface Waiter {
  readonly done: () => boolean
  readonly deadline: number
  readonly what: string
  readonly maxMs: number
  readonly resolve: () => void
  readonly reject: (err: Error) => void
}

/**
 * Lets every promise chain that can progress without time passing do so: `turns` macrotask
 * turns (one is enough unless a chain itself defers to a later turn, e.g. via setImmediate).
 */
export async function settle (turns = 1): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => { setImmediate(resolve) })
}

export class VirtualTime {
  readonly clock: ManualClock
  /** Macrotask turns settled before each timer fires. */
  readonly turns: number
  readonly #waiters = new Set<Waiter>()
  #pumping = false

  constructor (clock: ManualClock, turns = 1) {
    this.clock = clock
    this.turns = turns
  }

  /**
   * Resolves once `done()` holds (checked after every timer); rejects when it still does not
   * after `maxMs` of virtual time, or when no timer is left that could change anything.
   */
  async until (done: () => boolean, options: WaitOptions): Promise<void> {
    await settle(this.turns)
    if (done()) return
    await new Promise<void>((resolve, reject) => {
      this.#waiters.add({ done, deadline: this.clock.now() + options.maxMs, what: options.what, maxMs: options.maxMs, resolve, reject })
      if (!this.#pumping) void this.#pump()
    })
  }

  /** Runs the clock until `promise` settles (or `maxMs` pass), and returns its outcome. */
  async await<T> (promise: Promise<T>, options: WaitOptions): Promise<T> {
    let settled = false
    const watched = promise.finally(() => { settled = true })
    watched.catch(() => {})
    await this.until(() => settled, options)
    return await watched
  }

  /** Advances virtual time by `ms`, firing the timers due on the way and settling after each. */
  async run (ms: number): Promise<void> {
    const target = this.clock.now() + ms
    await this.until(() => this.clock.now() >= target, { maxMs: ms, what: `${ms} ms to pass` }).catch(() => {})
    if (this.clock.now() < target) this.clock.advance(target - this.clock.now())
    await settle(this.turns)
  }

  async #pump (): Promise<void> {
    this.#pumping = true
    try {
      while (this.#waiters.size > 0) {
        await settle(this.turns)
        const due = this.clock.nextDue()
        let woke = false
        for (const w of [...this.#waiters]) {
          if (w.done()) { this.#waiters.delete(w); w.resolve(); woke = true; continue }
          if (due === undefined || due > w.deadline) {
            this.#waiters.delete(w)
            const why = due === undefined ? 'no timer is left to fire' : `${w.maxMs} ms of virtual time passed`
            w.reject(new Error(`timed out waiting for ${w.what}: ${why}`))
            woke = true
          }
        }
        // A woken waiter's continuation runs (and may start new work) before time moves on.
        if (!woke && this.#waiters.size > 0) this.clock.runNext()
      }
    } finally {
      this.#pumping = false
    }
  }
}

/**
 * The simulated network of the transponder simulator: every hop is a virtual-time delay drawn
 * from the run's seeded Random, and a hop to or from a dead process goes nowhere (its promise
 * never settles: the sender's own deadline must notice), except that an agent's connection to a
 * transponder that died is reset (a crashed process's sockets are closed by its kernel), which
 * is how agents notice the death at their next heartbeat or pending submit.
 */
import type { ManualClock } from '../manual-clock.js'
import type { SeededRandom } from '../../util/random.js'

export class SimNetwork {
  readonly clock: ManualClock
  readonly #random: SeededRandom
  readonly #min: number
  readonly #max: number
  readonly dead = new Set<string>()

  constructor (clock: ManualClock, random: SeededRandom, latency: { minMs: number, maxMs: number }) {
    this.clock = clock
    this.#random = random
    this.#min = latency.minMs
    this.#max = latency.maxMs
  }

  /** A whole-millisecond one-way delay (whole milliseconds keep the number of distinct instants small). */
  delay (): number { return this.#min + Math.floor(this.#random.next() * (this.#max - this.#min + 1)) }

  /** Runs `fn` at `to` after one hop, unless `from` or `to` is dead by then. */
  hop (from: string, to: string, fn: () => void): void {
    if (this.dead.has(from)) return
    this.clock.setTimeout(() => { if (!this.dead.has(to) && !this.dead.has(from)) fn() }, this.delay())
  }

  /** A request/response over two hops: resolves with `handler`'s answer, or never (a dead end). */
  call<T> (from: string, to: string, handler: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.hop(from, to, () => {
        handler().then((v) => { this.hop(to, from, () => { resolve(v) }) }, (e) => { this.hop(to, from, () => { reject(e) }) })
      })
    })
  }
}

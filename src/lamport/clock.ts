/**
 * The Lamport clock. It is a plain deterministic object (no wall time, no randomness) that
 * callers inject into a store, so simulations and tests replay exactly.
 *
 * Invariant: every stamp returned by `tick()` or `receive()` is strictly greater than every
 * stamp this clock issued or observed before, which gives happened-before → stamp order.
 */
import { QuorateError } from '../errors.js'
import { isValidStamp, type Stamp } from './stamp.js'

export interface LamportClockOptions {
  /** This node's cluster-unique number (unsigned 32-bit). Disambiguates equal counters. */
  node: number
  /**
   * Counter to start from, e.g. the highest counter persisted before a restart.
   * @default 0
   */
  initial?: number
}

export const DEFAULT_INITIAL_COUNTER = 0

export function validateLamportClockOptions (options: LamportClockOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new QuorateError('OPTIONS_INVALID', 'LamportClock options must be an object')
  }
  const { node, initial } = options
  if (!Number.isInteger(node) || node < 0 || node > 0xffffffff) {
    throw new QuorateError('OPTIONS_INVALID', 'LamportClock option "node" must be an integer in [0, 2^32)')
  }
  if (initial !== undefined && (!Number.isSafeInteger(initial) || initial < 0)) {
    throw new QuorateError('OPTIONS_INVALID', 'LamportClock option "initial" must be a non-negative safe integer')
  }
}

export class LamportClock {
  readonly node: number
  #counter: number

  constructor (options: LamportClockOptions) {
    validateLamportClockOptions(options)
    this.node = options.node
    this.#counter = options.initial ?? DEFAULT_INITIAL_COUNTER
  }

  /** The highest counter issued or observed so far. */
  get counter (): number { return this.#counter }

  /** A new stamp for a local event. */
  tick (): Stamp {
    if (this.#counter >= Number.MAX_SAFE_INTEGER) {
      throw new QuorateError('TUPLE_INVALID', 'Lamport counter exhausted (2^53)')
    }
    this.#counter += 1
    return { counter: this.#counter, node: this.node }
  }

  /** Receipt of a message stamped `stamp`: the receipt event gets `max(local, received) + 1`. */
  receive (stamp: Stamp): Stamp {
    this.observe(stamp)
    return this.tick()
  }

  /**
   * Moves the counter up to `stamp.counter` without creating an event (merging state,
   * reloading after a restart). Never moves it down.
   */
  observe (stamp: Stamp): void {
    if (!isValidStamp(stamp)) throw new QuorateError('TUPLE_INVALID', 'Not a valid stamp')
    if (stamp.counter > this.#counter) this.#counter = stamp.counter
  }
}

/**
 * The memo of Lowe's improvement to Wing & Gong: the (set of linearized operations, model
 * state) configurations already explored. Reaching one again cannot lead anywhere new, so
 * the search backtracks. The set is a bitset hashed incrementally (Zobrist: XOR of one
 * random word per operation) so that a lookup costs one state hash, not a pass over the set.
 */
import { SeededRandom } from '../util/random.js'

interface MemoEntry<State> {
  readonly bits: Uint32Array
  readonly state: State
}

export class LinearizationMemo<State> {
  /** Current set of linearized operations; mutate only through toggle(). */
  readonly bits: Uint32Array
  readonly #opHashes: Uint32Array
  #setHash = 0
  readonly #buckets = new Map<number, MemoEntry<State> | Array<MemoEntry<State>>>()
  readonly #equal: (a: State, b: State) => boolean
  readonly #capacity: number
  #size = 0

  /**
   * @param capacity beyond this many entries nothing more is remembered: the search stays
   *   correct (the memo only prunes), it may just take longer.
   */
  constructor (operationCount: number, equal: (a: State, b: State) => boolean, capacity: number) {
    this.bits = new Uint32Array(Math.ceil(operationCount / 32))
    // A fixed seed keeps a check reproducible; the hashes only need to be well spread.
    const random = new SeededRandom(0x1ea71)
    this.#opHashes = new Uint32Array(operationCount)
    for (let i = 0; i < operationCount; i++) this.#opHashes[i] = random.nextUint32()
    this.#equal = equal
    this.#capacity = capacity
  }

  get size (): number { return this.#size }

  /** Adds or removes operation `op` from the current set. */
  toggle (op: number): void {
    this.bits[op >>> 5]! ^= 1 << (op & 31)
    this.#setHash ^= this.#opHashes[op]!
  }

  /**
   * Records (current set, state) and returns true, or returns false if it was seen before.
   * `stateHash` must be a 32-bit integer equal for equal states.
   */
  visit (state: State, stateHash: number): boolean {
    const key = (this.#setHash ^ Math.imul(stateHash, 0x9e3779b1)) >>> 0
    const bucket = this.#buckets.get(key)
    if (bucket !== undefined) {
      if (Array.isArray(bucket)) {
        for (const entry of bucket) if (this.#matches(entry, state)) return false
      } else if (this.#matches(bucket, state)) {
        return false
      }
    }
    if (this.#size >= this.#capacity) return true
    const entry: MemoEntry<State> = { bits: this.bits.slice(), state }
    if (bucket === undefined) this.#buckets.set(key, entry)
    else if (Array.isArray(bucket)) bucket.push(entry)
    else this.#buckets.set(key, [bucket, entry])
    this.#size++
    return true
  }

  #matches (entry: MemoEntry<State>, state: State): boolean {
    const bits = this.bits
    for (let i = 0; i < bits.length; i++) if (entry.bits[i] !== bits[i]) return false
    return this.#equal(entry.state, state)
  }
}

/** FNV-1a over UTF-16 code units: a 32-bit hash for string state hashes. */
export function hashString (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

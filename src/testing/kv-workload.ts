/**
 * A seeded generator of key-value commands for simulated clients. Every written value is
 * unique (a counter), which is what lets the checker tell a stale read from a fresh one;
 * `cas` expects the value this generator last wrote to the key, so some succeed.
 */
import { checkInt, check } from '../util/validate.js'
import { randomInt } from '../util/random.js'
import type { Random } from '../util/random.js'
import type { KvInput } from './kv-model.js'

export const DEFAULT_KV_WORKLOAD_KEYS = 10
export const DEFAULT_KV_WORKLOAD_WEIGHTS: Readonly<Record<KvInput['op'], number>> = Object.freeze({ get: 4, put: 3, cas: 2, append: 1 })

export interface KvWorkloadOptions {
  /** Number of distinct keys, named "k0", "k1", ... @default DEFAULT_KV_WORKLOAD_KEYS (10) */
  keys?: number
  /** Relative frequency of each command; missing ones count as 0. @default DEFAULT_KV_WORKLOAD_WEIGHTS (get 4, put 3, cas 2, append 1) */
  weights?: Partial<Record<KvInput['op'], number>>
  /** Prepended to every written value, to keep values unique across several generators. @default '' */
  valuePrefix?: string
}

const OPS: ReadonlyArray<KvInput['op']> = ['get', 'put', 'cas', 'append']

export function validateKvWorkloadOptions (options: KvWorkloadOptions): void {
  if (options.keys !== undefined) checkInt(options.keys, 'KvWorkload', 'keys', 1)
  if (options.weights !== undefined) {
    let total = 0
    for (const op of OPS) {
      const w = options.weights[op] ?? 0
      check(Number.isFinite(w) && w >= 0, 'KvWorkload', `weights.${op}`, 'a non-negative number', w)
      total += w
    }
    check(total > 0, 'KvWorkload', 'weights', 'weights with a positive sum', options.weights)
  }
  if (options.valuePrefix !== undefined) check(typeof options.valuePrefix === 'string', 'KvWorkload', 'valuePrefix', 'a string', options.valuePrefix)
}

export class KvWorkload {
  readonly #random: Random
  readonly #keys: number
  readonly #weights: number[]
  readonly #totalWeight: number
  readonly #prefix: string
  readonly #lastWritten = new Map<string, string>()
  #counter = 0

  constructor (random: Random, options: KvWorkloadOptions = {}) {
    validateKvWorkloadOptions(options)
    this.#random = random
    this.#keys = options.keys ?? DEFAULT_KV_WORKLOAD_KEYS
    const weights = options.weights ?? DEFAULT_KV_WORKLOAD_WEIGHTS
    this.#weights = OPS.map((op) => weights[op] ?? 0)
    this.#totalWeight = this.#weights.reduce((a, b) => a + b, 0)
    this.#prefix = options.valuePrefix ?? ''
  }

  /** The next command. */
  next (): KvInput {
    const key = `k${randomInt(this.#random, 0, this.#keys)}`
    const op = this.#pickOp()
    if (op === 'get') return { op, key }
    const value = `${this.#prefix}${op[0]}${this.#counter++}`
    if (op === 'append') return { op, key, value }
    const expected = this.#lastWritten.get(key) ?? null
    this.#lastWritten.set(key, value)
    return op === 'put' ? { op, key, value } : { op, key, expected, value }
  }

  #pickOp (): KvInput['op'] {
    let r = this.#random.next() * this.#totalWeight
    for (let i = 0; i < OPS.length; i++) {
      r -= this.#weights[i]!
      if (r < 0) return OPS[i]!
    }
    return OPS[this.#weights.findLastIndex((w) => w > 0)]!
  }
}

/**
 * Compound objects built on tuples, each keeping per-element stamps:
 *
 * - `LwwMap` and `LwwArray`: one tuple per element, `[kind, name, key, value]`. A write is
 *   one transaction "cancel `[kind, name, key, ANY]`, assert the new element": the
 *   cancellation removes every older value of that element on every replica, whatever
 *   order writes arrive in, so the element with the newest stamp wins (last writer wins).
 * - `Counter`: one tuple per increment, `['counter', name, eventId, amount]`, so
 *   concurrent increments are distinct tuples and all count. The sum is kept up to date
 *   from visibility changes, so reading it is O(1), not a recount.
 *
 * Choose names that no other tuples use: the objects own every tuple under their prefix.
 */
import { QuorateError } from '../errors.js'
import { stampId, type Stamp } from './stamp.js'
import type { AppliedTransaction, TupleStore } from './store.js'
import { ANY, tupleKey, validateTuple, type Value } from './tuple.js'
import { negative, positive } from './update.js'

class LwwElements<K extends Value> {
  readonly #store: TupleStore
  readonly #prefix: readonly Value[]

  constructor (store: TupleStore, kind: string, name: Value) {
    validateTuple([name])
    this.#store = store
    this.#prefix = [kind, name]
  }

  protected async setElement (key: K, value: Value): Promise<AppliedTransaction> {
    return await this.#store.transact([
      negative([...this.#prefix, key, ANY]),
      positive([...this.#prefix, key, value])
    ])
  }

  protected async deleteElement (key: K): Promise<AppliedTransaction> {
    return await this.#store.transact([negative([...this.#prefix, key, ANY])])
  }

  /** The newest visible value (more than one is visible only while a write is half-merged). */
  protected element (key: K): { value: Value, stamp: Stamp } | undefined {
    let best: { value: Value, stamp: Stamp } | undefined
    for (const { tuple, stamp } of this.#store.queryStamped([...this.#prefix, key, ANY])) {
      if (best === undefined || stamp.counter > best.stamp.counter ||
        (stamp.counter === best.stamp.counter && stamp.node > best.stamp.node)) best = { value: tuple[3] as Value, stamp }
    }
    return best
  }

  protected elements (): Array<[K, Value]> {
    const out: Array<[K, Value]> = []
    let lastKey: K | undefined
    for (const t of this.#store.query([...this.#prefix, ANY, ANY])) {
      const key = t[2] as K
      if (out.length > 0 && lastKey !== undefined && sameKey(lastKey, key)) {
        out[out.length - 1] = [key, (this.element(key) as { value: Value }).value]
        continue
      }
      out.push([key, t[3] as Value])
      lastKey = key
    }
    return out
  }
}

function sameKey (a: Value, b: Value): boolean {
  return a === b || tupleKey([a]) === tupleKey([b])
}

/** A last-writer-wins map from tuple values to tuple values. */
export class LwwMap extends LwwElements<Value> {
  constructor (store: TupleStore, name: Value) { super(store, 'map', name) }

  async set (key: Value, value: Value): Promise<AppliedTransaction> { return await this.setElement(key, value) }
  async delete (key: Value): Promise<AppliedTransaction> { return await this.deleteElement(key) }
  get (key: Value): Value | undefined { return this.element(key)?.value }
  has (key: Value): boolean { return this.element(key) !== undefined }
  /** The stamp of the write that set the element's current value. */
  stampOf (key: Value): Stamp | undefined { return this.element(key)?.stamp }
  /** Every element in key order. */
  entries (): Array<[Value, Value]> { return this.elements() }
}

/** A last-writer-wins array: each index is updated (and stamped) independently. */
export class LwwArray extends LwwElements<number> {
  constructor (store: TupleStore, name: Value) { super(store, 'array', name) }

  async set (index: number, value: Value): Promise<AppliedTransaction> {
    checkIndex(index)
    return await this.setElement(index, value)
  }

  /** Clears an element (it reads as undefined; the array does not shift). */
  async delete (index: number): Promise<AppliedTransaction> {
    checkIndex(index)
    return await this.deleteElement(index)
  }

  get (index: number): Value | undefined { return this.element(index)?.value }
  stampOf (index: number): Stamp | undefined { return this.element(index)?.stamp }

  /** One past the highest index that holds a value. */
  get length (): number {
    const all = this.elements()
    return all.length === 0 ? 0 : (all[all.length - 1] as [number, Value])[0] + 1
  }

  /** A dense copy; indexes without a value are undefined. */
  toArray (): Array<Value | undefined> {
    const all = this.elements()
    const out: Array<Value | undefined> = all.length === 0 ? [] : new Array((all[all.length - 1] as [number, Value])[0] + 1).fill(undefined)
    for (const [i, v] of all) out[i] = v
    return out
  }
}

function checkIndex (index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) throw new QuorateError('TUPLE_INVALID', 'An array index must be a non-negative safe integer')
}

/**
 * A counter kept as one tuple per increment. Call `close()` when done with it: it watches
 * the store to keep its sum current.
 */
export class Counter {
  readonly #store: TupleStore
  readonly #name: Value
  #value = 0
  readonly #stop: () => void

  constructor (store: TupleStore, name: Value) {
    validateTuple([name])
    this.#store = store
    this.#name = name
    // Watch first, then sum: a change in between cannot happen (both are synchronous).
    this.#stop = store.watch(['counter', name, ANY, ANY], (c) => {
      const amount = c.tuple[3] as number
      this.#value += c.type === 'added' ? amount : -amount
    })
    for (const t of store.query(['counter', name, ANY, ANY])) this.#value += t[3] as number
  }

  /** The sum of every visible increment. O(1). */
  get value (): number { return this.#value }

  /** Adds `amount` (a safe integer, may be negative) as a new, cluster-unique event. */
  async increment (amount = 1): Promise<AppliedTransaction> {
    if (!Number.isSafeInteger(amount)) throw new QuorateError('TUPLE_INVALID', 'A counter increment must be a safe integer')
    return await this.#store.transact((stamp) => [positive(['counter', this.#name, stampId(stamp), amount])])
  }

  /** Cancels every increment stamped before now (concurrent later increments survive). */
  async reset (): Promise<AppliedTransaction> {
    return await this.#store.transact([negative(['counter', this.#name, ANY, ANY])])
  }

  close (): void { this.#stop() }
}


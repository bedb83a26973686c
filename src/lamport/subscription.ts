/**
 * A subscription to visible changes as an async iterator. It registers at creation (so no
 * change between `subscribe()` and the first `next()` is lost) and releases its
 * registration on `return()` (a `for await` loop's exit), on abort, on overflow and when
 * the store closes.
 */
import { abortError, QuorateError } from '../errors.js'
import type { Stamp } from './stamp.js'
import type { Tuple } from './tuple.js'

export interface TupleChange {
  /** 'added': the tuple became visible; 'removed': it was cancelled. */
  readonly type: 'added' | 'removed'
  readonly tuple: Tuple
  /** The positive stamp that made it visible, or the cancellation that hid it. */
  readonly stamp: Stamp
}

export class ChangeStream implements AsyncIterableIterator<TupleChange> {
  #queue: TupleChange[] = []
  #head = 0
  #waiter: ((r: IteratorResult<TupleChange>) => void) | null = null
  #failWaiter: ((err: unknown) => void) | null = null
  #error: QuorateError | null = null
  #done = false
  readonly #maxQueued: number
  readonly #signal: AbortSignal | undefined
  readonly #release: () => void
  readonly #onAbort = (): void => { this.#fail(abortError(this.#signal as AbortSignal)) }

  /** `register` hooks `push` up to the store and returns the function that unhooks it. */
  constructor (register: (push: (c: TupleChange) => void) => () => void, maxQueued: number, signal?: AbortSignal) {
    this.#maxQueued = maxQueued
    this.#signal = signal
    if (signal?.aborted === true) {
      this.#release = () => {}
      this.#error = abortError(signal)
      return
    }
    this.#release = register((c) => { this.#push(c) })
    signal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  #push (c: TupleChange): void {
    if (this.#done || this.#error !== null) return
    if (this.#waiter !== null) {
      const w = this.#waiter
      this.#waiter = this.#failWaiter = null
      w({ value: c, done: false })
      return
    }
    if (this.#queue.length - this.#head >= this.#maxQueued) {
      this.#fail(new QuorateError('TUPLE_SUBSCRIPTION_OVERFLOW',
        `The subscriber fell more than ${this.#maxQueued} changes behind`, { details: { maxQueuedChanges: this.#maxQueued } }))
      return
    }
    this.#queue.push(c)
  }

  #cleanup (): void {
    this.#release()
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#queue = []
    this.#head = 0
  }

  #fail (err: QuorateError): void {
    if (this.#done || this.#error !== null) return
    this.#error = err
    this.#cleanup()
    if (this.#failWaiter !== null) {
      const f = this.#failWaiter
      this.#waiter = this.#failWaiter = null
      f(err)
    }
  }

  /** Ends the stream normally (the store closed). Queued changes are dropped. */
  end (): void {
    if (this.#done) return
    this.#done = true
    this.#cleanup()
    if (this.#waiter !== null) {
      const w = this.#waiter
      this.#waiter = this.#failWaiter = null
      w({ value: undefined, done: true })
    }
  }

  async next (): Promise<IteratorResult<TupleChange>> {
    if (this.#head < this.#queue.length) {
      const value = this.#queue[this.#head++] as TupleChange
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head)
        this.#head = 0
      }
      return { value, done: false }
    }
    if (this.#error !== null) {
      const err = this.#error
      this.#done = true
      throw err
    }
    if (this.#done) return { value: undefined, done: true }
    return await new Promise((resolve, reject) => {
      this.#waiter = resolve
      this.#failWaiter = reject
    })
  }

  async return (): Promise<IteratorResult<TupleChange>> {
    this.end()
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator] (): this { return this }
}

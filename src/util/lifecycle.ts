/**
 * One open/close state machine for every component that opens and closes (storages, the
 * node, transports, the tuple store): transitions run one at a time in call order, and each
 * one re-checks the status when its turn comes, so `open(); open(); close(); open()` in any
 * interleaving ends in the state the last call asked for. `open()` of an open component and
 * `close()` of a closed one resolve at once (idempotent).
 *
 * Invariant: `status` is 'opening' or 'closing' only while that transition's `run` is in
 * flight; a failed open leaves 'closed'; a close always ends 'closed', even if `run` threw.
 */
import { QuorateError, abortError } from '../errors.js'

export type ComponentStatus = 'opening' | 'open' | 'closing' | 'closed'

export interface LifecycleOptions {
  /**
   * For a one-shot component (a transport holding sockets it cannot reacquire): after the
   * first open() or close(), a later open() rejects with this error instead of reopening.
   * @default undefined (reopenable)
   */
  readonly once?: () => QuorateError
}

export class Lifecycle {
  #status: ComponentStatus = 'closed'
  #tail: Promise<void> = Promise.resolve()
  readonly #component: string
  readonly #once: (() => QuorateError) | undefined
  /** Whether open() or close() ran (matters only for a one-shot component). */
  #used = false

  /** `component` names the owner in error messages ("The storage is not open"). */
  constructor (component: string, options: LifecycleOptions = {}) {
    this.#component = component
    this.#once = options.once
  }

  get status (): ComponentStatus { return this.#status }

  get isOpen (): boolean { return this.#status === 'open' }

  /** Throws NODE_NOT_OPEN unless open. */
  assertOpen (): void {
    if (this.#status !== 'open') throw this.#notOpenError()
  }

  #notOpenError (): QuorateError {
    return new QuorateError('NODE_NOT_OPEN', `The ${this.#component} is not open (it is ${this.#status})`)
  }

  /** For work that was accepted while open and ran later: throws NODE_CLOSED if closed since. */
  assertStillOpen (): void {
    if (this.#status !== 'open') throw new QuorateError('NODE_CLOSED', `The ${this.#component} was closed while the operation was pending`)
  }

  /**
   * `started` runs right after the status becomes 'open', in the same turn, for work that
   * checks the status (timers, a first processing pass); it is skipped when already open.
   */
  open (run: () => Promise<void>, signal?: AbortSignal, started?: () => void): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#status === 'open') return
      if (this.#once !== undefined && this.#used) throw this.#once()
      if (signal?.aborted === true) throw abortError(signal)
      this.#used = true
      this.#status = 'opening'
      try {
        await run()
      } catch (err) {
        this.#status = 'closed'
        throw err
      }
      this.#status = 'open'
      started?.()
    })
  }

  close (run: () => Promise<void>): Promise<void> {
    return this.#enqueue(async () => {
      this.#used = true
      if (this.#status === 'closed') return
      this.#status = 'closing'
      try {
        await run()
      } finally {
        this.#status = 'closed'
      }
    })
  }

  #enqueue (step: () => Promise<void>): Promise<void> {
    const result = this.#tail.then(step)
    // The chain must survive a failed step; the caller still sees the rejection.
    this.#tail = result.then(() => {}, () => {})
    return result
  }
}

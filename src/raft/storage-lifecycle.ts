/**
 * Idempotent, race-safe open/close for storages: transitions run one at a time in call order,
 * and each one re-checks the status when its turn comes, so `open(); open(); close(); open()`
 * in any interleaving ends in the state the last call asked for.
 */
import { QuorateError, abortError } from '../errors.js'
import type { ComponentStatus } from './storage.js'
import { notOpen } from './storage-validation.js'

export class Lifecycle {
  #status: ComponentStatus = 'closed'
  #tail: Promise<void> = Promise.resolve()

  get status (): ComponentStatus { return this.#status }

  get isOpen (): boolean { return this.#status === 'open' }

  /** Throws NODE_NOT_OPEN unless open. */
  assertOpen (): void {
    if (this.#status !== 'open') throw notOpen()
  }

  /** For work that was accepted while open and ran later: throws NODE_CLOSED if closed since. */
  assertStillOpen (): void {
    if (this.#status !== 'open') throw new QuorateError('NODE_CLOSED', 'The storage was closed while the operation was pending')
  }

  open (run: () => Promise<void>, signal?: AbortSignal): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#status === 'open') return
      if (signal?.aborted === true) throw abortError(signal)
      this.#status = 'opening'
      try {
        await run()
      } catch (err) {
        this.#status = 'closed'
        throw err
      }
      this.#status = 'open'
    })
  }

  close (run: () => Promise<void>): Promise<void> {
    return this.#enqueue(async () => {
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
    this.#tail = result.catch(() => {})
    return result
  }
}

/**
 * Abort plumbing on the injected clock. `linked` gives an operation its own signal that
 * follows the caller's signals and is detached when the operation ends (`done()`), so a
 * long-lived signal does not collect one listener per operation. `deadline` adds a timeout
 * on the injected clock (AbortSignal.timeout would read the system clock).
 */
import { QuorateError, abortError } from '../errors.js'
import type { Clock } from '../util/clock.js'

export interface LinkedSignal {
  readonly signal: AbortSignal
  /** Aborts the linked signal (if it has not fired yet). */
  abort: (reason: unknown) => void
  /** Detaches from the followed signals (and clears any timer). */
  done: () => void
}

export function linked (...signals: Array<AbortSignal | undefined>): LinkedSignal {
  const controller = new AbortController()
  const followed = signals.filter((s): s is AbortSignal => s !== undefined)
  const onAbort = (event: Event): void => { abort((event.target as AbortSignal).reason) }
  const done = (): void => { for (const s of followed) s.removeEventListener('abort', onAbort) }
  function abort (reason: unknown): void {
    done()
    if (!controller.signal.aborted) controller.abort(reason)
  }
  for (const s of followed) {
    if (s.aborted) { abort(s.reason); break }
    s.addEventListener('abort', onAbort, { once: true })
  }
  return { signal: controller.signal, abort, done }
}

/** A linked signal that also fires LEASE_EXPIRED after `ms` of the injected clock. */
export function deadline (clock: Clock, ms: number, what: string, ...signals: Array<AbortSignal | undefined>): LinkedSignal {
  const link = linked(...signals)
  const timer = clock.setTimeout(() => { link.abort(new QuorateError('LEASE_EXPIRED', `${what} did not complete within ${ms} ms`)) }, ms)
  return {
    signal: link.signal,
    abort: (reason) => { clock.clearTimeout(timer); link.abort(reason) },
    done: () => { clock.clearTimeout(timer); link.done() }
  }
}

/** Resolves after `ms` of the injected clock, or rejects with ABORTED when `signal` fires. */
export async function sleep (clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) { reject(abortError(signal)); return }
    const onAbort = (): void => {
      clock.clearTimeout(timer)
      reject(abortError(signal!))
    }
    const timer = clock.setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

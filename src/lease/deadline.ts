/**
 * An AbortSignal that fires when any of the given signals fires or when `ms` of the injected
 * clock have passed (AbortSignal.timeout would read the system clock). Call `done()` when the
 * operation ends so the timer and listeners are released.
 */
import { QuorateError, abortError } from '../errors.js'
import type { Clock } from '../util/clock.js'

export interface Deadline {
  readonly signal: AbortSignal
  done: () => void
}

export function deadline (clock: Clock, ms: number, what: string, ...signals: Array<AbortSignal | undefined>): Deadline {
  const controller = new AbortController()
  const linked = signals.filter((s): s is AbortSignal => s !== undefined)
  const onAbort = (event: Event): void => { finish((event.target as AbortSignal).reason) }
  const timer = clock.setTimeout(() => { finish(new QuorateError('LEASE_EXPIRED', `${what} did not complete within ${ms} ms`)) }, ms)
  function finish (reason?: unknown): void {
    clock.clearTimeout(timer)
    for (const s of linked) s.removeEventListener('abort', onAbort)
    if (reason !== undefined && !controller.signal.aborted) controller.abort(reason)
  }
  for (const s of linked) {
    if (s.aborted) { finish(s.reason); break }
    s.addEventListener('abort', onAbort, { once: true })
  }
  return { signal: controller.signal, done: () => { finish() } }
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

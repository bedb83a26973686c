/**
 * One bounded attempt: `run` gets a signal that fires when `ms` pass or any of `outer` fires,
 * and the returned promise settles by then even if `run`'s never does (a transport that
 * swallowed the message). Every relay hop is bounded this way, so no promise waits forever on
 * a dead peer. The timer and listeners are removed when the attempt settles.
 */
import type { Clock } from '../util/clock.js'
import { sharedAbortController } from '../util/abort.js'

/**
 * One signal that many concurrent operations of one batch may listen on: it fires when the
 * caller's `outer` fires, with the same reason. The caller's signal gets one listener per
 * batch (released when the batch settles), not one per command or event in it, so a batch of
 * hundreds does not trip Node's MaxListenersExceededWarning on the caller's signal — and the
 * batch's own signal is unbounded by design (each operation removes its listener when it
 * settles). Without `outer`, returns undefined and nothing to release.
 */
export function fanOutSignal (outer: AbortSignal | undefined): { signal: AbortSignal | undefined, release: () => void } {
  if (outer === undefined) return { signal: undefined, release: () => {} }
  const controller = sharedAbortController()
  if (outer.aborted) { controller.abort(outer.reason); return { signal: controller.signal, release: () => {} } }
  const forward = (): void => { controller.abort(outer.reason) }
  outer.addEventListener('abort', forward, { once: true })
  return { signal: controller.signal, release: () => { outer.removeEventListener('abort', forward) } }
}

export async function boundedAttempt<T> (
  clock: Clock, ms: number, outer: ReadonlyArray<AbortSignal | undefined>, timeoutReason: () => unknown, run: (signal: AbortSignal) => Promise<T>
): Promise<T> {
  const controller = new AbortController()
  const stop = (event: Event): void => { controller.abort((event.target as AbortSignal).reason) }
  for (const s of outer) {
    if (s === undefined) continue
    if (s.aborted) controller.abort(s.reason)
    else s.addEventListener('abort', stop, { once: true })
  }
  const timer = clock.setTimeout(() => { controller.abort(timeoutReason()) }, ms)
  try {
    return await Promise.race([
      run(controller.signal),
      new Promise<never>((_resolve, reject) => {
        if (controller.signal.aborted) reject(controller.signal.reason)
        controller.signal.addEventListener('abort', () => { reject(controller.signal.reason) }, { once: true })
      })
    ])
  } finally {
    clock.clearTimeout(timer)
    for (const s of outer) s?.removeEventListener('abort', stop)
  }
}

/**
 * One bounded attempt: `run` gets a signal that fires when `ms` pass or any of `outer` fires,
 * and the returned promise settles by then even if `run`'s never does (a transport that
 * swallowed the message). Every relay hop is bounded this way, so no promise waits forever on
 * a dead peer. The timer and listeners are removed when the attempt settles.
 */
import type { Clock } from '../util/clock.js'

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

import { abortError } from '../errors.js'

/**
 * A promise that settles through `executor`, or rejects with ABORTED when `signal` fires
 * (if `cancel()` says the operation could still be withdrawn). The abort listener is removed
 * as soon as the promise settles, so a long-lived signal does not collect listeners.
 */
export function abortable<T> (
  signal: AbortSignal | undefined,
  executor: (resolve: (value: T) => void, reject: (err: unknown) => void) => void,
  cancel: () => boolean = () => true
): Promise<T> {
  if (signal === undefined) return new Promise<T>(executor)
  if (signal.aborted) return Promise.reject(abortError(signal))
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { if (cancel()) reject(abortError(signal)) }
    signal.addEventListener('abort', onAbort, { once: true })
    const done = (): void => { signal.removeEventListener('abort', onAbort) }
    executor((v) => { done(); resolve(v) }, (e) => { done(); reject(e) })
  })
}

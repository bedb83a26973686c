import { setMaxListeners } from 'node:events'
import { abortError } from '../errors.js'
import { check, checkObject } from './validate.js'

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

/**
 * An AbortController whose signal takes any number of abort listeners: for a signal that
 * every concurrent operation of a component listens on (each removes its listener when it
 * settles), where more than ten at once is expected, not a leak, and must not print Node's
 * MaxListenersExceededWarning.
 */
export function sharedAbortController (): AbortController {
  const controller = new AbortController()
  setMaxListeners(0, controller.signal)
  return controller
}

/**
 * The `signal` of a method's options argument, validated, so `propose(cmd, null)` or
 * `{ signal: 'x' }` fail with OPTIONS_INVALID naming the method instead of a TypeError
 * somewhere inside. `method` names the method in the message (`RaftNode.propose`).
 */
export function signalOption (options: unknown, method: string): AbortSignal | undefined {
  if (options === undefined) return undefined
  checkObject(options, method, '(options)')
  const signal = options.signal as AbortSignal | undefined
  check(signal === undefined || (typeof signal === 'object' && signal !== null && typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function'),
    method, 'signal', 'an AbortSignal', signal)
  return signal
}

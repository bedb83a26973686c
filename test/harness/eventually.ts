/**
 * The one real-time wait, for what virtual time cannot drive: child processes and real
 * sockets. It polls until `probe` yields a value, bounded by `timeoutMs` (a guard against a
 * hung test, never a statement about speed), and fails naming what it waited for and the
 * last error the probe threw.
 */

export interface EventuallyOptions {
  /** Give up after this many real milliseconds. @default 30000 */
  timeoutMs?: number
  /** Pause between probes, in real milliseconds. @default 10 */
  intervalMs?: number
}

/**
 * Resolves with the first value of `probe` that is neither undefined nor false. A probe that
 * throws counts as "not yet"; its last error is in the timeout message and is its cause.
 */
export async function eventually<T> (what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, options: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000
  const intervalMs = options.intervalMs ?? 10
  const deadline = performance.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined && v !== false) return v
    } catch (err) { last = err }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`, { cause: last })
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

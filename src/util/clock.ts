/**
 * Time is injected everywhere (Raft shell, leases, Lamport stamps' expiry, simulator) so that
 * one seed reproduces a whole simulated run. `now()` is monotonic milliseconds: never use it
 * as wall-clock time.
 */
export interface Timer { readonly __timer: true }

export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin. Never decreases. */
  now (): number
  /**
   * Calls `fn` once after `ms` milliseconds. `ms <= 0` means "as soon as possible, after
   * pending I/O" (setImmediate on the system clock, the same virtual instant in a simulation).
   */
  setTimeout (fn: () => void, ms: number): Timer
  clearTimeout (timer: Timer): void
}

/** The process's monotonic clock (performance.now) with Node's timers. */
export class SystemClock implements Clock {
  now (): number { return performance.now() }

  setTimeout (fn: () => void, ms: number): Timer {
    if (ms <= 0) return { __timer: true, immediate: setImmediate(fn) } as unknown as Timer
    const t = setTimeout(fn, ms)
    return { __timer: true, timeout: t } as unknown as Timer
  }

  clearTimeout (timer: Timer): void {
    const t = timer as unknown as { immediate?: NodeJS.Immediate, timeout?: NodeJS.Timeout }
    if (t.immediate !== undefined) clearImmediate(t.immediate)
    if (t.timeout !== undefined) clearTimeout(t.timeout)
  }
}

export const systemClock: Clock = new SystemClock()

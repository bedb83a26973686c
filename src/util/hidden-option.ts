/**
 * An option no options interface declares: a value carried on an options object under a
 * module-private symbol, for test-only hooks (the simulators' mutants). A user cannot set it
 * by accident, option validation never sees it (Object.keys skips symbols), and it survives
 * the object spreads components use to copy their options (spread copies symbol keys).
 */
export interface HiddenOption<T extends object> {
  /** A copy of `options` carrying `value`. */
  with: <O extends object>(options: O, value: T) => O
  /** The value `options` carries, or `fallback`. */
  of: (options: object) => T
}

export function hiddenOption<T extends object> (name: string, fallback: T): HiddenOption<T> {
  const key = Symbol(name)
  return {
    with: (options, value) => ({ ...options, [key]: value }),
    of: (options) => (options as Record<symbol, T | undefined>)[key] ?? fallback
  }
}

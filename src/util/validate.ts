/**
 * Option validation, one family for every component. Each check throws OPTIONS_INVALID whose
 * message names the component and the option (`RaftNodeOptions: option "tickMs" must be ...`)
 * and whose `info` is `{ component, field }`, so a caller can point at the exact key.
 */
import { QuorateError } from '../errors.js'

/** Throws OPTIONS_INVALID naming the component and field unless `ok`. */
export function check (ok: boolean, component: string, field: string, expectation: string, value: unknown): void {
  if (!ok) {
    throw new QuorateError('OPTIONS_INVALID', `${component}: option "${field}" must be ${expectation} (got ${show(value)})`, { details: { component, field } })
  }
}

export function checkInt (value: number, component: string, field: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  check(Number.isSafeInteger(value) && value >= min && value <= max, component, field, `an integer in [${min}, ${max}]`, value)
}

/** A non-null, non-array object (an options bag or a sink). */
export function checkObject<T> (value: T, component: string, field: string): asserts value is T & Record<string, unknown> {
  check(typeof value === 'object' && value !== null && !Array.isArray(value), component, field, 'an object', value)
}

/** A real boolean: 'false' or 0 would otherwise switch a feature on or off by accident. */
export function checkBool (value: unknown, component: string, field: string): asserts value is boolean {
  check(typeof value === 'boolean', component, field, 'true or false', value)
}

/** A function; with `optional`, undefined passes too. */
export function checkFunction (value: unknown, component: string, field: string, optional = false): void {
  check((optional && value === undefined) || typeof value === 'function', component, field, optional ? 'a function or undefined' : 'a function', value)
}

/**
 * An object with every method in `required` (and each of `optionalMethods` a function when
 * present), for injected collaborators such as a Clock or a metrics sink; `what` names the
 * interface in the message.
 */
export function checkMethods (value: unknown, component: string, field: string, what: string, required: readonly string[], optionalMethods: readonly string[] = []): void {
  const obj = value as Record<string, unknown> | null
  const ok = typeof obj === 'object' && obj !== null &&
    required.every((m) => typeof obj[m] === 'function') &&
    optionalMethods.every((m) => obj[m] === undefined || typeof obj[m] === 'function')
  const methods = [...required, ...optionalMethods.map((m) => `${m}?`)].join(', ')
  check(ok, component, field, `${what} (an object with ${methods})`, value)
}

/**
 * Rejects keys of `options` that are not in `known`: a misspelt option (`tickMS`,
 * `electionTick`) would otherwise be ignored silently and its default used. The message
 * suggests the closest known key.
 */
export function checkKnownKeys (options: object, component: string, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue
    const near = closest(key, known)
    const hint = near === null ? `known options: ${known.join(', ')}` : `did you mean "${near}"?`
    throw new QuorateError('OPTIONS_INVALID', `${component}: unknown option "${key}" (${hint})`, { details: { component, field: key } })
  }
}

function show (value: unknown): string {
  if (typeof value === 'function') return 'a function'
  try { return typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? String(value) } catch { return String(value) }
}

/** The known key within edit distance 2 of `key` (case ignored), or null. */
function closest (key: string, known: readonly string[]): string | null {
  let best: string | null = null
  let bestDistance = 3
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase())
    if (d < bestDistance) { best = k; bestDistance = d }
  }
  return best
}

function editDistance (a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length]!
}

import { QuorateError } from '../errors.js'

/** Throws OPTIONS_INVALID naming the component and field unless `ok`. */
export function check (ok: boolean, component: string, field: string, expectation: string, value: unknown): void {
  if (!ok) {
    let shown: string
    try { shown = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? String(value) } catch { shown = String(value) }
    throw new QuorateError('OPTIONS_INVALID', `${component}: option "${field}" must be ${expectation} (got ${shown})`, { details: { component, field } })
  }
}

export function checkInt (value: number, component: string, field: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  check(Number.isSafeInteger(value) && value >= min && value <= max, component, field, `an integer in [${min}, ${max}]`, value)
}

/**
 * The recovery policy the built-in rules read (restart backoff, failure expiry, move
 * threshold, throttles, circuit breaker), its defaults and validation. Rules read it from
 * their context, so a what-if run with other settings shows what another policy would do.
 */
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'

export interface RecoverySettings {
  /** First restart delay after a failure, ms (doubles with each further failure). @default 1000 */
  readonly restartBackoffInitialMs: number
  /** Longest restart delay, ms. @default 30000 */
  readonly restartBackoffMaxMs: number
  /** Failures of one instance that are restarted in place; the next one moves it. @default 3 */
  readonly maxRestarts: number
  /** A failure count older than this is forgotten, ms (and a node it was moved off becomes eligible again). @default 600000 */
  readonly failureExpiryMs: number
  /** Most commands committed and not yet acknowledged; further actions wait. @default 16 */
  readonly maxInFlight: number
  /** Above this fraction of nodes suspect or dead, nothing destructive is done (no moves, no stops). @default 0.5 */
  readonly breakerFraction: number
  /** How long an action held back by a throttle or the breaker waits before it is tried again, ms. @default 1000 */
  readonly deferMs: number
}

export const RECOVERY_DEFAULTS: RecoverySettings = Object.freeze({
  restartBackoffInitialMs: 1000,
  restartBackoffMaxMs: 30_000,
  maxRestarts: 3,
  failureExpiryMs: 600_000,
  maxInFlight: 16,
  breakerFraction: 0.5,
  deferMs: 1000
})

const KEYS = Object.keys(RECOVERY_DEFAULTS)

/** The defaults with `partial` over them; OPTIONS_INVALID names a bad or unknown field. */
export function resolveRecoverySettings (partial: Partial<RecoverySettings> = {}, component = 'RecoverySettings'): RecoverySettings {
  checkObject(partial, component, 'settings')
  checkKnownKeys(partial, component, KEYS)
  const s = { ...RECOVERY_DEFAULTS, ...partial }
  for (const k of ['restartBackoffInitialMs', 'restartBackoffMaxMs', 'failureExpiryMs', 'deferMs'] as const) checkInt(s[k], component, k, 1)
  checkInt(s.maxRestarts, component, 'maxRestarts', 0)
  checkInt(s.maxInFlight, component, 'maxInFlight', 1)
  check(s.restartBackoffMaxMs >= s.restartBackoffInitialMs, component, 'restartBackoffMaxMs', `at least restartBackoffInitialMs (${s.restartBackoffInitialMs})`, s.restartBackoffMaxMs)
  check(typeof s.breakerFraction === 'number' && s.breakerFraction > 0 && s.breakerFraction <= 1, component, 'breakerFraction', 'a number in (0, 1]', s.breakerFraction)
  return Object.freeze(s)
}

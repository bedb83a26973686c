/**
 * The local restart policy: when an instance exits on its own, whether the agent restarts it
 * and after how long. Pure (no clock: callers pass times), so the backoff is testable exactly.
 *
 * Delay for the n-th consecutive restart (n from 0): min(maxBackoffMs, initialBackoffMs * 2^n).
 * The count resets once an instance has run for `stableAfterMs` without exiting. After
 * `maxRestarts` consecutive restarts the agent gives up (state 'failed'): whether to try
 * elsewhere is the coordinator's decision, not the agent's.
 */
import { QuorateError } from '../errors.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'

export interface RestartPolicy {
  /** 'on-failure': restart after a non-zero exit or a signal; 'always': after any exit; 'never'. @default 'on-failure' */
  readonly mode?: 'on-failure' | 'always' | 'never'
  /** Delay before the first restart, ms. @default 100 (systemd's RestartSec) */
  readonly initialBackoffMs?: number
  /** Longest delay between restarts, ms. @default 30000 */
  readonly maxBackoffMs?: number
  /** An instance that ran this long without exiting is stable: the backoff starts over. @default 10000 */
  readonly stableAfterMs?: number
  /** Consecutive restarts before the agent gives up and reports the instance failed. @default 10 */
  readonly maxRestarts?: number
}

export const RESTART_DEFAULTS = { mode: 'on-failure', initialBackoffMs: 100, maxBackoffMs: 30_000, stableAfterMs: 10_000, maxRestarts: 10 } as const

const KEYS = ['mode', 'initialBackoffMs', 'maxBackoffMs', 'stableAfterMs', 'maxRestarts'] as const

/** Throws OPTIONS_INVALID (component named) unless `policy` is a well-formed RestartPolicy. */
export function validateRestartPolicy (policy: unknown, component: string): asserts policy is RestartPolicy {
  checkObject(policy, component, 'restart')
  checkKnownKeys(policy, `${component}.restart`, KEYS)
  const p = policy as RestartPolicy
  if (p.mode !== undefined) check(['on-failure', 'always', 'never'].includes(p.mode), component, 'restart.mode', "'on-failure', 'always' or 'never'", p.mode)
  for (const f of ['initialBackoffMs', 'maxBackoffMs', 'stableAfterMs', 'maxRestarts'] as const) {
    if (p[f] !== undefined) checkInt(p[f], component, `restart.${f}`, 0)
  }
}

/** Why `policy` is not a RestartPolicy, or undefined (for agentCommandProblem). */
export function restartPolicyProblem (policy: unknown): string | undefined {
  try {
    validateRestartPolicy(policy, 'service')
    return undefined
  } catch (err) { return err instanceof QuorateError ? err.message : String(err) }
}

/** The restart decisions of one instance. */
export class RestartBackoff {
  readonly #p: Required<RestartPolicy>
  #consecutive = 0

  constructor (policy: RestartPolicy = {}) {
    this.#p = { ...RESTART_DEFAULTS, ...policy }
  }

  /** Restarts since the instance was last stable. */
  get consecutive (): number { return this.#consecutive }

  /**
   * The instance exited after running `ranMs`: the delay before restarting it, or undefined if
   * the policy says not to restart (mode, or maxRestarts consecutive restarts reached).
   */
  onExit (exitCode: number | null, signal: string | null, ranMs: number): number | undefined {
    if (ranMs >= this.#p.stableAfterMs) this.#consecutive = 0
    const failed = exitCode !== 0 || signal !== null
    if (this.#p.mode === 'never' || (this.#p.mode === 'on-failure' && !failed)) return undefined
    if (this.#consecutive >= this.#p.maxRestarts) return undefined
    const delay = Math.min(this.#p.maxBackoffMs, this.#p.initialBackoffMs * 2 ** Math.min(this.#consecutive, 30))
    this.#consecutive++
    return delay
  }
}

/**
 * The declarations of readiness and liveness checks, part of a ServiceSpec (plain JSON in the
 * graph and in commands, so no Node.js imports here). A check is a command (exit 0 within the
 * timeout), a TCP port (accepts a connection), an HTTP URL (answers 2xx or 3xx) or, for
 * readiness only, a line on the instance's stdout matching a pattern. Each runs every
 * `intervalMs`, gives up on one attempt after `timeoutMs`, and counts as failed after
 * `failureThreshold` consecutive failed attempts. Readiness runs until it first passes;
 * liveness runs after that.
 */
import { QuorateError } from '../errors.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'

export interface CheckTiming {
  /** Time between attempts, ms. @default 1000 (readiness: 200) */
  readonly intervalMs?: number
  /** One attempt fails after this long, ms. @default 1000 */
  readonly timeoutMs?: number
  /** Consecutive failed attempts that make the check fail. @default 3 (readiness: 50) */
  readonly failureThreshold?: number
}

export type CheckSpec = CheckTiming & (
  | { readonly kind: 'command', readonly command: string, readonly args?: readonly string[] }
  | { readonly kind: 'tcp', readonly port: number, readonly host?: string }
  | { readonly kind: 'http', readonly url: string }
  /** Readiness only: a line of stdout matching `pattern` (a regular expression source). */
  | { readonly kind: 'stdout', readonly pattern: string }
)

export const READINESS_DEFAULTS = { intervalMs: 200, timeoutMs: 1000, failureThreshold: 50 } as const
export const LIVENESS_DEFAULTS = { intervalMs: 1000, timeoutMs: 1000, failureThreshold: 3 } as const

const KIND_KEYS: Record<CheckSpec['kind'], readonly string[]> = {
  command: ['command', 'args'],
  tcp: ['port', 'host'],
  http: ['url'],
  stdout: ['pattern']
}

/** Throws OPTIONS_INVALID unless `spec` is a well-formed check for `role`. */
export function validateCheck (spec: unknown, component: string, role: 'readiness' | 'liveness'): asserts spec is CheckSpec {
  checkObject(spec, component, role)
  const s = spec as Record<string, unknown>
  const kinds = role === 'readiness' ? ['command', 'tcp', 'http', 'stdout'] : ['command', 'tcp', 'http']
  check(typeof s.kind === 'string' && kinds.includes(s.kind), component, `${role}.kind`, kinds.map((k) => `'${k}'`).join(', '), s.kind)
  checkKnownKeys(s, `${component}.${role}`, ['kind', 'intervalMs', 'timeoutMs', 'failureThreshold', ...KIND_KEYS[s.kind as CheckSpec['kind']]])
  for (const f of ['intervalMs', 'timeoutMs', 'failureThreshold'] as const) {
    if (s[f] !== undefined) checkInt(s[f] as number, component, `${role}.${f}`, 1)
  }
  switch (s.kind) {
    case 'command':
      check(typeof s.command === 'string' && s.command.length > 0, component, `${role}.command`, 'a non-empty string', s.command)
      check(s.args === undefined || (Array.isArray(s.args) && s.args.every((a) => typeof a === 'string')), component, `${role}.args`, 'an array of strings', s.args)
      break
    case 'tcp':
      checkInt(s.port as number, component, `${role}.port`, 1, 65535)
      check(s.host === undefined || typeof s.host === 'string', component, `${role}.host`, 'a string', s.host)
      break
    case 'http':
      check(typeof s.url === 'string' && /^https?:\/\//.test(s.url), component, `${role}.url`, 'an http:// or https:// URL', s.url)
      break
    case 'stdout': {
      let ok = typeof s.pattern === 'string'
      if (ok) { try { new RegExp(s.pattern as string) } catch { ok = false } }
      check(ok, component, `${role}.pattern`, 'a regular expression source', s.pattern)
    }
  }
}

/** Why `spec` is not a check for `role`, or undefined (for agentCommandProblem). */
export function checkProblem (spec: unknown, role: 'readiness' | 'liveness'): string | undefined {
  try {
    validateCheck(spec, 'service', role)
    return undefined
  } catch (err) { return err instanceof QuorateError ? err.message : String(err) }
}


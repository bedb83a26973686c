/**
 * The check a protected resource makes on every command that claims to act under a lease:
 * the command carries the holder's fencing token, and a token older than the newest one the
 * resource has seen for that lease is refused with LEASE_FENCED. Because grants of one name
 * get increasing tokens, a holder that was paused, partitioned or whose clock ran slow past
 * its lease cannot act after its successor has acted once.
 *
 * Deterministic and clock-free, so a Raft state machine may embed one (replicas agree on
 * what is fenced). The owner persists it if the resource is durable: `entries()` out,
 * `new FencingGuard(entries)` back in.
 *
 * @example
 * const fence = new FencingGuard()
 * fence.admit('coordinator', 7)  // ok
 * fence.admit('coordinator', 5)  // throws QuorateError LEASE_FENCED
 */
import { QuorateError } from '../errors.js'

export class FencingGuard {
  readonly #highest = new Map<string, number>()

  /** @param entries the `entries()` of a guard to continue from (a persisted guard) */
  constructor (entries: Iterable<readonly [string, number]> = []) {
    for (const [name, token] of entries) {
      if (typeof name !== 'string' || !Number.isSafeInteger(token) || token < 0) {
        throw new QuorateError('OPTIONS_INVALID', `FencingGuard: entry for ${JSON.stringify(name)} must be [name, non-negative integer token] (got ${String(token)})`)
      }
      this.#highest.set(name, Math.max(token, this.#highest.get(name) ?? 0))
    }
  }

  /**
   * Admits a command carrying `token` for lease `name` and remembers the token, or throws
   * LEASE_FENCED (details: name, token, highest) if a newer token was already admitted.
   * The same token is admitted again (a holder issues many commands under one grant).
   */
  admit (name: string, token: number): void {
    const highest = this.#highest.get(name) ?? 0
    if (!Number.isSafeInteger(token) || token < highest) {
      throw new QuorateError('LEASE_FENCED', `lease ${JSON.stringify(name)}: token ${String(token)} is older than ${highest}`, { details: { name, token, highest } })
    }
    if (token > highest) this.#highest.set(name, token)
  }

  /** True if `admit(name, token)` would succeed (without remembering the token). */
  wouldAdmit (name: string, token: number): boolean {
    return Number.isSafeInteger(token) && token >= (this.#highest.get(name) ?? 0)
  }

  /** The newest token admitted for `name` (0 if none). */
  highest (name: string): number { return this.#highest.get(name) ?? 0 }

  /** Every lease name with its newest admitted token, for persisting the guard. */
  entries (): IterableIterator<[string, number]> { return this.#highest.entries() }
}

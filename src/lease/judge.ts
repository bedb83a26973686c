/**
 * One node's conservative judgment of whether a lease's holder may still hold it.
 *
 * The holder counts its lease from the moment it sent the (re)grant, on its own clock. This
 * node cannot know that moment, but it learns of the grant (applies it) only after it was
 * sent. So it counts from when it learned of the record's latest version, and waits the
 * duration stretched by (1 + maxDrift): if no clock advances more than (1 + maxDrift) times
 * as fast as another, the holder's clock has then run at least the full duration since its
 * send, and the holder has stopped (it stops a safety margin before that).
 *
 * A node that (re)started lost the moments it learned things, and monotonic clocks restart
 * from an arbitrary origin, so it waits one maximum lease duration (stretched) from when it
 * started judging before it declares any held record expired (LEASE_NOT_READY until then).
 */
import type { Clock } from '../util/clock.js'
import type { LeaseRecord } from './table.js'

export type Judgment =
  | { readonly grantable: true }
  | { readonly grantable: false, readonly code: 'LEASE_HELD' | 'LEASE_NOT_READY', readonly retryAfterMs: number }

const GRANTABLE: Judgment = Object.freeze({ grantable: true })

export class ExpiryJudge {
  readonly #clock: Clock
  readonly #stretch: number
  /** Local time at which this node may first declare a held record expired. */
  readonly readyAt: number
  /** Per name: the record version last learned and the local time it was learned. */
  readonly #learned = new Map<string, { version: number, at: number }>()

  constructor (clock: Clock, maxDrift: number, maxLeaseDurationMs: number) {
    this.#clock = clock
    this.#stretch = 1 + maxDrift
    this.readyAt = clock.now() + maxLeaseDurationMs * this.#stretch
  }

  /** Notes that this node has just applied (or restored) `record`. */
  learn (record: LeaseRecord): void {
    const seen = this.#learned.get(record.name)
    if (seen === undefined) this.#learned.set(record.name, { version: record.version, at: this.#clock.now() })
    else if (seen.version !== record.version) { seen.version = record.version; seen.at = this.#clock.now() }
  }

  /** Whether a new grant for the record's name may be proposed now, judged on this node. */
  judge (record: LeaseRecord | undefined): Judgment {
    if (record === undefined || record.holder === null) return GRANTABLE
    // Learning it now is the conservative answer for a version this judge never saw.
    this.learn(record)
    const now = this.#clock.now()
    const heldUntil = this.#learned.get(record.name)!.at + record.durationMs * this.#stretch
    if (now < heldUntil) return { grantable: false, code: 'LEASE_HELD', retryAfterMs: Math.max(heldUntil, this.readyAt) - now }
    if (now < this.readyAt) return { grantable: false, code: 'LEASE_NOT_READY', retryAfterMs: this.readyAt - now }
    return GRANTABLE
  }
}

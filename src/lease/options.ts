/** Options of the lease manager and of exclusive execution, their defaults and validation. */
import type { CommandTarget } from '../sm/route.js'
import type { Clock } from '../util/clock.js'
import { check, checkKnownKeys } from '../util/validate.js'
import type { LeaseTable } from './table.js'

/**
 * Bound on the relative rate of any two nodes' monotonic clocks: over any interval, no
 * clock advances more than (1 + maxDrift) times as much as another. 0.01 allows 1% (10 ms
 * per second), far above the drift of real oscillators (tens of ppm) and NTP slewing (500 ppm).
 */
export const DEFAULT_MAX_DRIFT = 0.01
/** Longest lease any holder may ask for; a restarted node waits this long (stretched) before it grants. */
export const DEFAULT_MAX_LEASE_DURATION_MS = 30_000
/** Lease duration when an acquire names none. */
export const DEFAULT_LEASE_DURATION_MS = 10_000
/** Holders renew once this fraction of the duration has passed since the last (re)grant was sent. */
export const DEFAULT_RENEW_FRACTION = 0.5
/** Holders give the lease up (abort their signal) this fraction of the duration before local expiry. */
export const DEFAULT_SAFETY_MARGIN_FRACTION = 0.1
/** Exclusive runners that failed to acquire try again after at most this fraction of the duration. */
export const DEFAULT_RETRY_FRACTION = 0.1

export interface LeaseManagerOptions {
  /**
   * The node whose log replicates the lease table: a RaftNode whose state machine is the
   * table, or `route.bind(node)` when the table is mounted on a StateMachineRouter. Lease
   * operations on a follower need `forwardProposals: true` on the RaftNode.
   */
  node: CommandTarget
  /** The node's state machine (or the lease part of it): the replicated lease table. */
  table: LeaseTable
  /** The same clock the node runs on (a monotonic clock; never wall time). @default the system monotonic clock */
  clock?: Clock
  /**
   * Bound on the relative clock rate of any two nodes (see DEFAULT_MAX_DRIFT). Mutual
   * exclusion by the holders' own judgment holds only while drift stays within it; fencing
   * tokens protect resources regardless. @default DEFAULT_MAX_DRIFT (0.01)
   */
  maxDrift?: number
  /** Longest duration a holder may ask for; also the restart wait. @default DEFAULT_MAX_LEASE_DURATION_MS (30_000) */
  maxLeaseDurationMs?: number
  /** Duration of an acquire that names none. @default DEFAULT_LEASE_DURATION_MS (10_000) */
  defaultDurationMs?: number
  /** Fraction of the duration after which a holder renews, in (0, 1 - safetyMarginFraction). @default DEFAULT_RENEW_FRACTION (0.5) */
  renewFraction?: number
  /**
   * Fraction of the duration before its local expiry at which a holder aborts its signal, in
   * [0, 1). Work must stop within this margin. @default DEFAULT_SAFETY_MARGIN_FRACTION (0.1)
   */
  safetyMarginFraction?: number
}

export interface ResolvedLeaseManagerOptions {
  readonly node: CommandTarget
  readonly table: LeaseTable
  readonly clock: Clock
  readonly maxDrift: number
  readonly maxLeaseDurationMs: number
  readonly defaultDurationMs: number
  readonly renewFraction: number
  readonly safetyMarginFraction: number
}

const C = 'LeaseManagerOptions'
const KEYS: readonly string[] = Object.keys({
  node: true, table: true, clock: true, maxDrift: true, maxLeaseDurationMs: true, defaultDurationMs: true, renewFraction: true, safetyMarginFraction: true
} satisfies Record<keyof LeaseManagerOptions, true>)

export function resolveLeaseManagerOptions (options: LeaseManagerOptions, systemClock: Clock): ResolvedLeaseManagerOptions {
  check(typeof options === 'object' && options !== null, C, '(options)', 'an object', options)
  checkKnownKeys(options, C, KEYS)
  check(typeof options.node?.propose === 'function' && typeof options.node.read === 'function', C, 'node', 'a RaftNode or a routed node (route.bind(node))', typeof options.node)
  check(typeof options.table?.apply === 'function' && typeof options.table.onChange === 'function', C, 'table', 'a LeaseTable', typeof options.table)
  const clock = options.clock ?? systemClock
  check(typeof clock.now === 'function' && typeof clock.setTimeout === 'function', C, 'clock', 'a Clock', typeof clock)
  const r: ResolvedLeaseManagerOptions = {
    node: options.node,
    table: options.table,
    clock,
    maxDrift: options.maxDrift ?? DEFAULT_MAX_DRIFT,
    maxLeaseDurationMs: options.maxLeaseDurationMs ?? DEFAULT_MAX_LEASE_DURATION_MS,
    defaultDurationMs: options.defaultDurationMs ?? Math.min(DEFAULT_LEASE_DURATION_MS, options.maxLeaseDurationMs ?? DEFAULT_MAX_LEASE_DURATION_MS),
    renewFraction: options.renewFraction ?? DEFAULT_RENEW_FRACTION,
    safetyMarginFraction: options.safetyMarginFraction ?? DEFAULT_SAFETY_MARGIN_FRACTION
  }
  check(isFiniteIn(r.maxDrift, 0, 1), C, 'maxDrift', 'a number in [0, 1]', r.maxDrift)
  check(isPositiveDuration(r.maxLeaseDurationMs), C, 'maxLeaseDurationMs', 'a positive finite number of milliseconds', r.maxLeaseDurationMs)
  check(isPositiveDuration(r.defaultDurationMs) && r.defaultDurationMs <= r.maxLeaseDurationMs, C, 'defaultDurationMs', `a positive number of milliseconds <= maxLeaseDurationMs (${r.maxLeaseDurationMs})`, r.defaultDurationMs)
  check(isFiniteIn(r.safetyMarginFraction, 0, 1) && r.safetyMarginFraction < 1, C, 'safetyMarginFraction', 'a number in [0, 1)', r.safetyMarginFraction)
  check(isFiniteIn(r.renewFraction, 0, 1) && r.renewFraction > 0 && r.renewFraction < 1 - r.safetyMarginFraction, C, 'renewFraction', `a number in (0, ${1 - r.safetyMarginFraction}) (below 1 - safetyMarginFraction)`, r.renewFraction)
  return r
}

export interface ExclusiveOptions {
  /** Who holds the lease while `fn` runs; unique to this runner. @default the node's id */
  holder?: string
  /** Lease duration. @default the manager's defaultDurationMs */
  durationMs?: number
  /** Longest wait between acquire attempts. @default durationMs * DEFAULT_RETRY_FRACTION */
  retryMs?: number
  /** Stops the runner like `stop()`. @default none */
  signal?: AbortSignal
}

export function checkDuration (component: string, field: string, value: unknown, maxMs: number): asserts value is number {
  check(isPositiveDuration(value) && value <= maxMs, component, field, `a positive number of milliseconds <= maxLeaseDurationMs (${maxMs})`, value)
}

export function checkName (component: string, field: string, value: unknown): asserts value is string {
  check(typeof value === 'string' && value.length > 0 && value.length <= MAX_NAME_LENGTH, component, field, `a non-empty string of at most ${MAX_NAME_LENGTH} characters`, value)
}

/** Lease names and holder ids are short identifiers; this keeps commands small. */
export const MAX_NAME_LENGTH = 256

export function isPositiveDuration (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0
}

function isFiniteIn (value: unknown, lo: number, hi: number): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= lo && value <= hi
}

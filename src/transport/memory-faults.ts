/**
 * The fault knobs of `MemoryNetwork`: their options, defaults and validation, and the
 * reachability rule that partitions, one-way cuts and isolation share.
 */
import { QuorateError } from '../errors.js'
import type { NodeId } from '../raft/types.js'
import { checkKnownKeys } from '../util/validate.js'

/** A delivery delay range in milliseconds; each message draws uniformly from [min, max]. */
export interface LatencyRange {
  readonly min: number
  readonly max: number
}

/** The knobs that can change while the network runs (`MemoryNetwork.configure`). */
export interface MemoryFaultOptions {
  /**
   * Delivery delay per message (and per duplicate copy), drawn uniformly from [min, max] ms.
   * @default { min: 0, max: 0 } (DEFAULT_LATENCY): delivered in the next turn of the clock
   */
  latency?: LatencyRange
  /** Probability in [0, 1] that a message is lost. @default 0 (DEFAULT_LOSS) */
  loss?: number
  /** Probability in [0, 1] that a message is delivered twice. @default 0 (DEFAULT_DUPLICATION) */
  duplication?: number
  /**
   * When false, each link (sender → receiver) is FIFO, like a TCP connection: a message never
   * overtakes an earlier one on the same link even if it drew a shorter delay. When true,
   * delays are independent and every batch delivered to a node in one turn is shuffled.
   * @default false (DEFAULT_REORDER)
   */
  reorder?: boolean
}

export const DEFAULT_LATENCY: LatencyRange = Object.freeze({ min: 0, max: 0 })
export const DEFAULT_LOSS = 0
export const DEFAULT_DUPLICATION = 0
export const DEFAULT_REORDER = false

/** Every key of MemoryFaultOptions (the `satisfies` keeps it complete). */
export const FAULT_OPTION_KEYS: readonly string[] = Object.keys({
  latency: true, loss: true, duplication: true, reorder: true
} satisfies Record<keyof MemoryFaultOptions, true>)

/** Fault knobs with every default filled in. */
export type ResolvedFaults = Required<{ readonly [K in keyof MemoryFaultOptions]: NonNullable<MemoryFaultOptions[K]> }>

export const DEFAULT_FAULTS: ResolvedFaults = Object.freeze({
  latency: DEFAULT_LATENCY,
  loss: DEFAULT_LOSS,
  duplication: DEFAULT_DUPLICATION,
  reorder: DEFAULT_REORDER
})

/**
 * Validates `changes` and returns `current` with them applied. Throws OPTIONS_INVALID naming
 * the field, and for a key outside `known` (a misspelt knob such as `lost`), naming the key.
 */
export function resolveFaults (current: ResolvedFaults, changes: MemoryFaultOptions, component: string, known: readonly string[] = FAULT_OPTION_KEYS): ResolvedFaults {
  if (typeof changes !== 'object' || changes === null) invalid('options', 'must be an object', changes)
  checkKnownKeys(changes, component, known)
  const latency = changes.latency ?? current.latency
  if (typeof latency !== 'object' || latency === null) invalid('latency', 'must be { min, max }', latency)
  if (!isNonNegative(latency.min)) invalid('latency.min', 'must be a finite number >= 0', latency.min)
  if (!isNonNegative(latency.max) || latency.max < latency.min) {
    invalid('latency.max', 'must be a finite number >= latency.min', latency.max)
  }
  const loss = changes.loss ?? current.loss
  if (!isProbability(loss)) invalid('loss', 'must be a probability in [0, 1]', loss)
  const duplication = changes.duplication ?? current.duplication
  if (!isProbability(duplication)) invalid('duplication', 'must be a probability in [0, 1]', duplication)
  const reorder = changes.reorder ?? current.reorder
  if (typeof reorder !== 'boolean') invalid('reorder', 'must be a boolean', reorder)
  return Object.freeze({ latency: Object.freeze({ min: latency.min, max: latency.max }), loss, duplication, reorder })
}

/** The fault state a node carries. */
export interface FaultNode {
  /** Partition group (1, 2, ...), or 0 when not named in the current partition. */
  group: number
  isolated: boolean
}

/** The fault state of one direction between two nodes. */
export interface FaultLink {
  readonly from: FaultNode
  readonly to: FaultNode
  /** One-way cut: messages on this link are dropped. */
  cut: boolean
}

/**
 * True if a message may travel on `link` now. Nodes in different partition groups cannot
 * talk; a node not named in the partition talks to everyone; an isolated node talks to no one
 * but itself.
 */
export function reachable (link: FaultLink): boolean {
  const a = link.from
  const b = link.to
  if (a === b) return true
  return !link.cut && !a.isolated && !b.isolated && (a.group === b.group || a.group === 0 || b.group === 0)
}

/** Throws OPTIONS_INVALID unless `id` is a non-empty string. */
export function requireNodeId (field: string, id: unknown): asserts id is NodeId {
  if (typeof id !== 'string' || id.length === 0) invalid(field, 'must be a non-empty node id string', id)
}

export function invalid (field: string, rule: string, value: unknown): never {
  throw new QuorateError('OPTIONS_INVALID', `MemoryNetwork: ${field} ${rule} (got ${describe(value)})`)
}

function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object'
  return String(value)
}

function isNonNegative (n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0
}

function isProbability (p: unknown): p is number {
  return typeof p === 'number' && p >= 0 && p <= 1
}

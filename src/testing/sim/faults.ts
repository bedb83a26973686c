/**
 * Fault schedules for the simulator: a list of timed fault events, drawn per seed from
 * `FaultRanges` (`drawFaultSchedule`) or generated and shrunk by fast-check
 * (`faultScheduleArbitrary` in fault-arbitrary.ts). Node and link choices are small integers
 * taken modulo the cluster size, so one schedule fits any cluster; `LEADER` (-1) picks
 * whichever node leads when the event happens.
 *
 * Times (`at`, durations) are virtual milliseconds from the start of the run; events at or
 * after the end of the fault phase are ignored (the simulator heals everything then).
 */
import type { Random } from '../../util/random.js'
import { randomInt } from '../../util/random.js'

export type FaultEvent =
  /** Network-wide knobs from now on: loss and duplication probabilities, latency range (ms), reordering. */
  | { readonly at: number, readonly kind: 'network', readonly loss: number, readonly duplication: number, readonly latencyMin: number, readonly latencyMax: number, readonly reorder: boolean }
  /** Symmetric partition: node i goes to side `sides[i % sides.length]` (0 or 1). */
  | { readonly at: number, readonly kind: 'partition', readonly sides: readonly number[] }
  /** One-way cut: messages from `from` to `to` are dropped (until a heal). */
  | { readonly at: number, readonly kind: 'cut', readonly from: number, readonly to: number }
  /** Removes every partition and cut. */
  | { readonly at: number, readonly kind: 'heal' }
  /** Holds every message on the link from → to for `duration` ms (one clogged link at a time). */
  | { readonly at: number, readonly kind: 'clog', readonly from: number, readonly to: number, readonly duration: number }
  /** Power loss: the node loses every unsynced write; it restarts `downFor` ms later. */
  | { readonly at: number, readonly kind: 'crash', readonly node: number, readonly downFor: number }
  /** The process stops (no timers, no deliveries) for `duration` ms. */
  | { readonly at: number, readonly kind: 'pause', readonly node: number, readonly duration: number }
  /** The node's clock runs at `rate` local ms per real ms from now on. */
  | { readonly at: number, readonly kind: 'drift', readonly node: number, readonly rate: number }
  /** The node's clock jumps forward by `ms`. */
  | { readonly at: number, readonly kind: 'jump', readonly node: number, readonly ms: number }
  /**
   * For `duration` ms, each node that becomes leader is, with probability 1/2, isolated up to
   * `delayMs` later (messages in flight to or from it are lost) and rejoins up to `isolateFor`
   * ms after that (on its own, whatever the other faults do): rapid failovers where a new leader's first
   * appends never arrive or it loses leadership right after committing, the ground of
   * Figure 8's anomaly.
   */
  | { readonly at: number, readonly kind: 'isolateLeaders', readonly duration: number, readonly delayMs: number, readonly isolateFor: number }
  /** Membership: a fresh spare node starts empty, joins as a learner, catches up and is promoted to voter. */
  | { readonly at: number, readonly kind: 'addNode' }
  /** Membership: the voter `node` (LEADER: the leader itself) is removed; skipped if fewer than 3 voters would remain. */
  | { readonly at: number, readonly kind: 'removeNode', readonly node: number }
  /** Membership: voters `a` and `b` are replaced by two fresh spare nodes in one change (joint consensus). */
  | { readonly at: number, readonly kind: 'replaceNodes', readonly a: number, readonly b: number }
  /** Leadership transfer to voter `to` (LEADER: let the leader pick the most up-to-date voter). */
  | { readonly at: number, readonly kind: 'transfer', readonly to: number }

export type FaultKind = FaultEvent['kind']

/** Where each fault parameter is drawn from. Probabilities in [0, 1], times in ms. */
export interface FaultRanges {
  /** Length of the fault phase. @default 3000 */
  readonly durationMs: number
  /** Most fault events besides the initial network settings. @default 12 */
  readonly maxEvents: number
  /** Highest message loss probability. @default 0.3 */
  readonly maxLoss: number
  /** Highest duplication probability. @default 0.5 */
  readonly maxDuplication: number
  /** Highest one-way latency. @default 20 */
  readonly maxLatencyMs: number
  /** Longest crash (time until restart), pause and clog. @default 1500 */
  readonly maxDownMs: number
  /** Shortest pause: longer than an election timeout. @default 250 */
  readonly minPauseMs: number
  /** Clock rates are drawn from [1 - maxDrift, 1 + maxDrift]. @default 0.2 */
  readonly maxDrift: number
  /** Largest forward clock jump. @default 1000 */
  readonly maxJumpMs: number
  /** Relative weight of each kind of event. @default DEFAULT_FAULT_WEIGHTS */
  readonly weights: Readonly<Record<Exclude<FaultKind, 'network'>, number>>
}

export const DEFAULT_FAULT_WEIGHTS: FaultRanges['weights'] = Object.freeze({
  partition: 3, cut: 2, heal: 3, clog: 2, crash: 3, pause: 2, drift: 1, jump: 1, isolateLeaders: 2, addNode: 1, removeNode: 1, replaceNodes: 1, transfer: 1
})

/** Fault kinds that change the membership (the simulator runs them against the leader). */
export const MEMBERSHIP_KINDS: readonly FaultKind[] = ['addNode', 'removeNode', 'replaceNodes']

export const DEFAULT_FAULT_RANGES: FaultRanges = Object.freeze({
  durationMs: 3000,
  maxEvents: 12,
  maxLoss: 0.3,
  maxDuplication: 0.5,
  maxLatencyMs: 20,
  maxDownMs: 1500,
  minPauseMs: 250,
  maxDrift: 0.2,
  maxJumpMs: 1000,
  weights: DEFAULT_FAULT_WEIGHTS
})

/** Largest node / link selector the schedules use (taken modulo the cluster size). */
export const NODE_SELECTOR_RANGE = 16
/** The node selector that means "whoever leads at that moment" (failovers are where bugs hide). */
export const LEADER = -1

const KINDS = Object.keys(DEFAULT_FAULT_WEIGHTS) as Array<Exclude<FaultKind, 'network'>>

/** A fault schedule drawn from `random` within `ranges` (the per-seed schedule of a simulation). */
export function drawFaultSchedule (random: Random, ranges: FaultRanges = DEFAULT_FAULT_RANGES): FaultEvent[] {
  const r = ranges
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * random.next()
  const chance = (p: number): boolean => random.next() < p
  const node = (): number => chance(0.4) ? LEADER : randomInt(random, 0, NODE_SELECTOR_RANGE)
  const latencyMin = Math.floor(uniform(0, r.maxLatencyMs / 2))
  const events: FaultEvent[] = [{
    at: 0,
    kind: 'network',
    loss: chance(0.3) ? 0 : uniform(0, r.maxLoss),
    duplication: chance(0.3) ? 0 : uniform(0, r.maxDuplication),
    latencyMin,
    latencyMax: latencyMin + Math.floor(uniform(0, r.maxLatencyMs - latencyMin)),
    reorder: chance(0.5)
  }]
  const total = KINDS.reduce((sum, k) => sum + r.weights[k], 0)
  const count = total > 0 ? randomInt(random, 0, r.maxEvents + 1) : 0
  for (let i = 0; i < count; i++) {
    const at = Math.floor(uniform(0, r.durationMs))
    let pick = random.next() * total
    let kind = KINDS[KINDS.length - 1]!
    for (const k of KINDS) {
      pick -= r.weights[k]
      if (pick < 0) { kind = k; break }
    }
    switch (kind) {
      case 'partition': events.push({ at, kind, sides: Array.from({ length: 5 }, () => randomInt(random, 0, 2)) }); break
      case 'cut': events.push({ at, kind, from: node(), to: node() }); break
      case 'heal': events.push({ at, kind }); break
      case 'clog': events.push({ at, kind, from: node(), to: node(), duration: Math.floor(uniform(1, r.maxDownMs)) }); break
      case 'crash': events.push({ at, kind, node: node(), downFor: Math.floor(uniform(0, r.maxDownMs)) }); break
      case 'pause': events.push({ at, kind, node: node(), duration: Math.floor(uniform(r.minPauseMs, Math.max(r.minPauseMs, r.maxDownMs))) }); break
      case 'drift': events.push({ at, kind, node: node(), rate: uniform(1 - r.maxDrift, 1 + r.maxDrift) }); break
      case 'jump': events.push({ at, kind, node: node(), ms: Math.floor(uniform(0, r.maxJumpMs)) }); break
      case 'isolateLeaders': events.push({ at, kind, duration: Math.floor(uniform(1, r.maxDownMs)), delayMs: Math.floor(uniform(0, 2 * r.maxLatencyMs)), isolateFor: Math.floor(uniform(0, r.maxDownMs)) }); break
      case 'addNode': events.push({ at, kind }); break
      case 'removeNode': events.push({ at, kind, node: node() }); break
      case 'replaceNodes': events.push({ at, kind, a: node(), b: node() }); break
      case 'transfer': events.push({ at, kind, to: node() }); break
    }
  }
  return sortSchedule(events)
}

/**
 * The schedule made safe for lease reads (readMode 'lease'), which assume bounded clock drift
 * and no process pause: pauses and clock jumps are dropped, drift rates clamped to 1 ± maxDrift.
 */
export function leaseSafeSchedule (events: readonly FaultEvent[], maxDrift: number): FaultEvent[] {
  const out: FaultEvent[] = []
  for (const e of events) {
    if (e.kind === 'pause' || e.kind === 'jump') continue
    out.push(e.kind === 'drift' ? { ...e, rate: Math.min(1 + maxDrift, Math.max(1 - maxDrift, e.rate)) } : e)
  }
  return out
}

/** Events in time order (stable: equal times keep their order). */
export function sortSchedule (events: readonly FaultEvent[]): FaultEvent[] {
  return events.map((e, i) => ({ e, i })).sort((a, b) => a.e.at - b.e.at || a.i - b.i).map((x) => x.e)
}

/** One line per event, for verbose logs and failure reports. */
export function describeFault (e: FaultEvent, nodes: readonly string[]): string {
  const n = (i: number): string => i === LEADER ? 'the leader' : nodes[i % nodes.length]!
  switch (e.kind) {
    case 'network': return `network loss=${e.loss.toFixed(3)} dup=${e.duplication.toFixed(3)} latency=${e.latencyMin}-${e.latencyMax}ms reorder=${String(e.reorder)}`
    case 'partition': {
      const side = (s: number): string => nodes.filter((_, i) => e.sides[i % e.sides.length] === s).join(',')
      return `partition {${side(0)}} | {${side(1)}}`
    }
    case 'cut': return `cut ${n(e.from)} -> ${n(e.to)}`
    case 'heal': return 'heal'
    case 'clog': return `clog ${n(e.from)} -> ${n(e.to)} for ${e.duration}ms`
    case 'crash': return `crash ${n(e.node)} (restart after ${e.downFor}ms)`
    case 'pause': return `pause ${n(e.node)} for ${e.duration}ms`
    case 'drift': return `drift ${n(e.node)} rate=${e.rate.toFixed(4)}`
    case 'jump': return `jump ${n(e.node)} +${e.ms}ms`
    case 'isolateLeaders': return `isolate every new leader ${e.delayMs}ms after its election for ${e.duration}ms (each up to ${e.isolateFor}ms)`
    case 'addNode': return 'add a new node (learner, then voter)'
    case 'removeNode': return `remove voter ${n(e.node)}`
    case 'replaceNodes': return `replace voters ${n(e.a)} and ${n(e.b)} with two new nodes (joint consensus)`
    case 'transfer': return e.to === LEADER ? 'transfer leadership to the most up-to-date voter' : `transfer leadership to ${n(e.to)}`
  }
}

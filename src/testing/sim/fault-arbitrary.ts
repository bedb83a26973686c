/**
 * fast-check arbitraries for fault schedules, so a failing simulation shrinks to a minimal
 * schedule (fewer events, smaller faults, earlier times). fast-check is passed in rather than
 * imported, so nothing depends on it at run time; the types need it, so this lives in its own
 * entry point, `quorate/testing/arbitraries`:
 *
 * @example
 * import fc from 'fast-check'
 * import { runSimulation } from 'quorate/testing'
 * import { faultScheduleArbitrary } from 'quorate/testing/arbitraries'
 * await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), faultScheduleArbitrary(fc),
 *   async (seed, faults) => (await runSimulation({ seed, faults })).ok))
 */
import type * as FastCheck from 'fast-check'
import type { FaultEvent, FaultRanges } from './faults.js'
import { DEFAULT_FAULT_RANGES, LEADER, NODE_SELECTOR_RANGE, sortSchedule } from './faults.js'

/** The parts of the fast-check module the arbitraries use (pass the module itself). */
export type FastCheckModule = Pick<typeof FastCheck, 'integer' | 'constant' | 'record' | 'array' | 'double' | 'boolean' | 'oneof' | 'tuple'>
type Fc = FastCheckModule

/** An arbitrary fault event within `ranges` (durations and times in whole milliseconds). */
export function faultEventArbitrary (fc: Fc, ranges: FaultRanges = DEFAULT_FAULT_RANGES): FastCheck.Arbitrary<FaultEvent> {
  const r = ranges
  const at = fc.integer({ min: 0, max: Math.max(0, r.durationMs - 1) })
  const node = fc.integer({ min: LEADER, max: NODE_SELECTOR_RANGE - 1 })
  const down = fc.integer({ min: 0, max: r.maxDownMs })
  const options: Array<FastCheck.Arbitrary<FaultEvent>> = []
  const w = r.weights
  const add = (weight: number, arb: FastCheck.Arbitrary<FaultEvent>): void => { if (weight > 0) options.push(arb) }
  add(w.partition, fc.record({ at, kind: fc.constant('partition' as const), sides: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 5, maxLength: 5 }) }))
  add(w.cut, fc.record({ at, kind: fc.constant('cut' as const), from: node, to: node }))
  add(w.heal, fc.record({ at, kind: fc.constant('heal' as const) }))
  add(w.clog, fc.record({ at, kind: fc.constant('clog' as const), from: node, to: node, duration: down }))
  add(w.crash, fc.record({ at, kind: fc.constant('crash' as const), node, downFor: down }))
  add(w.pause, fc.record({ at, kind: fc.constant('pause' as const), node, duration: fc.integer({ min: r.minPauseMs, max: Math.max(r.minPauseMs, r.maxDownMs) }) }))
  add(w.drift, fc.record({ at, kind: fc.constant('drift' as const), node, rate: fc.double({ min: 1 - r.maxDrift, max: 1 + r.maxDrift, noNaN: true }) }))
  add(w.jump, fc.record({ at, kind: fc.constant('jump' as const), node, ms: fc.integer({ min: 0, max: r.maxJumpMs }) }))
  add(w.isolateLeaders, fc.record({ at, kind: fc.constant('isolateLeaders' as const), duration: down, delayMs: fc.integer({ min: 0, max: 2 * r.maxLatencyMs }), isolateFor: down }))
  add(w.addNode, fc.record({ at, kind: fc.constant('addNode' as const) }))
  add(w.removeNode, fc.record({ at, kind: fc.constant('removeNode' as const), node }))
  add(w.replaceNodes, fc.record({ at, kind: fc.constant('replaceNodes' as const), a: node, b: node }))
  add(w.transfer, fc.record({ at, kind: fc.constant('transfer' as const), to: node }))
  return fc.oneof(...options)
}

/** The network knobs at the start of a run (an event at time 0). */
export function networkFaultArbitrary (fc: Fc, ranges: FaultRanges = DEFAULT_FAULT_RANGES): FastCheck.Arbitrary<FaultEvent> {
  const half = Math.floor(ranges.maxLatencyMs / 2)
  return fc.record({
    loss: fc.double({ min: 0, max: ranges.maxLoss, noNaN: true }),
    duplication: fc.double({ min: 0, max: ranges.maxDuplication, noNaN: true }),
    latencyMin: fc.integer({ min: 0, max: half }),
    spread: fc.integer({ min: 0, max: ranges.maxLatencyMs - half }),
    reorder: fc.boolean()
  }).map(({ loss, duplication, latencyMin, spread, reorder }) => ({
    at: 0, kind: 'network' as const, loss, duplication, latencyMin, latencyMax: latencyMin + spread, reorder
  }))
}

/** A whole schedule: initial network knobs plus up to `ranges.maxEvents` events, sorted by time. */
export function faultScheduleArbitrary (fc: Fc, ranges: FaultRanges = DEFAULT_FAULT_RANGES): FastCheck.Arbitrary<FaultEvent[]> {
  return fc.tuple(networkFaultArbitrary(fc, ranges), fc.array(faultEventArbitrary(fc, ranges), { maxLength: ranges.maxEvents }))
    .map(([network, events]) => sortSchedule([network, ...events]))
}

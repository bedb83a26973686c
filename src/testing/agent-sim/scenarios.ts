/**
 * Seeded fault scenarios for the failure-detector simulator. Each varies per seed what users
 * vary (cluster size, which node suffers, when, how long), within the bounds its name states.
 */
import { SeededRandom, randomInt } from '../../util/random.js'
import { FAILURE_DETECTOR_DEFAULTS } from '../../agent/failure-detector.js'
import type { DetectorFault, DetectorSimOptions } from './detector-sim.js'

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`)
const GRACE = FAILURE_DETECTOR_DEFAULTS.deadAfterSilenceMs

/** Gray failures only: a 3 s CPU stall on one node and 5% loss on another's (or the same) links; no node is dead. */
export function grayFailureScenario (seed: number): DetectorSimOptions {
  const r = new SeededRandom(seed)
  const nodes = ids(randomInt(r, 3, 8))
  const stalled = nodes[randomInt(r, 0, nodes.length)]!
  const lossy = nodes[randomInt(r, 0, nodes.length)]!
  const faults: DetectorFault[] = [
    { kind: 'loss', node: lossy, at: 0, ms: 60_000, rate: 0.05 },
    { kind: 'stall', node: stalled, at: randomInt(r, 5_000, 40_000), ms: 3000 }
  ]
  return { seed, nodes, durationMs: 60_000, faults }
}

/** One node partitioned from all others, shorter than the grace period (deadAfterSilenceMs): nobody dies. */
export function shortPartitionScenario (seed: number): DetectorSimOptions {
  const r = new SeededRandom(seed)
  const nodes = ids(randomInt(r, 3, 8))
  const node = nodes[randomInt(r, 0, nodes.length)]!
  return { seed, nodes, durationMs: 40_000, faults: [{ kind: 'partition', node, at: randomInt(r, 5_000, 20_000), ms: randomInt(r, 500, GRACE - 1000) }] }
}

/** One node partitioned for longer than the grace period, then healed: exactly one death, then alive. */
export function longPartitionScenario (seed: number): DetectorSimOptions {
  const r = new SeededRandom(seed)
  const nodes = ids(randomInt(r, 3, 8))
  const node = nodes[randomInt(r, 0, nodes.length)]!
  return { seed, nodes, durationMs: 60_000, faults: [{ kind: 'partition', node, at: randomInt(r, 5_000, 20_000), ms: randomInt(r, GRACE + 2000, GRACE + 20_000) }] }
}

/** One node's process killed (its machine answers: connections refused), with 5% loss elsewhere. */
export function crashScenario (seed: number, mode: 'process' | 'machine' = 'process'): DetectorSimOptions {
  const r = new SeededRandom(seed)
  const nodes = ids(randomInt(r, 3, 8))
  const node = nodes[randomInt(r, 0, nodes.length)]!
  const lossy = nodes[randomInt(r, 0, nodes.length)]!
  const faults: DetectorFault[] = [{ kind: 'crash', node, at: randomInt(r, 5_000, 20_000), mode }]
  if (lossy !== node) faults.push({ kind: 'loss', node: lossy, at: 0, ms: 40_000, rate: 0.05 })
  return { seed, nodes, durationMs: 40_000, faults }
}

/** The soak: `minutes` of virtual time, a 3 s stall every 5 minutes on one node, 5% loss on another. */
export function stallSoakScenario (seed: number, minutes: number): DetectorSimOptions {
  const r = new SeededRandom(seed)
  const nodes = ids(5)
  const stalled = nodes[randomInt(r, 0, 5)]!
  const lossy = nodes[randomInt(r, 0, 5)]!
  const durationMs = minutes * 60_000
  const faults: DetectorFault[] = [{ kind: 'loss', node: lossy, at: 0, ms: durationMs, rate: 0.05 }]
  for (let at = 60_000; at + 3000 < durationMs; at += 300_000) faults.push({ kind: 'stall', node: stalled, at: at + randomInt(r, 0, 1000), ms: 3000 })
  return { seed, nodes, durationMs, faults }
}

/** `options` with a singleton on the node its first fault hits, coordinated from another node. */
export function withSingleton (options: DetectorSimOptions, mutant?: 'no-stop-on-reconnect'): DetectorSimOptions {
  const fault = options.faults?.find((f) => 'node' in f)
  const host = fault !== undefined && 'node' in fault ? fault.node : options.nodes[0]!
  const coordinator = options.nodes.find((n) => n !== host)!
  return { ...options, singleton: mutant === undefined ? { host, coordinator } : { host, coordinator, mutant } }
}

/**
 * The deterministic cluster simulator and its pieces (see docs/simulator.md). The fast-check
 * arbitraries are in `quorate/testing/arbitraries` (src/testing/arbitraries.ts).
 */
export * from './simulator.js'
export * from './faults.js'
export * from './checkers.js'
export * from './node-clock.js'
export * from './observed-transport.js'
export { SimTrace, formatTime } from './trace.js'
export * from './workload.js'
export * from './mutants.js'
export * from './figure16.js'
export * from './router-workload.js'
export { withMutations, coreOf } from '../../node/test-hooks.js'
export type { NodeMutations, RaftMutations } from '../../node/test-hooks.js'
export * from './snapshot-draws.js'
export * from './graph-sim.js'
export * from './level-workload.js'

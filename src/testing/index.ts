/**
 * The test harness quorate checks itself with, exported so users can test their own state
 * machines, storages and transports: conformance suites, a crash-simulating storage, a
 * virtual clock, the deterministic cluster simulator and a linearizability checker.
 *
 * May import: anything in src/. Nothing outside src/testing/ may import it.
 */
export * from './storage-conformance.js'
export * from './transport-conformance.js'
export * from './crash-storage.js'
export * from './manual-clock.js'
export * from './history.js'
export * from './model.js'
export * from './kv-model.js'
export * from './register-model.js'
export * from '../kv/command.js'
export * from '../kv/state-machine.js'
export * from './kv-workload.js'
export * from './linearizability.js'
export * from './sim/index.js'
export * from './state-machine-conformance.js'
export * from './tuple-sim/index.js'
export * from './coordinator-sim/index.js'
export * from './agent-sim/index.js'
export * from './transponder-sim/index.js'

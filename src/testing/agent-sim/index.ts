/**
 * The failure-detector simulator: quorate/agent's pure FailureDetector on N simulated nodes
 * exchanging heartbeats in virtual time, under seeded gray failures (CPU stalls, loss),
 * partitions and crashes, with a checker that knows the ground truth (no false deaths, no
 * accusations by a starved node, exactly one death per long partition, every crash detected),
 * and a singleton placed by a minimal coordinator model (one instance kept after reconnect).
 *
 * May import: anything in src/. Nothing outside src/testing/ may import it.
 */
export * from './detector-sim.js'
export * from './detector-checker.js'
export * from './scenarios.js'
export * from './singleton-model.js'

/**
 * The coordinator simulation: a tracking station of real Raft nodes with leases, supervisors
 * and coordinators, simulated node agents and monitors, under the coordinator's faults
 * (host killed, frozen, hung; partitions; drift and clock steps; crash loops; workers lost),
 * checked for one acting coordinator, fenced writes and commands, and convergence.
 *
 * May import: anything in src/. Nothing outside src/testing/ may import it.
 */
export * from './simulator.js'
export { SimAgent } from './agents.js'
export type { AgentObserver } from './agents.js'
export * from './mutants.js'

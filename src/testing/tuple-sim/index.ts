/**
 * The seeded tuple-replication simulator: mirrored TupleStores syncing over a faulty
 * network, checked after every step against an independent reference model, plus the
 * mutation check that shows it catches three deliberately broken stores.
 *
 * May import: anything in src/. Nothing outside src/testing/ may import it.
 */
export * from './model.js'
export * from './simulator.js'
export * from './mutants.js'
export type { TupleMutations } from '../../lamport/test-hooks.js'

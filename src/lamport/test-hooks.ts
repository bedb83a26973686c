/**
 * Test-only broken variants of the tuple store, reachable only through `quorate/testing` (the
 * tuple simulator's mutation check), never through TupleStoreOptions: they travel under a
 * module-private symbol, as the engine's mutants do (node/test-hooks.ts).
 */
import { hiddenOption } from '../util/hidden-option.js'

/**
 * Deliberately broken variants, for showing that the tuple simulator catches each bug.
 * Never set them outside tests.
 */
export interface TupleMutations {
  /** applySync does not move the Lamport clock past received stamps. */
  skipClockMerge?: boolean
  /** Cancellation records expire as soon as this replica applied them (not when stable). */
  expireEarly?: boolean
  /** Loading a sync snapshot drops the replay log instead of merging the server's. */
  dropLogOnSnapshot?: boolean
}

const MUTATIONS = hiddenOption<TupleMutations>('quorate.tupleMutations', Object.freeze({}))

/** A copy of the store options `options` carrying `mutations`. */
export const withTupleMutations = MUTATIONS.with

/** The mutations `options` carries, or none. */
export const tupleMutationsOf = MUTATIONS.of

/**
 * Test-only hooks into the pure core, for the simulator's mutation check and its checkers.
 * Nothing here is exported from a public entry point except through `quorate/testing`: the
 * carrier is a module-private symbol, so no options interface has a public `mutations` field
 * and a user cannot switch a mutant on by accident (object spread copies symbol keys, so the
 * hook survives the node copying its options into the core's).
 */
import type { RaftLog } from './log.js'
import { hiddenOption } from '../util/hidden-option.js'

/** Deliberately broken behaviours of the core. Never set them outside the mutation check. */
export interface RaftMutations {
  /** Commit an old-term entry by counting replicas (violates §5.4.2 / Figure 8). */
  commitOldTerm?: boolean
  /** Grant votes without the up-to-date check (violates §5.4.1). */
  skipUpToDateCheck?: boolean
  /**
   * On every accepted append, drop whatever follows the appended entries even if it matched
   * (the classic stale-append bug: a delayed append truncates newer, possibly committed, entries).
   */
  truncateSuffixOnAppend?: boolean
}

const MUTATIONS = hiddenOption<RaftMutations>('quorate.mutations', Object.freeze({}))

/** A copy of `options` that carries `mutations` to the core (and the node, for its own). */
export function withMutations<T extends object> (options: T, mutations: RaftMutations): T {
  return MUTATIONS.with(options, mutations)
}

/**
 * The mutations `options` carries, or none. Callers that know the writer passed a wider
 * mutation set (the node reads its own switches) narrow the result themselves.
 */
export function mutationsOf (options: object): RaftMutations {
  return MUTATIONS.of(options)
}

/**
 * Truncation that ignores the commit rule, for the `truncateSuffixOnAppend` mutant only.
 * RaftLog installs it from a static block (it needs the log's private cursors), so the
 * public class has no `unsafe` flag.
 */
let unsafeTruncate: ((log: RaftLog, from: number) => void) | undefined

export function installUnsafeTruncate (fn: (log: RaftLog, from: number) => void): void {
  unsafeTruncate = fn
}

export function truncateIgnoringCommit (log: RaftLog, from: number): void {
  unsafeTruncate!(log, from)
}

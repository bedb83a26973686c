/**
 * Quorum arithmetic: pure functions over voter ids and per-voter values. Kept apart from
 * the Raft core so they can be checked against a dumb second implementation.
 *
 * A configuration is joint (C_old,new, Raft thesis §4.3) when `outgoing` is non-empty:
 * then every decision needs a majority of `incoming` AND a majority of `outgoing`.
 */
import type { NodeId } from './types.js'

export type VoteResult = 'won' | 'lost' | 'pending'

/**
 * The largest index that a majority of `voters` have matched (each voter's match comes
 * from `matchOf`). An empty voter set places no constraint (returns +Infinity) so that a
 * joint config with an empty outgoing half reduces to the incoming half.
 */
export function majorityCommitted (voters: readonly NodeId[], matchOf: (id: NodeId) => number, scratch: number[] = []): number {
  const n = voters.length
  if (n === 0) return Number.POSITIVE_INFINITY
  if (n === 1) return matchOf(voters[0]!)
  scratch.length = n
  for (let i = 0; i < n; i++) scratch[i] = matchOf(voters[i]!)
  // Insertion sort, descending: voter sets are tiny (3-7) and this allocates nothing.
  for (let i = 1; i < n; i++) {
    const v = scratch[i]!
    let j = i - 1
    while (j >= 0 && scratch[j]! < v) { scratch[j + 1] = scratch[j]!; j-- }
    scratch[j + 1] = v
  }
  // The (n/2+1)-th largest value is held by a majority.
  return scratch[(n >> 1)]!
}

export function jointCommitted (incoming: readonly NodeId[], outgoing: readonly NodeId[], matchOf: (id: NodeId) => number, scratch?: number[]): number {
  const a = majorityCommitted(incoming, matchOf, scratch)
  if (outgoing.length === 0) return a === Number.POSITIVE_INFINITY ? 0 : a
  const b = majorityCommitted(outgoing, matchOf, scratch)
  const c = Math.min(a, b)
  return c === Number.POSITIVE_INFINITY ? 0 : c
}

/** Outcome of an election among `voters` given the votes received so far (true = granted). */
export function majorityVoteResult (voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const n = voters.length
  if (n === 0) return 'won'
  let granted = 0
  let rejected = 0
  for (const id of voters) {
    const v = votes.get(id)
    if (v === true) granted++
    else if (v === false) rejected++
  }
  const q = (n >> 1) + 1
  if (granted >= q) return 'won'
  if (n - rejected < q) return 'lost'
  return 'pending'
}

export function jointVoteResult (incoming: readonly NodeId[], outgoing: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const a = majorityVoteResult(incoming, votes)
  if (outgoing.length === 0) return a
  const b = majorityVoteResult(outgoing, votes)
  if (a === b) return a
  if (a === 'lost' || b === 'lost') return 'lost'
  return 'pending'
}

/** True if `active` includes a majority of each half of the configuration. */
export function jointQuorumActive (incoming: readonly NodeId[], outgoing: readonly NodeId[], isActive: (id: NodeId) => boolean): boolean {
  const count = (ids: readonly NodeId[]): boolean => {
    if (ids.length === 0) return true
    let k = 0
    for (const id of ids) if (isActive(id)) k++
    return k >= (ids.length >> 1) + 1
  }
  return count(incoming) && count(outgoing)
}

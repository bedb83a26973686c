/**
 * How the checker shares its budget between sub-histories: round-robin slices. Each round
 * gives every unfinished sub-history the same number of steps (at most SLICE_STEPS, and no
 * more than the step budget left divided among them), so a sub-history that needs little
 * finishes early and leaves the rest to the others, and one that needs more than its share
 * cannot starve the rest. The first illegal sub-history (in partition order within a round)
 * makes the history illegal at once; when the budget is gone, every sub-history still
 * unfinished has timed out.
 *
 * The schedule is a generator that yields a round's slices and is resumed with what they
 * did, so that the same rounds run whether the slices run in this thread or in workers: with a
 * step budget the outcome is the same either way.
 */

/** Steps one sub-history runs before the others get their turn (and the clock is read). */
export const SLICE_STEPS = 4096

export type SliceStatus = 'running' | 'ok' | 'illegal'

export interface Slice {
  /** Index of the sub-history. */
  readonly part: number
  readonly steps: number
}

export interface SliceResult {
  readonly part: number
  readonly status: SliceStatus
  /** Steps the slice actually took (less than asked when the search finished). */
  readonly used: number
}

export type ScheduleOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'illegal', readonly part: number }
  /** `parts`: the unfinished sub-histories, in partition order. */
  | { readonly kind: 'timeout', readonly parts: readonly number[] }

/**
 * @param initial each sub-history's status before any step (a search with nothing to
 *   linearize is 'ok' at once)
 * @param maxSteps steps for all sub-histories together (Infinity: no step limit)
 * @param outOfTime read between rounds: true once the time budget is spent
 *
 * Resume it with the results of the slices it yielded, in the order it yielded them. A driver
 * may stop a round early (after an illegal result, or when out of time) and pass only the
 * results of the slices it ran.
 */
export function * budgetSchedule (
  initial: readonly SliceStatus[],
  maxSteps: number,
  outOfTime: () => boolean
): Generator<Slice[], ScheduleOutcome, SliceResult[]> {
  const illegalAtStart = initial.indexOf('illegal')
  if (illegalAtStart >= 0) return { kind: 'illegal', part: illegalAtStart }
  let unfinished = initial.flatMap((status, part) => status === 'running' ? [part] : [])
  let left = maxSteps
  for (;;) {
    if (unfinished.length === 0) return { kind: 'ok' }
    if (left <= 0 || outOfTime()) return { kind: 'timeout', parts: unfinished }
    const share = Math.min(SLICE_STEPS, Math.floor(left / unfinished.length))
    // Fewer steps left than sub-histories: one step each to the first ones, in order.
    const slices = share >= 1
      ? unfinished.map((part) => ({ part, steps: share }))
      : unfinished.slice(0, left).map((part) => ({ part, steps: 1 }))
    const results = yield slices
    const finished = new Set<number>()
    for (const r of results) {
      left -= r.used
      if (r.status === 'illegal') return { kind: 'illegal', part: r.part }
      if (r.status === 'ok') finished.add(r.part)
    }
    unfinished = unfinished.filter((part) => !finished.has(part))
  }
}

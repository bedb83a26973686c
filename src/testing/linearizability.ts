/**
 * Linearizability checker: is there a total order of a history's operations that respects
 * real time (an operation that returned before another was invoked comes first) and that
 * the sequential model accepts?
 *
 * The history is split into the model's independent sub-histories (P-compositionality), each
 * searched by a LinearizationSearch (linearization-search.ts: Wing & Gong with Lowe's memo,
 * as in Porcupine). The searches share the budget in round-robin slices
 * (linearizability-schedule.ts): every sub-history gets checked, one illegal sub-history
 * makes the history illegal at once, and when the budget runs out the result names every
 * sub-history left unfinished. checkLinearizabilityInWorkers (linearizability-workers.ts)
 * runs the same schedule with the searches in worker threads.
 */
import { QuorateError } from '../errors.js'
import type { Operation } from './history.js'
import type { Model } from './model.js'
import { LinearizationSearch } from './linearization-search.js'
import { budgetSchedule } from './linearizability-schedule.js'
import type { SliceResult } from './linearizability-schedule.js'
import { planCheck, validateCheckOptions } from './linearizability-plan.js'
import type { CheckOptions, CheckResult } from './linearizability-plan.js'

export { DEFAULT_CHECK_TIMEOUT_MS, DEFAULT_MAX_CACHE_ENTRIES, MAX_CACHE_ENTRIES, validateCheckOptions } from './linearizability-plan.js'
export type { CheckOptions, CheckResult, CheckStats, ModelHooks, TimedOutPartition } from './linearizability-plan.js'
export { checkLinearizabilityInWorkers } from './linearizability-workers.js'
export type { ModelReference, WorkerCheckOptions } from './linearizability-workers.js'

/**
 * Checks `history` against `model`. Synchronous; bounded by `options.timeoutMs` and
 * `options.maxSteps`. Throws CHECKER_HISTORY_INVALID for a malformed history and
 * OPTIONS_INVALID for bad options.
 */
export function checkLinearizability<State, Input, Output> (
  model: Model<State, Input, Output>,
  history: ReadonlyArray<Operation<Input, Output>>,
  options: CheckOptions = {}
): CheckResult<Input, Output> {
  validateCheckOptions(options)
  const plan = planCheck(model, history, options)
  const searches = plan.parts.map((p) => new LinearizationSearch(model, plan.hooks, p.ops, plan.maxCacheEntries))
  const schedule = budgetSchedule(searches.map((s) => s.status), plan.maxSteps, plan.outOfTime)
  let round = schedule.next()
  while (round.done !== true) {
    const results: SliceResult[] = []
    for (const { part, steps } of round.value) {
      const search = searches[part]!
      const used = search.run(steps)
      results.push({ part, status: search.status, used })
      // Stop the round at once on a verdict that settles the history, or out of time.
      if (search.status === 'illegal' || plan.outOfTime()) break
    }
    round = schedule.next(results)
  }
  const outcome = round.value
  const illegal = outcome.kind === 'illegal' ? searches[outcome.part]! : undefined
  return plan.result(
    outcome,
    searches.map((s) => s.steps),
    searches.map((s) => s.cacheEntries),
    illegal === undefined ? undefined : { prefix: illegal.prefix, blocking: illegal.blocking, state: illegal.stateAfterPrefix }
  )
}

/**
 * Checks the history and throws unless it is linearizable: CHECKER_NOT_LINEARIZABLE with the
 * explanation as message, or CHECKER_TIMEOUT (a timeout is never a pass). In both cases
 * `err.info.result` is the CheckResult. For tests: `assertLinearizable(kvModel, rec.history())`.
 */
export function assertLinearizable<State, Input, Output> (
  model: Model<State, Input, Output>,
  history: ReadonlyArray<Operation<Input, Output>>,
  options: CheckOptions = {}
): CheckResult<Input, Output> {
  const result = checkLinearizability(model, history, options)
  if (result.result === 'ok') return result
  const code = result.result === 'timeout' ? 'CHECKER_TIMEOUT' : 'CHECKER_NOT_LINEARIZABLE'
  throw new QuorateError(code, result.explanation ?? result.result, { details: { result } })
}

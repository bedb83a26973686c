/**
 * What the checker does before and after the search, shared by the in-thread checker and the
 * worker-thread one: validating options, model and history; splitting the history into
 * sub-histories and pruning them; and turning the schedule's outcome into a CheckResult.
 * Both paths build their result here, so they cannot word or shape it differently.
 */
import { QuorateError } from '../errors.js'
import { systemClock } from '../util/clock.js'
import { check, checkInt } from '../util/validate.js'
import type { Clock } from '../util/clock.js'
import { isUnknownOutcome, validateHistory } from './history.js'
import type { Operation } from './history.js'
import { describeOperationDefault, stableStringify } from './model.js'
import type { Model, Unknown } from './model.js'
import { hashString } from './linearization-memo.js'
import { explainIllegal } from './linearizability-explain.js'
import type { ScheduleOutcome } from './linearizability-schedule.js'

export const DEFAULT_CHECK_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_CACHE_ENTRIES = 500_000
/**
 * The largest maxCacheEntries accepted: a JavaScript Map holds at most 2^24 entries, and the
 * memo is one Map per sub-history. (Larger values used to crash the search with a RangeError
 * once reached; 2^24 entries are gigabytes of memory anyway, so the cap is refused up front
 * rather than sharded.)
 */
export const MAX_CACHE_ENTRIES = 2 ** 24

export interface CheckOptions {
  /**
   * Time budget for the whole history, in milliseconds (Infinity: none). When it runs out
   * the result is 'timeout', which callers must count as a failure, never as a pass.
   * Depends on the machine's speed: for a verdict that cannot change under load use maxSteps.
   * @default DEFAULT_CHECK_TIMEOUT_MS (10 000), or Infinity when maxSteps is given
   */
  timeoutMs?: number
  /**
   * Step budget for the whole history (a step is one operation tried or backtracked), shared
   * between sub-histories as the time budget is. Deterministic: the same history, model and
   * maxSteps give the same result on any machine, in this thread or in workers.
   * @default Infinity
   */
  maxSteps?: number
  /** Where the time budget's time comes from. @default systemClock */
  clock?: Pick<Clock, 'now'>
  /**
   * Most (linearized set, state) pairs remembered per sub-history, which bounds memory.
   * Past it the search still finishes correctly, only without memoizing more.
   * At most MAX_CACHE_ENTRIES (2^24).
   * @default DEFAULT_MAX_CACHE_ENTRIES (500 000)
   */
  maxCacheEntries?: number
}

const OPTION_KEYS: ReadonlySet<string> = new Set(['timeoutMs', 'maxSteps', 'clock', 'maxCacheEntries'])

export interface CheckStats {
  readonly operations: number
  readonly partitions: number
  /** Unknown-outcome operations model.prune removed before the search. */
  readonly pruned: number
  /** Search steps (operations tried or backtracked) over all sub-histories. */
  readonly steps: number
  /** Memo entries over all sub-histories. */
  readonly cacheEntries: number
  readonly elapsedMs: number
}

/** A sub-history the budget ran out on. */
export interface TimedOutPartition {
  /** Its model.partition key (absent when the model does not partition). */
  readonly key?: string
  /** Its position in model.partition's result (0 when the model does not partition). */
  readonly index: number
  readonly operations: number
  /** Steps spent on it before the budget ran out. */
  readonly steps: number
}

export interface CheckResult<Input, Output> {
  readonly result: 'ok' | 'illegal' | 'timeout'
  /** The sub-history (model.partition key) that was illegal, or the first that ran out of budget. */
  readonly key?: string
  /** When timed out: every sub-history left unfinished (all the others are linearizable). */
  readonly timedOut?: readonly TimedOutPartition[]
  /** When illegal: the longest linearizable prefix the search found, in order. */
  readonly partialLinearization?: ReadonlyArray<Operation<Input, Output>>
  /** When illegal: the operation that could not be placed after that prefix. */
  readonly failedOperation?: Operation<Input, Output>
  /** When illegal or timed out: a readable account of what went wrong. */
  readonly explanation?: string
  readonly stats: CheckStats
}

/** Throws OPTIONS_INVALID naming the first bad field. */
export function validateCheckOptions (options: CheckOptions, extraKeys: ReadonlySet<string> = new Set()): void {
  check(options !== null && typeof options === 'object', 'checkLinearizability', 'options', 'an object', options)
  for (const key of Object.keys(options)) {
    const hint = key === 'workers' ? ' (for worker threads call checkLinearizabilityInWorkers)' : ' (unknown option)'
    check(OPTION_KEYS.has(key) || extraKeys.has(key), 'checkLinearizability', key,
      `one of ${[...OPTION_KEYS, ...extraKeys].join(', ')}${hint}`, (options as Record<string, unknown>)[key])
  }
  const { timeoutMs, maxSteps, clock, maxCacheEntries } = options
  for (const [field, value] of [['timeoutMs', timeoutMs], ['maxSteps', maxSteps]] as const) {
    if (value === undefined) continue
    check(typeof value === 'number' && value >= 0 && (field === 'timeoutMs' || Number.isInteger(value) || value === Infinity),
      'checkLinearizability', field, field === 'timeoutMs' ? 'a non-negative number or Infinity' : 'a non-negative integer or Infinity', value)
  }
  if (clock !== undefined) {
    check(clock !== null && typeof clock.now === 'function', 'checkLinearizability', 'clock', 'an object with a now() method', clock)
  }
  if (maxCacheEntries !== undefined) checkInt(maxCacheEntries, 'checkLinearizability', 'maxCacheEntries', 0, MAX_CACHE_ENTRIES)
}

export function validateModel (model: Model<unknown, unknown, unknown>, field = 'model'): void {
  check(model !== null && typeof model === 'object', 'checkLinearizability', field, 'a Model object', model)
  for (const name of ['init', 'step'] as const) {
    check(typeof model[name] === 'function', 'checkLinearizability', `${field}.${name}`, 'a function', typeof model[name])
  }
}

export interface ModelHooks<State, Input, Output> {
  readonly hash: (state: State) => number
  readonly equal: (a: State, b: State) => boolean
  readonly describeOperation: (input: Input, output: Output | Unknown) => string
  readonly describeState: (state: State) => string
}

export function modelHooks<S, I, O> (model: Model<S, I, O>): ModelHooks<S, I, O> {
  const userHash = model.hash ?? stableStringify
  const hash = (state: S): number => {
    const h = userHash(state)
    return typeof h === 'number' ? h | 0 : hashString(h)
  }
  return {
    hash,
    equal: model.equal ?? ((a, b) => a === b || userHash(a) === userHash(b)),
    describeOperation: model.describeOperation ?? describeOperationDefault,
    describeState: model.describeState ?? stableStringify
  }
}

/** One sub-history, pruned, ready to search. */
export interface PlannedPartition<I, O> {
  readonly key: string | undefined
  readonly ops: ReadonlyArray<Operation<I, O>>
}

/** What a search reports about an illegal sub-history. */
export interface IllegalFinding<S> {
  /** The longest linearizable prefix, as indices into the sub-history's operations. */
  readonly prefix: readonly number[]
  /** The operation that could not come next, or -1. */
  readonly blocking: number
  /** The model state after the prefix. */
  readonly state: S
}

export interface CheckPlan<S, I, O> {
  readonly parts: ReadonlyArray<PlannedPartition<I, O>>
  readonly hooks: ModelHooks<S, I, O>
  readonly maxSteps: number
  readonly maxCacheEntries: number
  /** True once the time budget is spent. */
  readonly outOfTime: () => boolean
  /** Builds the result; `steps` and `cacheEntries` are per sub-history, in `parts` order. */
  readonly result: (
    outcome: ScheduleOutcome,
    steps: readonly number[],
    cacheEntries: readonly number[],
    illegal?: IllegalFinding<S>
  ) => CheckResult<I, O>
}

/** Validates everything and splits the history; throws OPTIONS_INVALID or CHECKER_HISTORY_INVALID. */
export function planCheck<S, I, O> (
  model: Model<S, I, O>,
  history: ReadonlyArray<Operation<I, O>>,
  options: CheckOptions
): CheckPlan<S, I, O> {
  validateModel(model as Model<unknown, unknown, unknown>)
  validateHistory(history)
  validateOperations(model, history)
  const clock = options.clock ?? systemClock
  const started = clock.now()
  const timeoutMs = options.timeoutMs ?? (options.maxSteps === undefined ? DEFAULT_CHECK_TIMEOUT_MS : Infinity)
  const maxSteps = options.maxSteps ?? Infinity
  const deadline = started + timeoutMs
  const hooks = modelHooks(model)
  const parts: Array<PlannedPartition<I, O>> = []
  let pruned = 0
  for (const [key, part] of partitionHistory(model, history)) {
    const ops = pruneHistory(model, part)
    pruned += part.length - ops.length
    parts.push({ key: key === WHOLE_HISTORY ? undefined : key, ops })
  }

  const result: CheckPlan<S, I, O>['result'] = (outcome, steps, cacheEntries, illegal) => {
    const sum = (list: readonly number[]): number => list.reduce((a, b) => a + b, 0)
    const stats: CheckStats = {
      operations: history.length,
      partitions: parts.length,
      pruned,
      steps: sum(steps),
      cacheEntries: sum(cacheEntries),
      elapsedMs: clock.now() - started
    }
    if (outcome.kind === 'ok') return { result: 'ok', stats }
    if (outcome.kind === 'timeout') {
      const timedOut = outcome.parts.map((index): TimedOutPartition => {
        const { key, ops } = parts[index]!
        return { ...(key === undefined ? {} : { key }), index, operations: ops.length, steps: steps[index]! }
      })
      const first = timedOut[0]!
      return {
        result: 'timeout',
        ...(first.key === undefined ? {} : { key: first.key }),
        timedOut,
        explanation: explainTimeout(timedOut, parts.length, { timeoutMs, maxSteps }, stats.steps),
        stats
      }
    }
    const { key, ops } = parts[outcome.part]!
    const found = illegal as IllegalFinding<S>
    const indexOf = new Map<Operation<I, O>, number>()
    history.forEach((op, i) => indexOf.set(op, i))
    const prefix = found.prefix.map((i) => ops[i]!)
    const failed = found.blocking >= 0 ? ops[found.blocking] : undefined
    return {
      result: 'illegal',
      ...(key === undefined ? {} : { key }),
      partialLinearization: prefix,
      ...(failed === undefined ? {} : { failedOperation: failed }),
      explanation: explainIllegal({
        model, hooks, key, operations: ops, prefix, failed, state: found.state,
        label: (op) => op.id ?? indexOf.get(op) ?? -1
      }),
      stats
    }
  }
  return {
    parts,
    hooks,
    maxSteps,
    maxCacheEntries: options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES,
    outOfTime: () => timeoutMs !== Infinity && clock.now() >= deadline,
    result
  }
}

/** Sub-histories named in a timeout explanation before "and N more". */
const TIMED_OUT_LINES = 10

function explainTimeout (
  timedOut: readonly TimedOutPartition[],
  partitions: number,
  budget: { timeoutMs: number, maxSteps: number },
  steps: number
): string {
  const limits = [
    ...(budget.timeoutMs === Infinity ? [] : [`${budget.timeoutMs} ms`]),
    ...(budget.maxSteps === Infinity ? [] : [`${budget.maxSteps} steps`])
  ].join(' / ')
  const shown = timedOut.slice(0, TIMED_OUT_LINES).map((t) =>
    `${t.key === undefined ? 'the history' : `key ${JSON.stringify(t.key)}`} (${t.operations} operations, ${t.steps} steps)`)
  if (timedOut.length > TIMED_OUT_LINES) shown.push(`and ${timedOut.length - TIMED_OUT_LINES} more`)
  const rest = partitions - timedOut.length
  return `Ran out of the ${limits} budget after ${steps} steps, with ${timedOut.length} of ${partitions} ` +
    `sub-histories unfinished: ${shown.join(', ')}` +
    (rest > 0 ? `; the other ${rest} are linearizable` : '') +
    '. This is not a pass: shorten the history or raise the budget.'
}

/** Asks the model to vet each operation (model.validateOperation), naming the first bad one. */
function validateOperations<S, I, O> (model: Model<S, I, O>, history: ReadonlyArray<Operation<I, O>>): void {
  if (model.validateOperation === undefined) return
  for (let i = 0; i < history.length; i++) {
    const problem = model.validateOperation(history[i]!)
    if (problem !== undefined) throw new QuorateError('CHECKER_HISTORY_INVALID', `operation #${i}: ${problem}`)
  }
}

/** The key used when the model does not partition. */
const WHOLE_HISTORY = Symbol('whole history')

function partitionHistory<S, I, O> (
  model: Model<S, I, O>,
  history: ReadonlyArray<Operation<I, O>>
): ReadonlyMap<string | typeof WHOLE_HISTORY, ReadonlyArray<Operation<I, O>>> {
  if (model.partition === undefined) return new Map([[WHOLE_HISTORY, history]])
  const parts = model.partition(history)
  let total = 0
  for (const ops of parts.values()) total += ops.length
  if (total !== history.length) {
    throw new QuorateError('OPTIONS_INVALID', `model.partition returned ${total} operations for a history of ${history.length}`)
  }
  return parts
}

function pruneHistory<S, I, O> (model: Model<S, I, O>, ops: ReadonlyArray<Operation<I, O>>): ReadonlyArray<Operation<I, O>> {
  if (model.prune === undefined) return ops
  const kept = model.prune(ops)
  const known = (list: ReadonlyArray<Operation<I, O>>): number => list.reduce((n, op) => isUnknownOutcome(op) ? n : n + 1, 0)
  if (known(kept) !== known(ops)) {
    throw new QuorateError('OPTIONS_INVALID', 'model.prune removed an operation whose outcome is known')
  }
  return kept
}

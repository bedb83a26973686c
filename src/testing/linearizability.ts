/**
 * Linearizability checker: is there a total order of a history's operations that respects
 * real time (an operation that returned before another was invoked comes first) and that
 * the sequential model accepts?
 *
 * The search is Wing & Gong's with Lowe's memoization, as in Porcupine: operations are
 * call/return events in a doubly linked list ordered by time; the search linearizes a call
 * that comes before the first return in the list (a minimal operation), lifts it and its
 * return out of the list, and backtracks when it reaches a return whose call it could not
 * linearize. (linearized set, state) pairs already explored are not explored again.
 *
 * Unknown outcomes have no return event (it is at +infinity): they may be linearized at any
 * point after their invoke, with any output, or never. The search succeeds once every
 * operation with a known outcome is linearized.
 */
import { QuorateError } from '../errors.js'
import { systemClock } from '../util/clock.js'
import { check, checkInt } from '../util/validate.js'
import type { Clock } from '../util/clock.js'
import { isUnknownOutcome, validateHistory } from './history.js'
import type { Operation } from './history.js'
import { UNKNOWN, describeOperationDefault, stableStringify } from './model.js'
import type { Model } from './model.js'
import { LinearizationMemo, hashString } from './linearization-memo.js'
import { explainIllegal } from './linearizability-explain.js'

export const DEFAULT_CHECK_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_CACHE_ENTRIES = 500_000
/** Search steps between two looks at the clock: reading it is far dearer than a step. */
const STEPS_PER_BUDGET_CHECK = 1024

export interface CheckOptions {
  /**
   * Time budget for the whole history, in milliseconds (Infinity: none). When it runs out
   * the result is 'timeout', which callers must count as a failure, never as a pass.
   * @default DEFAULT_CHECK_TIMEOUT_MS (10 000)
   */
  timeoutMs?: number
  /** Where the budget's time comes from. @default systemClock */
  clock?: Pick<Clock, 'now'>
  /**
   * Most (linearized set, state) pairs remembered per sub-history, which bounds memory.
   * Past it the search still finishes correctly, only without memoizing more.
   * @default DEFAULT_MAX_CACHE_ENTRIES (500 000)
   */
  maxCacheEntries?: number
}

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

export interface CheckResult<Input, Output> {
  readonly result: 'ok' | 'illegal' | 'timeout'
  /** The sub-history (model.partition key) that was illegal or ran out of time. */
  readonly key?: string
  /** When illegal: the longest linearizable prefix the search found, in order. */
  readonly partialLinearization?: ReadonlyArray<Operation<Input, Output>>
  /** When illegal: the operation that could not be placed after that prefix. */
  readonly failedOperation?: Operation<Input, Output>
  /** When illegal or timed out: a readable account of what went wrong. */
  readonly explanation?: string
  readonly stats: CheckStats
}

/** Throws OPTIONS_INVALID naming the first bad field. */
export function validateCheckOptions (options: CheckOptions): void {
  check(options !== null && typeof options === 'object', 'checkLinearizability', 'options', 'an object', options)
  const { timeoutMs, clock, maxCacheEntries } = options
  if (timeoutMs !== undefined) {
    check(typeof timeoutMs === 'number' && timeoutMs >= 0, 'checkLinearizability', 'timeoutMs', 'a non-negative number or Infinity', timeoutMs)
  }
  if (clock !== undefined) {
    check(clock !== null && typeof clock.now === 'function', 'checkLinearizability', 'clock', 'an object with a now() method', clock)
  }
  if (maxCacheEntries !== undefined) checkInt(maxCacheEntries, 'checkLinearizability', 'maxCacheEntries', 0)
}

function validateModel (model: Model<unknown, unknown, unknown>): void {
  check(model !== null && typeof model === 'object', 'checkLinearizability', 'model', 'a Model object', model)
  for (const field of ['init', 'step'] as const) {
    check(typeof model[field] === 'function', 'checkLinearizability', `model.${field}`, 'a function', typeof model[field])
  }
}

/**
 * Checks `history` against `model`. Synchronous; bounded by `options.timeoutMs`.
 * Throws CHECKER_HISTORY_INVALID for a malformed history and OPTIONS_INVALID for bad options.
 */
export function checkLinearizability<State, Input, Output> (
  model: Model<State, Input, Output>,
  history: ReadonlyArray<Operation<Input, Output>>,
  options: CheckOptions = {}
): CheckResult<Input, Output> {
  validateCheckOptions(options)
  validateModel(model as Model<unknown, unknown, unknown>)
  validateHistory(history)
  const clock = options.clock ?? systemClock
  const started = clock.now()
  const budget = {
    clock,
    deadline: started + (options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS),
    maxCacheEntries: options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES
  }
  const parts = partitionHistory(model, history)
  const hooks = modelHooks(model)
  let steps = 0
  let cacheEntries = 0
  let pruned = 0
  const stats = (): CheckStats => ({
    operations: history.length, partitions: parts.size, pruned, steps, cacheEntries, elapsedMs: clock.now() - started
  })

  for (const [key, part] of parts) {
    const ops = pruneHistory(model, part)
    pruned += part.length - ops.length
    const search = searchLinearization(model, hooks, ops, budget)
    steps += search.steps
    cacheEntries += search.cacheEntries
    const keyField = key === WHOLE_HISTORY ? {} : { key }
    if (search.outcome === 'timeout') {
      const where = key === WHOLE_HISTORY ? '' : ` while checking key ${JSON.stringify(key)} (${ops.length} operations)`
      return {
        result: 'timeout',
        ...keyField,
        explanation: `Ran out of the ${options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS} ms budget${where} after ${steps} steps; ` +
          'this is not a pass: shorten the history or raise timeoutMs.',
        stats: stats()
      }
    }
    if (search.outcome === 'illegal') {
      const indexOf = new Map<Operation<Input, Output>, number>()
      history.forEach((op, i) => indexOf.set(op, i))
      const prefix = search.prefix.map((i) => ops[i]!)
      const failed = search.blocking >= 0 ? ops[search.blocking] : undefined
      return {
        result: 'illegal',
        ...keyField,
        partialLinearization: prefix,
        ...(failed === undefined ? {} : { failedOperation: failed }),
        explanation: explainIllegal({
          model, hooks, key: key === WHOLE_HISTORY ? undefined : key, operations: ops, prefix, failed, state: search.state,
          label: (op) => op.id ?? indexOf.get(op) ?? -1
        }),
        stats: stats()
      }
    }
  }
  return { result: 'ok', stats: stats() }
}

/**
 * Checks the history and throws unless it is linearizable: CHECKER_NOT_LINEARIZABLE with the
 * explanation as message, or CHECKER_TIMEOUT (a timeout is never a pass). In both cases
 * `details.result` is the CheckResult. For tests: `assertLinearizable(kvModel, rec.history())`.
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

export interface ModelHooks<State, Input, Output> {
  readonly hash: (state: State) => number
  readonly equal: (a: State, b: State) => boolean
  readonly describeOperation: (input: Input, output: Output | typeof UNKNOWN) => string
  readonly describeState: (state: State) => string
}

function modelHooks<S, I, O> (model: Model<S, I, O>): ModelHooks<S, I, O> {
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

/** A call or return event in the search's doubly linked list. */
interface Event {
  readonly op: number
  readonly isCall: boolean
  /** A call's return event (null for an unknown outcome); a return's own call. */
  match: Event | null
  prev: Event | null
  next: Event | null
}

type SearchOutcome<State> =
  | { outcome: 'ok' | 'timeout', steps: number, cacheEntries: number }
  | { outcome: 'illegal', steps: number, cacheEntries: number, prefix: number[], blocking: number, state: State }

interface Budget {
  readonly clock: Pick<Clock, 'now'>
  readonly deadline: number
  readonly maxCacheEntries: number
}

/** Builds the event list: by time, calls before returns at equal times (so they overlap). */
function buildEvents (ops: ReadonlyArray<Operation<unknown, unknown>>): Event {
  const timed: Array<{ time: number, event: Event }> = []
  for (let i = 0; i < ops.length; i++) {
    const call: Event = { op: i, isCall: true, match: null, prev: null, next: null }
    timed.push({ time: ops[i]!.invoke, event: call })
    if (!isUnknownOutcome(ops[i]!)) {
      const ret: Event = { op: i, isCall: false, match: call, prev: null, next: null }
      call.match = ret
      timed.push({ time: ops[i]!.return as number, event: ret })
    }
  }
  timed.sort((a, b) => a.time - b.time || (a.event.isCall === b.event.isCall ? a.event.op - b.event.op : a.event.isCall ? -1 : 1))
  const head: Event = { op: -1, isCall: false, match: null, prev: null, next: null }
  let last = head
  for (const { event } of timed) {
    last.next = event
    event.prev = last
    last = event
  }
  return head
}

/** Removes a call and its return from the list; their own links are kept for unlift. */
function lift (call: Event): void {
  call.prev!.next = call.next
  if (call.next !== null) call.next.prev = call.prev
  const ret = call.match
  if (ret !== null) {
    ret.prev!.next = ret.next
    if (ret.next !== null) ret.next.prev = ret.prev
  }
}

/** Undoes lift(call); lifts must be undone in reverse order. */
function unlift (call: Event): void {
  const ret = call.match
  if (ret !== null) {
    ret.prev!.next = ret
    if (ret.next !== null) ret.next.prev = ret
  }
  call.prev!.next = call
  if (call.next !== null) call.next.prev = call
}

function searchLinearization<S, I, O> (
  model: Model<S, I, O>,
  hooks: ModelHooks<S, I, O>,
  ops: ReadonlyArray<Operation<I, O>>,
  budget: Budget
): SearchOutcome<S> {
  const unknown = ops.map((op) => isUnknownOutcome(op))
  const knownCount = unknown.reduce((n, u) => u ? n : n + 1, 0)
  if (knownCount === 0) return { outcome: 'ok', steps: 0, cacheEntries: 0 }
  const head = buildEvents(ops)
  const memo = new LinearizationMemo<S>(ops.length, hooks.equal, budget.maxCacheEntries)
  const calls: Event[] = []
  const states: S[] = []
  let state = model.init()
  let linearizedKnown = 0
  let steps = 0
  let bestPrefix: number[] = []
  let bestDepth = -1
  let bestBlocking = -1
  let bestState = state
  let entry = head.next

  for (;;) {
    if ((++steps & (STEPS_PER_BUDGET_CHECK - 1)) === 0 && budget.clock.now() >= budget.deadline) {
      return { outcome: 'timeout', steps, cacheEntries: memo.size }
    }
    if (entry !== null && entry.isCall) {
      const op = ops[entry.op]!
      const isUnknown = unknown[entry.op]
      const next = model.step(state, op.input, isUnknown ? UNKNOWN : op.output as O)
      // Placing an unknown-outcome operation that changes nothing is never needed: leaving
      // it out ("it never happened") leads to the same states.
      if (next.ok && !(isUnknown && hooks.equal(next.state, state))) {
        memo.toggle(entry.op)
        if (memo.visit(next.state, hooks.hash(next.state))) {
          calls.push(entry)
          states.push(state)
          state = next.state
          lift(entry)
          if (!isUnknown && ++linearizedKnown === knownCount) return { outcome: 'ok', steps, cacheEntries: memo.size }
          entry = head.next
          continue
        }
        memo.toggle(entry.op)
      }
      entry = entry.next
      continue
    }
    // A return whose call is not linearized (or the list's end): nothing fits here.
    if (calls.length > bestDepth) {
      bestDepth = calls.length
      bestPrefix = calls.map((c) => c.op)
      bestBlocking = entry === null ? -1 : entry.op
      bestState = state
    }
    const call = calls.pop()
    if (call === undefined) {
      return { outcome: 'illegal', steps, cacheEntries: memo.size, prefix: bestPrefix, blocking: bestBlocking, state: bestState }
    }
    state = states.pop() as S
    memo.toggle(call.op)
    if (!unknown[call.op]) linearizedKnown--
    unlift(call)
    entry = call.next
  }
}

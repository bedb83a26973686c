/**
 * The search for one sub-history, as a resumable object: `run(steps)` advances it by at most
 * that many steps and says whether it finished. The checker interleaves the searches of all
 * sub-histories in slices (see linearizability-schedule.ts), in this thread or in workers.
 *
 * The algorithm is Wing & Gong's with Lowe's memoization, as in Porcupine: operations are
 * call/return events in a doubly linked list ordered by time; the search linearizes a call
 * that comes before the first return in the list (a minimal operation), lifts it and its
 * return out of the list, and backtracks when it reaches a return whose call it could not
 * linearize. (linearized set, state) pairs already explored are not explored again.
 *
 * Unknown outcomes have no return event (it is at +infinity): they may be linearized at any
 * point after their invoke, with any output, or never. The search succeeds once every
 * operation with a known outcome is linearized.
 */
import { isUnknownOutcome } from './history.js'
import type { Operation } from './history.js'
import { UNKNOWN } from './model.js'
import type { Model } from './model.js'
import { LinearizationMemo } from './linearization-memo.js'

/** What the search needs from a model beyond init and step, with defaults filled in. */
export interface SearchHooks<State> {
  readonly hash: (state: State) => number
  readonly equal: (a: State, b: State) => boolean
}

export type SearchStatus = 'running' | 'ok' | 'illegal'

/** A call or return event in the search's doubly linked list. */
interface Event {
  readonly op: number
  readonly isCall: boolean
  /** A call's return event (null for an unknown outcome); a return's own call. */
  match: Event | null
  prev: Event | null
  next: Event | null
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

/** A search's status before its first step: nothing with a known outcome is ok at once. */
export function initialStatus (ops: ReadonlyArray<Operation<unknown, unknown>>): SearchStatus {
  return ops.some((op) => !isUnknownOutcome(op)) ? 'running' : 'ok'
}

export class LinearizationSearch<S, I, O> {
  readonly #model: Model<S, I, O>
  readonly #hooks: SearchHooks<S>
  readonly #ops: ReadonlyArray<Operation<I, O>>
  readonly #unknown: boolean[]
  readonly #knownCount: number
  readonly #head: Event
  readonly #memo: LinearizationMemo<S>
  readonly #calls: Event[] = []
  readonly #states: S[] = []
  #state: S
  #entry: Event | null
  #linearizedKnown = 0
  #status: SearchStatus = 'running'
  #steps = 0
  #bestDepth = -1
  #bestPrefix: number[] = []
  #bestBlocking = -1
  #bestState: S

  constructor (model: Model<S, I, O>, hooks: SearchHooks<S>, ops: ReadonlyArray<Operation<I, O>>, maxCacheEntries: number) {
    this.#model = model
    this.#hooks = hooks
    this.#ops = ops
    this.#unknown = ops.map((op) => isUnknownOutcome(op))
    this.#knownCount = this.#unknown.reduce((n, u) => u ? n : n + 1, 0)
    this.#head = buildEvents(ops)
    this.#memo = new LinearizationMemo<S>(ops.length, hooks.equal, maxCacheEntries)
    this.#state = this.#bestState = model.init()
    this.#entry = this.#head.next
    this.#status = initialStatus(ops)
  }

  get status (): SearchStatus { return this.#status }
  /** Steps (operations tried or backtracked) taken so far. */
  get steps (): number { return this.#steps }
  get cacheEntries (): number { return this.#memo.size }
  get operations (): number { return this.#ops.length }

  /** When illegal: the longest linearizable prefix found (operation indices, in order). */
  get prefix (): readonly number[] { return this.#bestPrefix }
  /** When illegal: the operation that could not be placed after the prefix, or -1. */
  get blocking (): number { return this.#bestBlocking }
  /** When illegal: the model state after the prefix. */
  get stateAfterPrefix (): S { return this.#bestState }

  /** Advances the search by at most `budget` steps; returns the steps it took. */
  run (budget: number): number {
    const startSteps = this.#steps
    const limit = startSteps + budget
    while (this.#status === 'running' && this.#steps < limit) {
      this.#steps++
      this.#step()
    }
    return this.#steps - startSteps
  }

  #step (): void {
    const entry = this.#entry
    const memo = this.#memo
    if (entry !== null && entry.isCall) {
      const op = this.#ops[entry.op]!
      const isUnknown = this.#unknown[entry.op]!
      const next = this.#model.step(this.#state, op.input, isUnknown ? UNKNOWN : op.output as O)
      // Placing an unknown-outcome operation that changes nothing is never needed: leaving
      // it out ("it never happened") leads to the same states.
      if (next.ok && !(isUnknown && this.#hooks.equal(next.state, this.#state))) {
        memo.toggle(entry.op)
        if (memo.visit(next.state, this.#hooks.hash(next.state))) {
          this.#calls.push(entry)
          this.#states.push(this.#state)
          this.#state = next.state
          lift(entry)
          if (!isUnknown && ++this.#linearizedKnown === this.#knownCount) this.#status = 'ok'
          this.#entry = this.#head.next
          return
        }
        memo.toggle(entry.op)
      }
      this.#entry = entry.next
      return
    }
    // A return whose call is not linearized (or the list's end): nothing fits here.
    if (this.#calls.length > this.#bestDepth) {
      this.#bestDepth = this.#calls.length
      this.#bestPrefix = this.#calls.map((c) => c.op)
      this.#bestBlocking = entry === null ? -1 : entry.op
      this.#bestState = this.#state
    }
    const call = this.#calls.pop()
    if (call === undefined) {
      this.#status = 'illegal'
      return
    }
    this.#state = this.#states.pop() as S
    memo.toggle(call.op)
    if (!this.#unknown[call.op]) this.#linearizedKnown--
    unlift(call)
    this.#entry = call.next
  }
}

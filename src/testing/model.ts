/**
 * A sequential specification of the system under test, for the linearizability checker:
 * which outputs an operation may produce from a state, and the state it leaves behind.
 */
import type { Operation } from './history.js'

/** Passed as the output of an operation whose outcome is unknown: any output is acceptable. */
export const UNKNOWN: unique symbol = Symbol('quorate.unknownOutput')
export type Unknown = typeof UNKNOWN

export type StepResult<State> =
  | { readonly ok: true, readonly state: State }
  | { readonly ok: false }

/** The result a model's step returns when the output is impossible from the state. */
export const REJECT: StepResult<never> = Object.freeze({ ok: false })

export interface Model<State, Input, Output> {
  /** The state before any operation. */
  init: () => State
  /**
   * Applies `input` to `state`. Returns `{ ok: false }` if `output` cannot be produced from
   * `state`; `output === UNKNOWN` means any output is acceptable. Must not mutate `state`:
   * the checker keeps earlier states to backtrack to.
   */
  step: (state: State, input: Input, output: Output | Unknown) => StepResult<State>
  /**
   * Splits a history into independent sub-histories (for example one per key). A history is
   * linearizable iff every sub-history is (P-compositionality), and checking them apart is
   * exponentially cheaper. Every operation must land in exactly one sub-history.
   */
  partition?: (history: ReadonlyArray<Operation<Input, Output>>) => ReadonlyMap<string, ReadonlyArray<Operation<Input, Output>>>
  /**
   * Removes unknown-outcome operations that provably cannot matter, to spare the search
   * (each unknown operation may be placed anywhere after its invoke, or nowhere). Only
   * unknown-outcome operations may be removed, and only when every linearization of the
   * history can be turned into one without them. Called on each sub-history.
   */
  prune?: (history: ReadonlyArray<Operation<Input, Output>>) => ReadonlyArray<Operation<Input, Output>>
  /**
   * Vets one operation before the search (say, that a completed operation has an output of
   * the right shape): returns why it is malformed, or undefined. The checker then throws
   * CHECKER_HISTORY_INVALID naming the operation, instead of letting `step` fail on it.
   */
  validateOperation?: (op: Operation<Input, Output>) => string | undefined
  /** State equality for memoization. @default equal `hash` values */
  equal?: (a: State, b: State) => boolean
  /** A hash of the state (equal states must hash equally). @default JSON of the state (Maps as sorted entries) */
  hash?: (state: State) => number | string
  /** Renders an operation for explanations. @default JSON */
  describeOperation?: (input: Input, output: Output | Unknown) => string
  /** Renders a state for explanations. @default JSON */
  describeState?: (state: State) => string
}

/** JSON with Maps as sorted entry lists, undefined as null and UNKNOWN as "?". */
export function stableStringify (value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === UNKNOWN) return '?'
    if (v === undefined) return null
    if (v instanceof Map) return [...v.entries()].sort((a, b) => compareKeys(a[0], b[0]))
    if (v instanceof Set) return [...v].sort(compareKeys)
    return v
  }) ?? 'undefined'
}

function compareKeys (a: unknown, b: unknown): number {
  const x = String(a)
  const y = String(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** Default operation rendering: `input -> output`. */
export function describeOperationDefault (input: unknown, output: unknown): string {
  return `${stableStringify(input)} -> ${output === UNKNOWN ? '? (unknown outcome)' : stableStringify(output)}`
}

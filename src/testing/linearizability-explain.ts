/**
 * Renders an illegal history's counterexample: the longest linearizable prefix the search
 * found, the state it leads to, and why nothing could come after it. Meant to be read by
 * someone debugging a failed simulation, so it favours the last few steps over completeness.
 */
import { isUnknownOutcome } from './history.js'
import type { Operation } from './history.js'
import { UNKNOWN } from './model.js'
import type { Model } from './model.js'
import type { ModelHooks } from './linearizability-plan.js'

/** Prefix operations shown before "N earlier operations" is printed instead. */
const PREFIX_LINES = 20
/** Candidate operations shown for the failed position. */
const CANDIDATE_LINES = 20

export interface IllegalFacts<S, I, O> {
  readonly model: Model<S, I, O>
  readonly hooks: ModelHooks<S, I, O>
  readonly key: string | undefined
  readonly operations: ReadonlyArray<Operation<I, O>>
  readonly prefix: ReadonlyArray<Operation<I, O>>
  readonly failed: Operation<I, O> | undefined
  /** The model state after the prefix. */
  readonly state: S
  /** The number shown for an operation: its id, else its index in the history. */
  readonly label: (op: Operation<I, O>) => number
}

export function explainIllegal<S, I, O> (facts: IllegalFacts<S, I, O>): string {
  const { hooks, prefix, failed, operations, state } = facts
  const show = (op: Operation<I, O>): string => {
    const output = isUnknownOutcome(op) ? UNKNOWN : op.output as O
    const ret = isUnknownOutcome(op) ? '∞' : String(op.return)
    return `#${facts.label(op)} client ${String(op.clientId)} [${op.invoke}, ${ret}] ${hooks.describeOperation(op.input, output)}`
  }
  const lines: string[] = [
    `Not linearizable${facts.key === undefined ? '' : ` (key ${JSON.stringify(facts.key)})`}: ` +
      'no order of the operations respects real time and the model.'
  ]
  lines.push(`Longest linearizable prefix found: ${prefix.length} of ${operations.length} operations` +
    (prefix.length === 0 ? '.' : ':'))
  if (prefix.length > PREFIX_LINES) lines.push(`  ... ${prefix.length - PREFIX_LINES} earlier operations`)
  for (const op of prefix.slice(-PREFIX_LINES)) lines.push(`  ${show(op)}`)
  lines.push(`State after it: ${hooks.describeState(state)}`)

  const placed = new Set(prefix)
  const deadline = failed === undefined || isUnknownOutcome(failed) ? Infinity : failed.return as number
  const candidates = operations.filter((op) => !placed.has(op) && op.invoke <= deadline)
  if (failed !== undefined) {
    lines.push(`Cannot place ${show(failed)}.`)
    lines.push(`It returned at ${String(failed.return)}, so it or one of these operations (invoked by then) had to come next:`)
  } else {
    lines.push('None of the remaining operations can come next:')
  }
  for (const op of candidates.slice(0, CANDIDATE_LINES)) {
    const step = facts.model.step(state, op.input, isUnknownOutcome(op) ? UNKNOWN : op.output as O)
    const why = !step.ok
      ? 'the model rejects it in this state'
      : isUnknownOutcome(op) && hooks.equal(step.state, state)
        ? 'unknown outcome, would change nothing'
        : `fits (state becomes ${hooks.describeState(step.state)}), but nothing works after it`
    lines.push(`  ${show(op)}: ${why}`)
  }
  if (candidates.length > CANDIDATE_LINES) lines.push(`  ... ${candidates.length - CANDIDATE_LINES} more`)
  return lines.join('\n')
}

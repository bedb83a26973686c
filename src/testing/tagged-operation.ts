/**
 * Shape checks for the built-in models, whose inputs and outputs are objects tagged with an
 * `op` string: what model.validateOperation reports for a malformed operation.
 */
import { isUnknownOutcome } from './history.js'
import type { Operation } from './history.js'

/** Why `op` is not a well-formed operation of a model whose input ops are `ops`, or undefined. */
export function taggedOperationProblem (op: Operation<unknown, unknown>, model: string, ops: ReadonlySet<string>): string | undefined {
  const input = op.input as { op?: unknown } | null
  if (input === null || typeof input !== 'object' || !ops.has(input.op as string)) {
    return `a ${model} input must be an object with op ${[...ops].join(' | ')}`
  }
  if (isUnknownOutcome(op)) return undefined
  const output = op.output as { op?: unknown } | null | undefined
  if (output === null || typeof output !== 'object' || typeof output.op !== 'string') {
    return `a completed ${String(input.op)} needs an output { op: ... } (got ${String(output)}); record an unknown outcome with return: null`
  }
  return undefined
}

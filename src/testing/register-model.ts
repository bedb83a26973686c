/**
 * A single read/write register with compare-and-set: the smallest useful model, for
 * checking a system that stores one value.
 */
import { REJECT, UNKNOWN } from './model.js'
import type { Model, StepResult, Unknown } from './model.js'
import { taggedOperationProblem } from './tagged-operation.js'
import type { Operation } from './history.js'

export type RegisterValue = string | number | boolean | null

export type RegisterInput =
  | { readonly op: 'read' }
  | { readonly op: 'write', readonly value: RegisterValue }
  | { readonly op: 'cas', readonly expected: RegisterValue, readonly value: RegisterValue }

export type RegisterOutput =
  | { readonly op: 'read', readonly value: RegisterValue }
  | { readonly op: 'write' }
  | { readonly op: 'cas', readonly ok: boolean }

function step (state: RegisterValue, input: RegisterInput, output: RegisterOutput | Unknown): StepResult<RegisterValue> {
  const known = output !== UNKNOWN
  if (known && output.op !== input.op) return REJECT
  switch (input.op) {
    case 'read':
      return !known || (output as { value: RegisterValue }).value === state ? { ok: true, state } : REJECT
    case 'write':
      return { ok: true, state: input.value }
    case 'cas': {
      const swapped = state === input.expected
      if (known && (output as { ok: boolean }).ok !== swapped) return REJECT
      return { ok: true, state: swapped ? input.value : state }
    }
  }
}

const REGISTER_OPS: ReadonlySet<string> = new Set(['read', 'write', 'cas'])

const validateOperation = (op: Operation<RegisterInput, RegisterOutput>): string | undefined =>
  taggedOperationProblem(op, 'register', REGISTER_OPS)

const render = (v: RegisterValue): string => JSON.stringify(v)

function describeOperation (input: RegisterInput, output: RegisterOutput | Unknown): string {
  const call = input.op === 'read'
    ? 'read()'
    : input.op === 'write' ? `write(${render(input.value)})` : `cas(${render(input.expected)} => ${render(input.value)})`
  if (output === UNKNOWN) return `${call} -> ? (unknown outcome)`
  switch (output.op) {
    case 'read': return `${call} -> ${render(output.value)}`
    case 'write': return `${call} -> ok`
    case 'cas': return `${call} -> ${output.ok ? 'ok' : 'failed'}`
  }
}

/** A register holding `initial` (default null) before the first write. */
export function registerModel (initial: RegisterValue = null): Model<RegisterValue, RegisterInput, RegisterOutput> {
  return {
    init: () => initial,
    step,
    validateOperation,
    equal: (a, b) => a === b,
    hash: (v) => `${typeof v}:${String(v)}`,
    describeOperation,
    describeState: render
  }
}

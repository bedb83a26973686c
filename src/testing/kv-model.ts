/**
 * The sequential key-value model the linearizability checker uses (`kvModel`). Its
 * semantics live in `src/kv/semantics.ts`, shared with the replicated `KvStateMachine`, so
 * what the state machine returns can be recorded into a history unchanged.
 */
import { REJECT, UNKNOWN } from './model.js'
import type { Model, StepResult, Unknown } from './model.js'
import { isUnknownOutcome } from './history.js'
import type { Operation } from './history.js'
import { taggedOperationProblem } from './tagged-operation.js'
import { kvOutputsEqual, kvTransition } from '../kv/semantics.js'
import type { KvInput, KvOutput, KvState } from '../kv/semantics.js'

export { kvOutputsEqual, kvTransition }
export type { KvInput, KvOutput, KvState }
export type { KvTransition } from '../kv/semantics.js'

function step (state: KvState, input: KvInput, output: KvOutput | Unknown): StepResult<KvState> {
  const current = state.get(input.key) ?? null
  const t = kvTransition(current, input)
  if (output !== UNKNOWN && !kvOutputsEqual(t.output, output)) return REJECT
  if (t.value === current) return { ok: true, state }
  const next = new Map(state)
  if (t.value === null) next.delete(input.key)
  else next.set(input.key, t.value)
  return { ok: true, state: next }
}

function partitionByKey (history: ReadonlyArray<Operation<KvInput, KvOutput>>): Map<string, Array<Operation<KvInput, KvOutput>>> {
  const byKey = new Map<string, Array<Operation<KvInput, KvOutput>>>()
  for (const op of history) {
    let list = byKey.get(op.input.key)
    if (list === undefined) byKey.set(op.input.key, list = [])
    list.push(op)
  }
  return byKey
}

/** What the known operations on one key reveal about the values it held. */
interface KeyObservations {
  /** Values returned by known gets and appends, and every cas's non-null `expected`. */
  readonly seen: string[]
  /** Latest return of a known cas that failed: it observed "the value was not `expected`". */
  lastFailedCas: number
}

function isObservedWrite (written: string, invoke: number, obs: KeyObservations): boolean {
  return written === '' || obs.lastFailedCas >= invoke || obs.seen.some((v) => v.includes(written))
}

/**
 * Drops unknown-outcome gets (they change nothing) and unknown-outcome writes that no known
 * operation could have observed. A write of `w` (put/cas value, append suffix) is dropped
 * when no known get or append output and no cas `expected` contains `w`, and no known cas
 * that could come after it failed. Why that is sound: take a linearization that includes the
 * write and remove the write. Until the next put or successful cas, the key's value differs
 * (it contained `w` before), but by those conditions no known operation is placed there: a
 * get or append would output `w`, a successful cas would expect it, a failed cas is excluded.
 * Unknown operations placed there have no output to match; an unknown cas that now would
 * succeed had failed, so it is left out too. From the next overwrite on, values agree.
 */
function pruneUnobservedWrites (history: ReadonlyArray<Operation<KvInput, KvOutput>>): Array<Operation<KvInput, KvOutput>> {
  const byKey = new Map<string, KeyObservations>()
  for (const op of history) {
    let obs = byKey.get(op.input.key)
    if (obs === undefined) byKey.set(op.input.key, obs = { seen: [], lastFailedCas: -Infinity })
    if (op.input.op === 'cas' && op.input.expected !== null) obs.seen.push(op.input.expected)
    if (isUnknownOutcome(op) || op.output === undefined) continue
    const out = op.output
    if ((out.op === 'get' || out.op === 'append') && out.value !== null) obs.seen.push(out.value)
    if (out.op === 'cas' && !out.ok) obs.lastFailedCas = Math.max(obs.lastFailedCas, op.return as number)
  }
  return history.filter((op) => {
    if (!isUnknownOutcome(op)) return true
    const input = op.input
    if (input.op === 'get') return false
    return isObservedWrite(input.value, op.invoke, byKey.get(input.key) as KeyObservations)
  })
}

function sortedEntries (state: KvState): Array<[string, string]> {
  return [...state.entries()].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
}

function hashState (state: KvState): string {
  // Partitioned histories have one key, so this is almost always the single-entry case.
  if (state.size === 0) return ''
  if (state.size === 1) {
    for (const [k, v] of state) return `${k}\u0000${v}`
  }
  return sortedEntries(state).map(([k, v]) => `${k}\u0000${v}`).join('\u0001')
}

function equalStates (a: KvState, b: KvState): boolean {
  if (a === b) return true
  if (a.size !== b.size) return false
  for (const [k, v] of a) if (b.get(k) !== v) return false
  return true
}

const quote = (s: string | null): string => s === null ? 'null' : JSON.stringify(s)

export function describeKvOperation (input: KvInput, output: KvOutput | Unknown): string {
  let call: string
  switch (input.op) {
    case 'get': call = `get(${quote(input.key)})`; break
    case 'put': call = `put(${quote(input.key)}, ${quote(input.value)})`; break
    case 'cas': call = `cas(${quote(input.key)}, ${quote(input.expected)} => ${quote(input.value)})`; break
    case 'append': call = `append(${quote(input.key)}, ${quote(input.value)})`; break
  }
  if (output === UNKNOWN) return `${call} -> ? (unknown outcome)`
  switch (output.op) {
    case 'get': case 'append': return `${call} -> ${quote(output.value)}`
    case 'put': return `${call} -> ok`
    case 'cas': return `${call} -> ${output.ok ? 'ok' : 'failed'}`
    case 'error': return `${call} -> error ${quote(output.message)}`
  }
}

function describeState (state: KvState): string {
  if (state.size === 0) return '{} (empty)'
  return `{ ${sortedEntries(state).map(([k, v]) => `${quote(k)}: ${quote(v)}`).join(', ')} }`
}

const KV_OPS: ReadonlySet<string> = new Set(['get', 'put', 'cas', 'append'])

/** A known op and a string key; a completed operation needs an output. */
function validateKvOperation (op: Operation<KvInput, KvOutput>): string | undefined {
  const problem = taggedOperationProblem(op, 'kv', KV_OPS)
  if (problem !== undefined) return problem
  return typeof op.input.key === 'string' ? undefined : `a kv input needs a string key (got ${String(op.input.key)})`
}

const EMPTY: KvState = new Map()

/** The sequential key-value store, partitioned per key. */
export const kvModel: Model<KvState, KvInput, KvOutput> = Object.freeze({
  init: () => EMPTY,
  step,
  partition: partitionByKey,
  prune: pruneUnobservedWrites,
  validateOperation: validateKvOperation,
  equal: equalStates,
  hash: hashState,
  describeOperation: describeKvOperation,
  describeState
})

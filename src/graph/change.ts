/**
 * Graph changes: the operations a transaction holds, how a change log built locally is
 * coalesced before it is sent, and how a transaction applies to a `GraphState` — all or
 * nothing, after its compare-and-set preconditions held.
 *
 * Semantics of one op (a failing op fails the whole transaction, which then changes nothing):
 * - put: creates the resource or replaces all its fields; GRAPH_KIND_MISMATCH if it exists
 *   with another kind. The keep mark and edges of an existing resource stay.
 * - update: merges fields (null clears an optional one); GRAPH_NOT_FOUND if missing.
 * - delete: removes the resource and its edges; nothing if it is missing.
 * - connect: adds an edge (nothing if present); an end whose cardinality is 'one' loses the
 *   edge it had. GRAPH_NOT_FOUND / GRAPH_RELATION_INVALID for a missing end or wrong kinds.
 * - disconnect: removes an edge if present.
 * - keep: sets the keep mark (a kept resource is a GC root).
 * - gc: see gc.ts.
 * Every resource whose fields, keep mark or edges changed gets version = the entry's index.
 *
 * Coalescing law (tested): for ops that passed schema validation, applying `coalesce(ops)`
 * to any state gives the same state, the same versions and the same failure-or-success as
 * applying `ops`.
 */
import { QuorateError } from '../errors.js'
import { relationBetween, validateFields } from './schema.js'
import type { FieldValue, Schema } from './schema.js'
import { GraphState, Undo } from './state.js'
import { planGc, reachable } from './gc.js'

export type GraphOp =
  | { readonly op: 'put', readonly id: string, readonly kind: string, readonly fields: Readonly<Record<string, FieldValue>> }
  | { readonly op: 'update', readonly id: string, readonly fields: Readonly<Record<string, FieldValue | null>> }
  | { readonly op: 'delete', readonly id: string }
  | { readonly op: 'connect', readonly relation: string, readonly from: string, readonly to: string }
  | { readonly op: 'disconnect', readonly relation: string, readonly from: string, readonly to: string }
  | { readonly op: 'keep', readonly id: string, readonly keep: boolean }
  /** ids null: collect everything unreachable at this point of the transaction. */
  | { readonly op: 'gc', readonly ids: readonly string[] | null }

/** A compare-and-set precondition: the resource's version (0: the resource must not exist). */
export interface Expectation { readonly id: string, readonly version: number }

/** The graph part of a transaction's outcome. */
export interface AppliedChange {
  /** Resources whose version became the entry's index, sorted. */
  readonly touched: readonly string[]
  /** Resources removed (delete or gc), sorted. */
  readonly removed: readonly string[]
}

/** Throws GRAPH_CONFLICT (err.info.conflicts: id, expected, actual) unless every expectation holds. */
export function checkExpectations (state: GraphState, expect: readonly Expectation[]): void {
  const conflicts = []
  for (const e of expect) {
    const actual = state.get(e.id)?.version ?? 0
    if (actual !== e.version) conflicts.push({ id: e.id, expected: e.version, actual })
  }
  if (conflicts.length > 0) {
    const shown = conflicts.map((c) => `${c.id} is at version ${c.actual}, expected ${c.expected}`).join('; ')
    throw new QuorateError('GRAPH_CONFLICT', `Compare-and-set failed: ${shown}`, { details: { conflicts } })
  }
}

function notFound (id: string, op: string): QuorateError {
  return new QuorateError('GRAPH_NOT_FOUND', `${op}: no resource ${JSON.stringify(id)}`, { details: { id } })
}

/** Checks an op against the schema alone (no state); throws the GRAPH_* error a replica would. */
export function validateOp (schema: Schema, op: GraphOp): void {
  if (op.op === 'put') validateFields(schema, op.kind, op.fields, false)
  else if ((op.op === 'connect' || op.op === 'disconnect') && !schema.relations.has(op.relation)) {
    throw new QuorateError('GRAPH_RELATION_INVALID', `Unknown relation ${JSON.stringify(op.relation)}`, { details: { relation: op.relation } })
  }
}

/** Applies ops to `state` at log `index`, all or nothing (rolled back, then rethrown, on the first failure). */
export function applyOps (state: GraphState, schema: Schema, ops: readonly GraphOp[], index: number): AppliedChange {
  const undo = new Undo()
  const touched = new Set<string>()
  const removed = new Set<string>()
  const created = new Set<string>()
  const touch = (id: string): void => { state.touch(id, index, undo); touched.add(id) }
  const drop = (id: string): void => {
    for (const other of state.remove(id, undo)) touch(other)
    touched.delete(id)
    removed.add(id)
  }
  try {
    for (const op of ops) {
      switch (op.op) {
        case 'put': {
          const old = state.get(op.id)
          validateFields(schema, op.kind, op.fields, false)
          if (old !== undefined && old.kind !== op.kind) {
            throw new QuorateError('GRAPH_KIND_MISMATCH', `put: ${op.id} is a ${old.kind}, not a ${op.kind}`, { details: { id: op.id, kind: old.kind } })
          }
          if (old === undefined) created.add(op.id)
          state.put(op.id, op.kind, op.fields as Record<string, FieldValue>, index, undo)
          touched.add(op.id)
          removed.delete(op.id)
          break
        }
        case 'update': {
          const r = state.get(op.id) ?? (() => { throw notFound(op.id, 'update') })()
          validateFields(schema, r.kind, op.fields, true)
          state.update(op.id, op.fields, index, undo)
          touched.add(op.id)
          break
        }
        case 'delete':
          if (state.has(op.id)) drop(op.id)
          break
        case 'connect': connect(state, schema, op, touch, undo); break
        case 'disconnect':
          validateOp(schema, op)
          if (state.hasEdge(op.relation, op.from, op.to)) {
            state.removeEdge(op.relation, op.from, op.to, undo)
            touch(op.from); touch(op.to)
          }
          break
        case 'keep':
          if (!state.has(op.id)) throw notFound(op.id, 'keep')
          state.setKeep(op.id, op.keep, index, undo)
          touched.add(op.id)
          break
        case 'gc': for (const id of gcTargets(state, schema, op.ids, created)) drop(id); break
      }
    }
  } catch (err) {
    undo.rollback()
    throw err
  }
  return { touched: [...touched].sort(), removed: [...removed].sort() }
}

function connect (state: GraphState, schema: Schema, op: Extract<GraphOp, { op: 'connect' }>, touch: (id: string) => void, undo: Undo): void {
  const from = state.get(op.from) ?? (() => { throw notFound(op.from, 'connect') })()
  const to = state.get(op.to) ?? (() => { throw notFound(op.to, 'connect') })()
  const spec = relationBetween(schema, op.relation, from.kind, to.kind)
  if (state.hasEdge(op.relation, op.from, op.to)) return
  // An at-most-one end is reconnected, not refused: the old edge goes (Halon's rule).
  if (spec.outgoing === 'one') {
    for (const old of [...state.neighbours(op.from, op.relation, 'out')]) { state.removeEdge(op.relation, op.from, old, undo); touch(old) }
  }
  if (spec.incoming === 'one') {
    for (const old of [...state.neighbours(op.to, op.relation, 'in')]) { state.removeEdge(op.relation, old, op.to, undo); touch(old) }
  }
  state.addEdge(op.relation, op.from, op.to, undo)
  touch(op.from); touch(op.to)
}

function gcTargets (state: GraphState, schema: Schema, ids: readonly string[] | null, created: ReadonlySet<string>): string[] {
  if (ids === null) return planGc(state, schema, created)
  const live = reachable(state, schema)
  const out: string[] = []
  for (const id of ids) {
    if (!state.has(id)) continue
    if (live.has(id) || created.has(id)) {
      const why = created.has(id) ? 'was created in this transaction' : 'is reachable from a root or kept'
      throw new QuorateError('GRAPH_GC_REACHABLE', `gc: ${id} ${why}; it is not collected`, { details: { id } })
    }
    out.push(id)
  }
  return out
}

function mergePatch (base: Readonly<Record<string, FieldValue | null>>, patch: Readonly<Record<string, FieldValue | null>>): Record<string, FieldValue | null> {
  return { ...base, ...patch }
}

function patchFields (fields: Readonly<Record<string, FieldValue>>, patch: Readonly<Record<string, FieldValue | null>>): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = { ...fields }
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = v
  }
  return out
}

function sameEdgeOp (a: GraphOp | undefined, b: GraphOp): boolean {
  return a !== undefined && a.op === b.op && (b.op === 'connect' || b.op === 'disconnect') &&
    (a as typeof b).relation === b.relation && (a as typeof b).from === b.from && (a as typeof b).to === b.to
}

/**
 * Coalesces a change log: a later update folds into the resource's earlier put or update, a
 * later put of the same kind replaces an earlier put, a later keep replaces an earlier keep,
 * and an edge op repeating the op just before it is dropped. A fold only crosses ops that
 * cannot observe the difference: a put, delete or gc of the same resource (or any gc, which
 * reads keep marks and reachability) ends the window. Why sound: updates and keep marks are
 * read by no op but gc, and an update or keep after a successful put/update of the same
 * resource always succeeds, so moving it earlier changes neither state nor outcome.
 */
export function coalesce (ops: readonly GraphOp[]): GraphOp[] {
  const out: GraphOp[] = []
  const lastFields = new Map<string, number>()
  const lastKeep = new Map<string, number>()
  for (const op of ops) {
    switch (op.op) {
      case 'update': {
        const at = lastFields.get(op.id)
        const target = at === undefined ? undefined : out[at]
        if (target?.op === 'put') { out[at!] = { ...target, fields: patchFields(target.fields, op.fields) }; continue }
        if (target?.op === 'update') { out[at!] = { ...target, fields: mergePatch(target.fields, op.fields) }; continue }
        lastFields.set(op.id, out.push(op) - 1)
        continue
      }
      case 'put': {
        const at = lastFields.get(op.id)
        const target = at === undefined ? undefined : out[at]
        if (target?.op === 'put' && target.kind === op.kind) { out[at!] = op; continue }
        lastKeep.delete(op.id)
        lastFields.set(op.id, out.push(op) - 1)
        continue
      }
      case 'keep': {
        const at = lastKeep.get(op.id)
        if (at !== undefined) { out[at] = op; continue }
        lastKeep.set(op.id, out.push(op) - 1)
        continue
      }
      case 'delete':
        lastFields.delete(op.id)
        lastKeep.delete(op.id)
        out.push(op)
        continue
      case 'gc':
        lastFields.clear()
        lastKeep.clear()
        out.push(op)
        continue
      case 'connect':
      case 'disconnect':
        if (!sameEdgeOp(out[out.length - 1], op)) out.push(op)
    }
  }
  return out
}

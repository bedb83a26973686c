/**
 * Reachability GC, explicit (Halon's GC silently dropped whatever was not connected to a
 * root; this one never removes anything on its own). The roots are every resource of a kind
 * the schema declares in `roots`, and every resource marked keep. A resource is reachable if
 * an edge path, followed in either direction, joins it to a root. `planGc` reports what a
 * collection would remove; a transaction's `gc` op removes what it is given (or, with no
 * list, what `planGc` reports at that point), never a resource created earlier in the same
 * transaction and never a kept one.
 */
import type { Schema } from './schema.js'
import type { GraphState } from './state.js'

/** Ids reachable from the roots (root kinds and kept resources), following edges both ways. */
export function reachable (state: GraphState, schema: Schema): Set<string> {
  const seen = new Set<string>()
  const stack: string[] = []
  const visit = (id: string): void => { if (!seen.has(id)) { seen.add(id); stack.push(id) } }
  for (const kind of schema.rootKinds) for (const id of state.idsOfKind(kind)) visit(id)
  for (const r of state.resources()) if (r.keep) visit(r.id)
  while (stack.length > 0) {
    const id = stack.pop()!
    for (const direction of ['out', 'in'] as const) {
      for (const others of state.adjacent(id, direction).values()) for (const other of others) visit(other)
    }
  }
  return seen
}

/**
 * What a collection would remove now: every unreachable resource except those in `protect`
 * (the ones created in the transaction running it), sorted so replicas and callers agree.
 */
export function planGc (state: GraphState, schema: Schema, protect: ReadonlySet<string> = new Set()): string[] {
  const live = reachable(state, schema)
  const out: string[] = []
  for (const r of state.resources()) if (!live.has(r.id) && !protect.has(r.id)) out.push(r.id)
  return out.sort()
}

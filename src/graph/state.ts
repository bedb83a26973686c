/**
 * The graph's replicated state, pure and deterministic: resources (kind, fields, version, keep
 * mark) and typed edges indexed from both ends, so every edge is readable from either end in
 * O(1). No clocks, no randomness; every mutation records its inverse in an `Undo` so a
 * transaction that fails halfway leaves the state exactly as it was (all or nothing).
 *
 * Invariants (checked by `checkInvariants`, used by the tests):
 * - an edge (r, a, b) is in `out(a)[r]` iff it is in `in(b)[r]`, and both ends exist;
 * - an end whose relation cardinality is 'one' has at most one edge of that relation;
 * - `byKind(k)` holds exactly the ids of the resources of kind k;
 * - a resource's version is the log index of the last entry that changed it or its edges.
 */
import type { FieldValue, Schema } from './schema.js'
import { GraphSnapshotView, stampSeq } from './point-in-time.js'

export interface Resource {
  readonly id: string
  readonly kind: string
  /** Index of the last entry that changed the resource's fields, keep mark or edges. */
  version: number
  fields: Record<string, FieldValue>
  keep: boolean
}

export interface Edge { readonly relation: string, readonly from: string, readonly to: string }

type Adjacency = Map<string, Map<string, Set<string>>>

/** Inverse actions of the mutations made so far, run newest first by `rollback()`. */
export class Undo {
  readonly #steps: Array<() => void> = []
  push (step: () => void): void { this.#steps.push(step) }
  rollback (): void {
    for (let i = this.#steps.length - 1; i >= 0; i--) this.#steps[i]!()
    this.#steps.length = 0
  }
}

const EMPTY: ReadonlySet<string> = new Set()

function addAdj (adj: Adjacency, a: string, relation: string, b: string): void {
  let byRel = adj.get(a)
  if (byRel === undefined) adj.set(a, byRel = new Map())
  let set = byRel.get(relation)
  if (set === undefined) byRel.set(relation, set = new Set())
  set.add(b)
}

function removeAdj (adj: Adjacency, a: string, relation: string, b: string): void {
  const byRel = adj.get(a)
  const set = byRel?.get(relation)
  if (set === undefined) return
  set.delete(b)
  if (set.size === 0) byRel!.delete(relation)
  if (byRel!.size === 0) adj.delete(a)
}

/** A field value as an index key: the type keeps 1 and '1' apart. */
function valueKey (v: FieldValue): string { return `${typeof v}:${String(v)}` }

function addTo (byValue: Map<string, Set<string>>, key: string, id: string): void {
  let ids = byValue.get(key)
  if (ids === undefined) byValue.set(key, ids = new Set())
  ids.add(id)
}

export class GraphState {
  readonly #resources = new Map<string, Resource>()
  readonly #out: Adjacency = new Map()
  readonly #in: Adjacency = new Map()
  readonly #byKind = new Map<string, Set<string>>()
  /**
   * Equality indexes on fields, built the first time a (kind, field) is queried and kept up
   * to date from then on: kind -> field -> value key -> ids. Derived state, never replicated;
   * every change of a resource's fields goes through #unindex / #index around it.
   */
  readonly #fieldIndexes = new Map<string, Map<string, Map<string, Set<string>>>>()
  #edges = 0
  /** The last creation sequence number given (point-in-time.ts: Map order is this order). */
  #seq = 0
  /** Open snapshot views, told before a resource they may still read changes. */
  readonly #views = new Set<GraphSnapshotView>()

  get size (): number { return this.#resources.size }
  get edgeCount (): number { return this.#edges }

  get (id: string): Readonly<Resource> | undefined { return this.#resources.get(id) }
  has (id: string): boolean { return this.#resources.has(id) }
  /** Every resource, in insertion order. */
  resources (): IterableIterator<Readonly<Resource>> { return this.#resources.values() }
  idsOfKind (kind: string): ReadonlySet<string> { return this.#byKind.get(kind) ?? EMPTY }

  /** Ids of the resources of `kind` whose `field` equals `value`, from an index (built on first use). */
  idsWithField (kind: string, field: string, value: FieldValue): ReadonlySet<string> {
    let byField = this.#fieldIndexes.get(kind)
    if (byField === undefined) this.#fieldIndexes.set(kind, byField = new Map())
    let byValue = byField.get(field)
    if (byValue === undefined) {
      byField.set(field, byValue = new Map())
      for (const id of this.idsOfKind(kind)) {
        const v = this.#resources.get(id)!.fields[field]
        if (v !== undefined) addTo(byValue, valueKey(v), id)
      }
    }
    return byValue.get(valueKey(value)) ?? EMPTY
  }

  /** The ids at the other end of `id`'s edges of `relation`, leaving `id` ('out') or arriving ('in'). */
  neighbours (id: string, relation: string, direction: 'out' | 'in'): ReadonlySet<string> {
    return (direction === 'out' ? this.#out : this.#in).get(id)?.get(relation) ?? EMPTY
  }

  /** Relations with edges at `id` in `direction`, with the ids at their other ends. */
  adjacent (id: string, direction: 'out' | 'in'): ReadonlyMap<string, ReadonlySet<string>> {
    return (direction === 'out' ? this.#out : this.#in).get(id) ?? new Map()
  }

  hasEdge (relation: string, from: string, to: string): boolean { return this.neighbours(from, relation, 'out').has(to) }

  /** Every edge, each once (from its `from` end). */
  * edges (): IterableIterator<Edge> {
    for (const [from, byRel] of this.#out) {
      for (const [relation, tos] of byRel) for (const to of tos) yield { relation, from, to }
    }
  }

  /**
   * A view of every resource and edge as they are now, readable while later mutations go on
   * (copy-on-write, point-in-time.ts). Read it to its end or close() it: until then each
   * resource it has not read is copied before its first change.
   */
  openView (): GraphSnapshotView {
    const view = new GraphSnapshotView(this.#resources, this.#out, this.#seq, (v) => { this.#views.delete(v) })
    this.#views.add(view)
    return view
  }

  /** Snapshot views open now (for tests: each must be closed). */
  get openViews (): number { return this.#views.size }

  /** Tells open views that `r` is about to change (or go). */
  #preserve (r: Resource | undefined, removing = false): void {
    if (this.#views.size === 0 || r === undefined) return
    for (const v of this.#views) v.preserve(r, removing)
  }

  /** Stores `r` as a new Map entry, with the next sequence number. */
  #insert (r: Resource): void {
    stampSeq(r, ++this.#seq)
    this.#resources.set(r.id, r)
  }

  // ---------------------------------------------------------------- mutations (with undo)

  /** Creates a resource, or replaces its fields (same kind: the caller checked). */
  put (id: string, kind: string, fields: Record<string, FieldValue>, version: number, undo: Undo): void {
    const old = this.#resources.get(id)
    if (old !== undefined) {
      this.#preserve(old)
      const { fields: f, version: v } = old
      this.#setFields(old, { ...fields })
      old.version = version
      undo.push(() => { this.#setFields(old, f); old.version = v })
      return
    }
    const r: Resource = { id, kind, version, fields: { ...fields }, keep: false }
    this.#insert(r)
    let ids = this.#byKind.get(kind)
    if (ids === undefined) this.#byKind.set(kind, ids = new Set())
    ids.add(id)
    this.#index(r)
    undo.push(() => { this.#forget(id, kind) })
  }

  /** Merges `patch` into the fields of an existing resource; null removes a field. */
  update (id: string, patch: Readonly<Record<string, FieldValue | null>>, version: number, undo: Undo): void {
    const r = this.#resources.get(id)!
    this.#preserve(r)
    const { fields: f, version: v } = r
    const next = { ...f }
    for (const [k, value] of Object.entries(patch)) {
      if (value === null) delete next[k]
      else next[k] = value
    }
    this.#setFields(r, next)
    r.version = version
    undo.push(() => { this.#setFields(r, f); r.version = v })
  }

  setKeep (id: string, keep: boolean, version: number, undo: Undo): void {
    const r = this.#resources.get(id)!
    this.#preserve(r)
    const { keep: k, version: v } = r
    r.keep = keep
    r.version = version
    undo.push(() => { r.keep = k; r.version = v })
  }

  /** Sets a resource's version (an edge at it changed). */
  touch (id: string, version: number, undo: Undo): void {
    const r = this.#resources.get(id)
    if (r === undefined || r.version === version) return
    this.#preserve(r)
    const v = r.version
    r.version = version
    undo.push(() => { r.version = v })
  }

  addEdge (relation: string, from: string, to: string, undo: Undo): void {
    if (this.hasEdge(relation, from, to)) return
    this.#preserve(this.#resources.get(from))
    addAdj(this.#out, from, relation, to)
    addAdj(this.#in, to, relation, from)
    this.#edges++
    undo.push(() => { this.#unlink(relation, from, to) })
  }

  removeEdge (relation: string, from: string, to: string, undo: Undo): void {
    if (!this.hasEdge(relation, from, to)) return
    this.#preserve(this.#resources.get(from))
    this.#unlink(relation, from, to)
    undo.push(() => {
      addAdj(this.#out, from, relation, to)
      addAdj(this.#in, to, relation, from)
      this.#edges++
    })
  }

  /** Removes a resource and every edge at it; returns the ids at the other ends. */
  remove (id: string, undo: Undo): Set<string> {
    const r = this.#resources.get(id)
    const others = new Set<string>()
    if (r === undefined) return others
    for (const e of [...this.#edgesAt(id)]) {
      others.add(e.from === id ? e.to : e.from)
      this.removeEdge(e.relation, e.from, e.to, undo)
    }
    this.#preserve(r, true)
    this.#forget(id, r.kind)
    undo.push(() => {
      // A new entry at the end of the Map, so a new sequence number (views skip it).
      this.#insert(r)
      let ids = this.#byKind.get(r.kind)
      if (ids === undefined) this.#byKind.set(r.kind, ids = new Set())
      ids.add(id)
      this.#index(r)
    })
    others.delete(id)
    return others
  }

  /** Loads a resource as it was (snapshot restore); no undo. */
  load (r: Resource): void {
    const undo = new Undo()
    this.put(r.id, r.kind, r.fields, r.version, undo)
    const stored = this.#resources.get(r.id)!
    stored.keep = r.keep
  }

  /** Loads an edge as it was (snapshot restore); both ends must be loaded already. */
  loadEdge (e: Edge): void { this.addEdge(e.relation, e.from, e.to, new Undo()) }

  * #edgesAt (id: string): IterableIterator<Edge> {
    for (const [relation, tos] of this.#out.get(id) ?? []) for (const to of tos) yield { relation, from: id, to }
    for (const [relation, froms] of this.#in.get(id) ?? []) {
      for (const from of froms) if (from !== id) yield { relation, from, to: id }
    }
  }

  #unlink (relation: string, from: string, to: string): void {
    removeAdj(this.#out, from, relation, to)
    removeAdj(this.#in, to, relation, from)
    this.#edges--
  }

  /** Where a built field index disagrees with a scan of its kind (empty when none does). For tests. */
  fieldIndexProblems (): string[] {
    const problems: string[] = []
    for (const [kind, byField] of this.#fieldIndexes) {
      for (const [field, byValue] of byField) {
        const scanned = new Map<string, Set<string>>()
        for (const id of this.idsOfKind(kind)) {
          const v = this.#resources.get(id)!.fields[field]
          if (v !== undefined) addTo(scanned, valueKey(v), id)
        }
        const render = (m: Map<string, Set<string>>): string => JSON.stringify([...m].map(([k, ids]) => [k, [...ids].sort()]).sort())
        if (render(scanned) !== render(byValue)) problems.push(`the ${kind}.${field} index disagrees with a scan`)
      }
    }
    return problems
  }

  /** Replaces `r`'s fields, keeping the built field indexes in step. */
  #setFields (r: Resource, fields: Record<string, FieldValue>): void {
    this.#unindex(r)
    r.fields = fields
    this.#index(r)
  }

  #index (r: Resource): void {
    const byField = this.#fieldIndexes.get(r.kind)
    if (byField === undefined) return
    for (const [field, byValue] of byField) {
      const v = r.fields[field]
      if (v !== undefined) addTo(byValue, valueKey(v), r.id)
    }
  }

  #unindex (r: Resource): void {
    const byField = this.#fieldIndexes.get(r.kind)
    if (byField === undefined) return
    for (const [field, byValue] of byField) {
      const v = r.fields[field]
      if (v === undefined) continue
      const key = valueKey(v)
      const ids = byValue.get(key)
      ids?.delete(r.id)
      if (ids?.size === 0) byValue.delete(key)
    }
  }

  #forget (id: string, kind: string): void {
    const r = this.#resources.get(id)
    if (r !== undefined) this.#unindex(r)
    this.#resources.delete(id)
    const ids = this.#byKind.get(kind)
    ids?.delete(id)
    if (ids?.size === 0) this.#byKind.delete(kind)
  }
}

/** The invariants in the header, as a list of broken ones (empty when all hold). For tests. */
export function checkInvariants (state: GraphState, schema: Schema): string[] {
  const problems: string[] = []
  let count = 0
  for (const e of state.edges()) {
    count++
    if (!state.neighbours(e.to, e.relation, 'in').has(e.from)) problems.push(`edge ${e.relation} ${e.from}->${e.to} missing at its to end`)
    if (!state.has(e.from) || !state.has(e.to)) problems.push(`edge ${e.relation} ${e.from}->${e.to} has a missing end`)
  }
  if (count !== state.edgeCount) problems.push(`edge count ${state.edgeCount} but ${count} edges`)
  problems.push(...state.fieldIndexProblems())
  for (const r of state.resources()) {
    if (!state.idsOfKind(r.kind).has(r.id)) problems.push(`${r.id} missing from its kind index`)
    for (const [relation, spec] of schema.relations) {
      if (spec.outgoing === 'one' && state.neighbours(r.id, relation, 'out').size > 1) problems.push(`${r.id} has several outgoing ${relation}`)
      if (spec.incoming === 'one' && state.neighbours(r.id, relation, 'in').size > 1) problems.push(`${r.id} has several incoming ${relation}`)
      for (const other of state.neighbours(r.id, relation, 'in')) {
        if (!state.neighbours(other, relation, 'out').has(r.id)) problems.push(`edge ${relation} ${other}->${r.id} missing at its from end`)
      }
    }
  }
  return problems
}

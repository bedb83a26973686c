/**
 * Point-in-time views of the graph for snapshots (copy-on-write): a snapshot streams the state
 * as it was when snapshot() was called while later entries are applied, without a second copy
 * of the graph. Only what changes during the stream is copied, once, just before it changes.
 *
 * How a view knows what it still has to read:
 * - Every stored resource carries a creation sequence number (`seqOf`, a non-enumerable
 *   property: readers never see it). Resources sit in their Map in insertion order, and every
 *   insertion takes the next number, so Map order is sequence order. A view opened when the
 *   last number was `openSeq` covers exactly the resources numbered <= openSeq that were live
 *   then; anything numbered later was created after it and is skipped.
 * - The view reads in two passes over that order: resource records, then each resource's
 *   outgoing edges (after every resource, so a restore finds both ends of each edge). `edgeAt`
 *   is the sequence number of the last resource whose edges were read; the resource pass is
 *   always ahead of or level with it.
 * - Before a covered resource the edge pass has not reached changes (its fields, version,
 *   keep mark, its outgoing edges, or its removal), GraphState calls `preserve`: the view keeps
 *   a copy of the record and of its outgoing adjacency as they were, at most once per resource,
 *   and reads that copy instead of the live one. A removed resource's copy is read in its
 *   place in the order (`removed`).
 * The bytes a view yields are those a snapshot taken at the call would have produced, however
 * the applies interleave with the reading.
 */
import type { Edge, Resource } from './state.js'

type OutAdjacency = Map<string, Set<string>>

const SEQ = Symbol('quorate.graph.seq')

/** The creation sequence number of a stored resource. */
export function seqOf (r: Resource): number { return (r as unknown as Record<symbol, number>)[SEQ]! }

/** Gives a stored resource its sequence number (non-enumerable: copies, equality and JSON ignore it). */
export function stampSeq (r: Resource, seq: number): void {
  Object.defineProperty(r, SEQ, { value: seq, writable: true, configurable: true, enumerable: false })
}

interface Preserved {
  readonly resource: Resource
  readonly out: OutAdjacency | undefined
}

function copyOut (out: OutAdjacency | undefined): OutAdjacency | undefined {
  if (out === undefined) return undefined
  const copy: OutAdjacency = new Map()
  for (const [relation, tos] of out) copy.set(relation, new Set(tos))
  return copy
}

function * edgesOf (id: string, out: OutAdjacency | undefined): IterableIterator<Edge> {
  if (out === undefined) return
  for (const [relation, tos] of out) for (const to of tos) yield { relation, from: id, to }
}

export class GraphSnapshotView {
  readonly #resources: ReadonlyMap<string, Resource>
  readonly #out: ReadonlyMap<string, OutAdjacency>
  readonly #openSeq: number
  readonly #onClose: (view: GraphSnapshotView) => void
  /** Copies of covered resources changed before the edge pass reached them, by sequence number. */
  readonly #preserved = new Map<number, Preserved>()
  /** Sequence numbers of preserved resources that were removed since, ascending. */
  readonly #removed: number[] = []
  #edgeAt = 0
  #closed = false

  constructor (resources: ReadonlyMap<string, Resource>, out: ReadonlyMap<string, OutAdjacency>, openSeq: number, onClose: (view: GraphSnapshotView) => void) {
    this.#resources = resources
    this.#out = out
    this.#openSeq = openSeq
    this.#onClose = onClose
  }

  /** Copies covered copies held now (for tests: what the copy-on-write costs). */
  get preservedCount (): number { return this.#preserved.size }

  /** `r` (stored, live) is about to change or be removed (`removing`). */
  preserve (r: Resource, removing: boolean): void {
    const seq = seqOf(r)
    if (seq > this.#openSeq || seq <= this.#edgeAt) return
    if (!this.#preserved.has(seq)) {
      this.#preserved.set(seq, { resource: { id: r.id, kind: r.kind, version: r.version, fields: r.fields, keep: r.keep }, out: copyOut(this.#out.get(r.id)) })
    }
    if (removing) insertSorted(this.#removed, seq)
  }

  /** Every covered resource as it was at the view's opening, in order. */
  * resources (): IterableIterator<Resource> {
    for (const [seq, live] of this.#covered()) yield this.#preserved.get(seq)?.resource ?? live!
  }

  /** Every covered edge as it was at the view's opening, grouped by `from`, in resource order. */
  * edges (): IterableIterator<Edge> {
    for (const [seq, live] of this.#covered()) {
      const kept = this.#preserved.get(seq)
      const id = kept?.resource.id ?? live!.id
      // Collected before the first yield: an apply between two yields may change the live sets.
      const edges = [...edgesOf(id, kept === undefined ? this.#out.get(id) : kept.out)]
      this.#edgeAt = seq
      if (kept !== undefined) this.#preserved.delete(seq)
      yield * edges
    }
    this.close()
  }

  /** Stops copying for this view (its stream ended or was abandoned). Idempotent. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#preserved.clear()
    this.#onClose(this)
  }

  /**
   * [seq, live resource] for every covered resource in sequence order: live ones from the Map
   * (a removed one's entry is gone; null marks it, read from its copy), stopping at the first
   * resource created after the opening.
   */
  * #covered (): IterableIterator<[number, Resource | null]> {
    const removed = this.#removed
    // A cursor by number, not by position: removals during the read insert into the list.
    let at = 0
    for (const live of this.#resources.values()) {
      const seq = seqOf(live)
      if (seq > this.#openSeq) break
      for (let i = firstAbove(removed, at); i < removed.length && removed[i]! < seq; i = firstAbove(removed, at)) {
        at = removed[i]!
        yield [at, null]
      }
      at = seq
      yield [seq, live]
    }
    for (let i = firstAbove(removed, at); i < removed.length; i = firstAbove(removed, at)) {
      at = removed[i]!
      yield [at, null]
    }
  }
}

/** Index of the first number in ascending `list` above `n`. */
function firstAbove (list: readonly number[], n: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid]! <= n) lo = mid + 1; else hi = mid }
  return lo
}

/** Inserts `n` into ascending `list` unless it is there. */
function insertSorted (list: number[], n: number): void {
  let lo = 0
  let hi = list.length
  while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid]! < n) lo = mid + 1; else hi = mid }
  if (list[lo] !== n) list.splice(lo, 0, n)
}

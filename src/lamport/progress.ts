/**
 * Per-origin progress of a mirrored tuple store: for every mirror (including this one) the
 * newest vector it reported, where vector[origin] = the highest Lamport counter of that
 * origin's transactions it has applied. Every replica applies each origin's transactions
 * in counter order (replay logs ship per-origin suffixes), so a vector entry covers a
 * whole prefix: `covers(v, stamp)` iff `v[stamp.node] >= stamp.counter`.
 *
 * Rows only grow (a mirror's applied set never shrinks), so merging gossiped rows is a
 * componentwise max and the order in which rows arrive does not matter.
 *
 * Stability (when a cancellation record may expire): record r is stable here iff for
 * every mirror E, (1) E applied r, and (2) this replica holds every transaction E stamped
 * before it applied r: either this replica's own vector reaches r's counter for origin E
 * (per-origin prefixes, so nothing of E's at or below r.counter is missing), or it covers
 * all E reported having stamped. Any positive stamped before r then is already here and
 * was cancelled by r, so dropping r (and what it cancelled) can never let one back in.
 */
import type { Stamp } from './stamp.js'

export type Vector = ReadonlyMap<number, number>

/** A vector on the wire: [origin, counter] pairs. */
export type VectorPairs = ReadonlyArray<readonly [number, number]>

/** Progress rows on the wire: [mirror, vector] pairs. */
export type ProgressRows = ReadonlyArray<readonly [number, VectorPairs]>

export function covers (v: Vector | undefined, stamp: Stamp): boolean {
  return (v?.get(stamp.node) ?? 0) >= stamp.counter
}

export class Progress {
  readonly self: number
  /** Every replica of the data, this one included. */
  readonly members: readonly number[]
  readonly #rows = new Map<number, Map<number, number>>()
  /** When (on the injected Clock) each mirror's row last advanced or it contacted us. */
  readonly #heard = new Map<number, number>()

  constructor (self: number, mirrors: readonly number[], now: number) {
    this.self = self
    this.members = [self, ...mirrors.filter((m) => m !== self)]
    for (const m of this.members) {
      this.#rows.set(m, new Map())
      this.#heard.set(m, now)
    }
  }

  isMember (node: number): boolean { return this.#rows.has(node) }

  /** This replica's own applied vector. */
  get applied (): Vector { return this.#rows.get(this.self) as Map<number, number> }

  row (node: number): Vector | undefined { return this.#rows.get(node) }

  lastHeard (node: number): number { return this.#heard.get(node) ?? -Infinity }

  /** Records that this replica applied `stamp` (its own write or a replicated one). */
  advance (stamp: Stamp): void {
    const own = this.#rows.get(this.self) as Map<number, number>
    if ((own.get(stamp.node) ?? 0) < stamp.counter) own.set(stamp.node, stamp.counter)
  }

  /** Raises this replica's own vector to `v` (after merging a snapshot that covers it). */
  advanceTo (v: VectorPairs): void {
    for (const [o, c] of v) this.advance({ node: o, counter: c })
  }

  /** Merges gossiped rows; returns true if any row advanced. Unknown mirrors are ignored. */
  mergeRows (rows: ProgressRows, now: number): boolean {
    let any = false
    for (const [node, pairs] of rows) {
      // Our own row is authoritative here: a peer's copy of it can only be older.
      if (node === this.self) continue
      const row = this.#rows.get(node)
      if (row === undefined) continue
      let advanced = false
      for (const [o, c] of pairs) {
        if ((row.get(o) ?? 0) < c) { row.set(o, c); advanced = true }
      }
      if (advanced) { this.#heard.set(node, now); any = true }
    }
    return any
  }

  /** A direct message from `node`: it is reachable now even if it had nothing new. */
  heardFrom (node: number, now: number): void {
    if (this.#heard.has(node)) this.#heard.set(node, now)
  }

  /** Restores a persisted row (reopening). */
  restoreRow (node: number, pairs: VectorPairs): void {
    const row = this.#rows.get(node)
    if (row === undefined) return
    for (const [o, c] of pairs) if ((row.get(o) ?? 0) < c) row.set(o, c)
  }

  rows (): ProgressRows {
    return [...this.#rows].map(([n, row]) => [n, toPairs(row)] as const)
  }

  /** See the module comment. `early` (a test mutant) skips condition (2) and (1) for others. */
  isStable (r: Stamp, early = false): boolean {
    if (early) return covers(this.applied, r)
    const own = this.applied
    for (const m of this.members) {
      const row = this.#rows.get(m) as Map<number, number>
      if (!covers(row, r)) return false
      if (m === this.self) continue
      const mine = own.get(m) ?? 0
      if (mine < r.counter && mine < (row.get(m) ?? 0)) return false
    }
    return true
  }

  /**
   * No record with a counter above this is stable (a cheap bound so expiry need not look
   * at every record): condition (1) needs some origin applied everywhere that far, and
   * condition (2) is bounded by our own entry for each mirror we are still behind.
   */
  stableBound (): number {
    const own = this.applied
    let bound = 0
    for (const o of own.keys()) {
      let everywhere = Infinity
      for (const row of this.#rows.values()) everywhere = Math.min(everywhere, row.get(o) ?? 0)
      bound = Math.max(bound, everywhere)
    }
    for (const m of this.members) {
      if (m === this.self) continue
      const mine = own.get(m) ?? 0
      if (mine < ((this.#rows.get(m) as Map<number, number>).get(m) ?? 0)) bound = Math.min(bound, mine)
    }
    return bound
  }

  /** True once every mirror applied `stamp`, or stopped being heard for `retentionMs`. */
  replicatedOrAbandoned (stamp: Stamp, now: number, retentionMs: number): boolean {
    for (const m of this.members) {
      if (m === this.self) continue
      if (covers(this.#rows.get(m), stamp)) continue
      if (now - this.lastHeard(m) <= retentionMs) return false
    }
    return true
  }
}

export function toPairs (v: Vector): VectorPairs {
  return [...v].sort((a, b) => a[0] - b[0]).map(([o, c]) => [o, c] as const)
}

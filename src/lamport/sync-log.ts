/**
 * The replay log of a mirrored tuple store: transactions of every origin (this replica's
 * own and those it relays), kept per origin in counter order until every mirror applied
 * them (or stopped being heard for the retention time).
 *
 * Invariant, per origin o: the log holds exactly o's transactions with counter in
 * (floor(o), applied(o)], where applied(o) is the store's own vector entry. So a peer
 * whose vector entry is >= floor(o) can be served o's missing transactions from here;
 * one below it lacks something that was dropped and must take a snapshot instead.
 */
import type { Transaction } from './update.js'
import type { Vector, VectorPairs } from './progress.js'

export class SyncLog {
  readonly #byOrigin = new Map<number, Transaction[]>()
  readonly #floors = new Map<number, number>()

  get size (): number {
    let n = 0
    for (const list of this.#byOrigin.values()) n += list.length
    return n
  }

  floor (origin: number): number { return this.#floors.get(origin) ?? 0 }

  floors (): VectorPairs {
    return [...this.#floors].sort((a, b) => a[0] - b[0]).map(([o, c]) => [o, c] as const)
  }

  /** Appends a transaction newer than every logged one of its origin (the caller checks). */
  append (txn: Transaction): void {
    let list = this.#byOrigin.get(txn.stamp.node)
    if (list === undefined) this.#byOrigin.set(txn.stamp.node, list = [])
    list.push(txn)
  }

  setFloor (origin: number, counter: number): void {
    if (counter > this.floor(origin)) this.#floors.set(origin, counter)
  }

  /** Every logged transaction, per origin in counter order. */
  * all (): IterableIterator<Transaction> {
    for (const list of this.#byOrigin.values()) yield * list
  }

  /**
   * What a peer with vector `theirs` lacks of what `upTo` covers (this replica's durable
   * vector, so nothing a crash could still take back is sent): per origin the logged
   * suffix above theirs. Null if some of it was dropped (the peer must resync).
   */
  missing (upTo: Vector, theirs: Vector): Transaction[] | null {
    const out: Transaction[] = []
    for (const [o, have] of upTo) {
      const their = theirs.get(o) ?? 0
      if (their >= have) continue
      if (their < this.floor(o)) return null
      for (const t of this.#byOrigin.get(o) ?? []) if (t.stamp.counter > their && t.stamp.counter <= have) out.push(t)
    }
    return out
  }

  /** Drops, per origin, the oldest transactions while `drop` holds; returns those dropped. */
  prune (drop: (txn: Transaction) => boolean): Transaction[] {
    const dropped: Transaction[] = []
    for (const [o, list] of this.#byOrigin) {
      let n = 0
      while (n < list.length && drop(list[n] as Transaction)) n++
      if (n === 0) continue
      dropped.push(...list.slice(0, n))
      this.setFloor(o, (list[n - 1] as Transaction).stamp.counter)
      this.#byOrigin.set(o, list.slice(n))
    }
    return dropped
  }

  /**
   * Folds a snapshot's log into this one (see the invariant). `before` is this replica's
   * vector before the snapshot, `theirs` the snapshot's; their log covers
   * (theirFloor(o), theirs(o)]. Where the two ranges do not touch, the part of ours below
   * the gap can no longer be served contiguously and is dropped. Returns the transactions
   * added and those dropped.
   */
  mergeFrom (before: Vector, theirs: Vector, theirLog: readonly Transaction[], theirFloors: Vector): { added: Transaction[], dropped: Transaction[] } {
    const added: Transaction[] = []
    const dropped: Transaction[] = []
    const origins = new Set([...before.keys(), ...theirs.keys()])
    for (const o of origins) {
      const mine = before.get(o) ?? 0
      const their = theirs.get(o) ?? 0
      const theirFloor = theirFloors.get(o) ?? 0
      if (their <= mine) continue // nothing new for o: ours already reaches as far
      const list = this.#byOrigin.get(o) ?? []
      if (mine < theirFloor) {
        // A gap (mine, theirFloor]: ours cannot be served past it; theirs replaces it.
        dropped.push(...list)
        this.#byOrigin.set(o, [])
        this.#floors.set(o, theirFloor)
      }
      const kept = this.#byOrigin.get(o) ?? []
      for (const t of theirLog) {
        if (t.stamp.node === o && t.stamp.counter > mine) { kept.push(t); added.push(t) }
      }
      kept.sort((a, b) => a.stamp.counter - b.stamp.counter)
      this.#byOrigin.set(o, kept)
    }
    return { added, dropped }
  }

  clear (): void {
    this.#byOrigin.clear()
    this.#floors.clear()
  }
}

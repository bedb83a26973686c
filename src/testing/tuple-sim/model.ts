/**
 * The reference model of the tuple-replication simulator, written without the store's
 * code: it knows which transactions each replica has received (by the messages the
 * simulator delivered) and what each writer had seen when it wrote (causal pasts), and
 * from that alone says which tuples must be visible.
 *
 * Rule (WOLFRAM's "cancel out"): a positive p is cancelled by a negative n that matches
 * it, comes from another transaction, and either happened after p (p is in n's causal
 * past) or is concurrent with p and has the larger stamp (the tie-break all replicas
 * share). A negative that happened before p never cancels it, whatever the stamps say:
 * that is what catches a replica that forgot to merge Lamport clocks on receive.
 */

/** The wildcard the simulator's patterns use (the store's ANY, compared by identity). */
export interface ModelUpdate {
  readonly positive: boolean
  /** Flat tuple or pattern; `any` marks wildcard fields. */
  readonly fields: readonly unknown[]
}

export interface ModelTransaction {
  /** `${counter}@${node}`: unique per transaction. */
  readonly id: string
  readonly counter: number
  readonly node: number
  readonly updates: readonly ModelUpdate[]
  /** Every transaction that happened before this one (transitively closed). */
  readonly past: ReadonlySet<string>
}

export function stampOrder (a: ModelTransaction, b: ModelTransaction): number {
  return a.counter !== b.counter ? a.counter - b.counter : a.node - b.node
}

export class TupleModel {
  readonly #any: unknown
  readonly #txns = new Map<string, ModelTransaction>()
  /** What each replica has received (its own writes included). */
  readonly #known = new Map<number, Set<string>>()

  constructor (replicas: readonly number[], any: unknown) {
    this.#any = any
    for (const r of replicas) this.#known.set(r, new Set())
  }

  get transactions (): number { return this.#txns.size }

  known (replica: number): ReadonlySet<string> { return this.#known.get(replica) as Set<string> }

  /** A replica wrote a transaction: its past is everything it had received, closed. */
  write (replica: number, counter: number, updates: readonly ModelUpdate[]): ModelTransaction {
    const id = `${counter}@${replica}`
    const past = new Set<string>()
    for (const k of this.known(replica)) {
      past.add(k)
      for (const q of (this.#txns.get(k) as ModelTransaction).past) past.add(q)
    }
    const txn: ModelTransaction = { id, counter, node: replica, updates, past }
    this.#txns.set(id, txn)
    ;(this.#known.get(replica) as Set<string>).add(id)
    return txn
  }

  /** A replica received these transactions (a delivered response, or a snapshot's knowledge). */
  receive (replica: number, ids: Iterable<string>): void {
    const set = this.#known.get(replica) as Set<string>
    for (const id of ids) {
      if (!this.#txns.has(id)) throw new Error(`the model never saw transaction ${id} written`)
      set.add(id)
    }
  }

  #matches (pattern: readonly unknown[], tuple: readonly unknown[]): boolean {
    if (pattern.length !== tuple.length) return false
    return pattern.every((f, i) => f === this.#any || f === tuple[i])
  }

  #cancels (n: ModelTransaction, p: ModelTransaction): boolean {
    if (n.id === p.id) return false
    if (n.past.has(p.id)) return true
    if (p.past.has(n.id)) return false
    return stampOrder(n, p) > 0
  }

  /** Visible tuples (as JSON) of a replica that received exactly `ids`. */
  visible (ids: Iterable<string>): Set<string> {
    const txns = [...ids].map((id) => this.#txns.get(id) as ModelTransaction)
    const negatives: Array<{ txn: ModelTransaction, fields: readonly unknown[] }> = []
    for (const t of txns) for (const u of t.updates) if (!u.positive) negatives.push({ txn: t, fields: u.fields })
    const out = new Set<string>()
    for (const t of txns) {
      for (const u of t.updates) {
        if (!u.positive) continue
        const key = JSON.stringify(u.fields)
        if (out.has(key)) continue
        if (!negatives.some((n) => this.#matches(n.fields, u.fields) && this.#cancels(n.txn, t))) out.add(key)
      }
    }
    return out
  }

  visibleAt (replica: number): Set<string> { return this.visible(this.known(replica)) }

  /** Every transaction written so far. */
  allIds (): string[] { return [...this.#txns.keys()] }
}

/**
 * Proposals waiting for their entry to be applied, and how each one ends.
 *
 * A proposal made as leader in term T landed at index i. When this node applies the entry
 * at index k with term Tk, in log order:
 * - k === i and Tk === T: that entry is the proposal (one leader per term, §5.2): resolve.
 * - Tk > T: the proposal can never commit. If i <= k, a different entry is committed at i.
 *   If i > k, any log that holds the committed (Tk, k) has terms >= Tk after k (terms never
 *   decrease along a log), so no leader can ever commit (T, i). Reject RAFT_PROPOSAL_DROPPED.
 * Proposals are queued in (term, index) order, so both cases pop from the front: O(1) per entry.
 */
import { QuorateError } from '../errors.js'

const RECENT = 1024

export class PendingProposals {
  #terms: number[] = []
  #indexes: number[] = []
  #resolves: Array<(v: unknown) => void> = []
  #rejects: Array<(e: unknown) => void> = []
  #head = 0
  // Recently applied (index, term, result), for forwarded proposals whose answer arrives late.
  readonly #recentIndex = new Float64Array(RECENT)
  readonly #recentTerm = new Float64Array(RECENT)
  readonly #recentResult: unknown[] = new Array(RECENT)

  get size (): number { return this.#terms.length - this.#head }

  /**
   * Registers a proposal at (term, index). `appliedIndex` is this node's applied index now:
   * a forwarded proposal may be answered after its entry was already applied here.
   */
  add (term: number, index: number, resolve: (v: unknown) => void, reject: (e: unknown) => void, appliedIndex = 0): void {
    if (index <= appliedIndex) {
      const slot = index % RECENT
      if (this.#recentIndex[slot] === index) {
        if (this.#recentTerm[slot] === term) resolve(this.#recentResult[slot])
        else reject(dropped(term, index))
      } else {
        reject(new QuorateError('RAFT_TIMEOUT', `the answer for the proposal at index ${index} came too late to know its result`))
      }
      return
    }
    // Almost always appended at the end; a late answer from an older leader is inserted in order.
    let at = this.#terms.length
    while (at > this.#head && (this.#terms[at - 1]! > term || (this.#terms[at - 1] === term && this.#indexes[at - 1]! > index))) at--
    if (at === this.#terms.length) {
      this.#terms.push(term); this.#indexes.push(index); this.#resolves.push(resolve); this.#rejects.push(reject)
    } else {
      this.#terms.splice(at, 0, term); this.#indexes.splice(at, 0, index); this.#resolves.splice(at, 0, resolve); this.#rejects.splice(at, 0, reject)
    }
  }

  /** The entry (term, index) was applied with `result`. */
  settle (term: number, index: number, result: unknown): void {
    const slot = index % RECENT
    this.#recentIndex[slot] = index
    this.#recentTerm[slot] = term
    this.#recentResult[slot] = result
    while (this.#head < this.#terms.length) {
      const t = this.#terms[this.#head]!
      const i = this.#indexes[this.#head]!
      if (t > term || (t === term && i > index)) break
      const h = this.#head
      if (t === term && i === index) this.#resolves[h]!(result)
      else this.#rejects[h]!(dropped(t, i))
      this.#resolves[h] = noop
      this.#rejects[h] = noop
      this.#head++
    }
    if (this.#head > 1024 && this.#head * 2 > this.#terms.length) this.#compact()
  }

  /** Rejects every proposal at an index <= `index` (their results are unknowable here). */
  rejectUpTo (index: number, reason: unknown): void {
    const keep: number[] = []
    for (let h = this.#head; h < this.#terms.length; h++) {
      if (this.#indexes[h]! <= index) this.#rejects[h]!(reason)
      else keep.push(h)
    }
    this.#terms = keep.map((h) => this.#terms[h]!); this.#indexes = keep.map((h) => this.#indexes[h]!)
    this.#resolves = keep.map((h) => this.#resolves[h]!); this.#rejects = keep.map((h) => this.#rejects[h]!)
    this.#head = 0
  }

  rejectAll (reason: unknown): void {
    for (let h = this.#head; h < this.#rejects.length; h++) this.#rejects[h]!(reason)
    this.#terms = []; this.#indexes = []; this.#resolves = []; this.#rejects = []
    this.#head = 0
  }

  #compact (): void {
    const h = this.#head
    this.#terms = this.#terms.slice(h); this.#indexes = this.#indexes.slice(h)
    this.#resolves = this.#resolves.slice(h); this.#rejects = this.#rejects.slice(h)
    this.#head = 0
  }
}

function noop (): void {}

function dropped (term: number, index: number): QuorateError {
  return new QuorateError('RAFT_PROPOSAL_DROPPED', `the proposal at index ${index} (term ${term}) was overwritten and can never commit`, { details: { index, term } })
}

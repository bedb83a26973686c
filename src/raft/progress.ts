/**
 * The leader's view of one follower (Raft §5.3 nextIndex/matchIndex) plus flow control.
 *
 * States:
 * - `probe`: the leader does not know where the follower's log matches; it sends one
 *   append at a time and waits for the answer (or the next heartbeat response).
 * - `replicate`: the follower is known to match at `match`; the leader streams appends
 *   optimistically (pipelining), bounded by the in-flight window.
 * - `snapshot`: the follower needs entries the leader compacted away; it is being sent a
 *   snapshot and gets no appends until that ends.
 *
 * Invariant: match < next.
 */
import type { NodeId } from './types.js'

export type ProgressState = 'probe' | 'replicate' | 'snapshot'

/** A ring buffer of in-flight appends: (last index, bytes) per message, oldest first. */
export class Inflights {
  readonly #capacity: number
  readonly #maxBytes: number
  readonly #index: Float64Array
  readonly #bytes: Float64Array
  #start = 0
  #count = 0
  #totalBytes = 0

  constructor (capacity: number, maxBytes: number) {
    this.#capacity = capacity
    this.#maxBytes = maxBytes
    this.#index = new Float64Array(capacity)
    this.#bytes = new Float64Array(capacity)
  }

  get count (): number { return this.#count }
  get bytes (): number { return this.#totalBytes }

  full (): boolean {
    return this.#count >= this.#capacity || (this.#maxBytes > 0 && this.#totalBytes >= this.#maxBytes)
  }

  add (lastIndex: number, bytes: number): void {
    const slot = (this.#start + this.#count) % this.#capacity
    this.#index[slot] = lastIndex
    this.#bytes[slot] = bytes
    this.#count++
    this.#totalBytes += bytes
  }

  /** Frees every in-flight message whose last index is <= `index` (it was acknowledged). */
  freeLE (index: number): void {
    while (this.#count > 0 && this.#index[this.#start]! <= index) {
      this.#totalBytes -= this.#bytes[this.#start]!
      this.#start = (this.#start + 1) % this.#capacity
      this.#count--
    }
  }

  /** Frees the oldest in-flight message (its acknowledgement is presumed lost). */
  freeFirst (): void {
    if (this.#count === 0) return
    this.#totalBytes -= this.#bytes[this.#start]!
    this.#start = (this.#start + 1) % this.#capacity
    this.#count--
  }

  reset (): void {
    this.#start = 0
    this.#count = 0
    this.#totalBytes = 0
  }
}

export class Progress {
  readonly id: NodeId
  match = 0
  next: number
  state: ProgressState = 'probe'
  /** In probe state: an append was sent and no answer came yet (pause until one does or a heartbeat answers). */
  probeSent = false
  /** Heard from since the last CheckQuorum round (Raft thesis §6.2). */
  recentActive = false
  /** Commit index last sent in an append (an empty append is worth sending only if it grew). */
  sentCommit = 0
  /** Index of the snapshot being sent, in `snapshot` state. */
  pendingSnapshot = 0
  readonly inflights: Inflights

  constructor (id: NodeId, next: number, maxInflight: number, maxInflightBytes: number) {
    this.id = id
    this.next = next
    this.inflights = new Inflights(maxInflight, maxInflightBytes)
  }

  becomeProbe (): void {
    // Leaving snapshot state: the follower has at least the snapshot, so probe after it.
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1)
      this.pendingSnapshot = 0
    } else {
      this.next = this.match + 1
    }
    this.state = 'probe'
    this.probeSent = false
    this.inflights.reset()
  }

  becomeReplicate (): void {
    this.state = 'replicate'
    this.next = this.match + 1
    this.probeSent = false
    this.inflights.reset()
  }

  becomeSnapshot (snapshotIndex: number): void {
    this.state = 'snapshot'
    this.pendingSnapshot = snapshotIndex
    this.probeSent = false
    this.inflights.reset()
  }

  /** An append was acknowledged up to `index`. Returns true if that was news. */
  maybeUpdate (index: number): boolean {
    let updated = false
    if (this.match < index) {
      this.match = index
      updated = true
      this.probeSent = false
    }
    if (this.next < index + 1) this.next = index + 1
    return updated
  }

  /**
   * An append was rejected at `rejected` and the follower suggests `hint`. Returns false if the
   * rejection is stale (it refers to something already known matched or already retried).
   */
  maybeDecrease (rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    // Probe: only the answer to the append we actually sent (prevIndex = next - 1) counts.
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1)
    this.probeSent = false
    return true
  }

  /** Whether the leader should hold back appends to this follower for now. */
  isPaused (): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent
      case 'replicate': return this.inflights.full()
      case 'snapshot': return true
    }
  }

  /** Records that an append carrying entries up to `lastIndex` (and `bytes`) was sent. */
  sentEntries (lastIndex: number, count: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1
        this.inflights.add(lastIndex, bytes)
      }
    } else if (this.state === 'probe') {
      this.probeSent = true
    }
  }
}

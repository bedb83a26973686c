/**
 * The dedup memory's snapshot records, encoded once, when an id is remembered, instead of
 * once per snapshot. The dedup table is the largest part of an events-heavy graph snapshot
 * (up to dedupCapacity ids over a 10-minute window) and almost all of it is unchanged from
 * one snapshot to the next: re-encoding it each time made a snapshot cost what the whole
 * table holds, not what changed (200,000 ids: about 300 ms of encoding per snapshot, in the
 * node's loop, every 10,000 entries). Here a snapshot costs the ids remembered since the
 * last one (their encoding, already paid at apply) plus a list of block references.
 *
 * Invariants:
 * - The frames from (#first, #headAt) to the end of the open block are exactly the framed
 *   'dedup' snapshot records (snapshot.ts writeRecord) of the remembered ids, oldest first:
 *   one per id, in the dedup Map's insertion order, so `count` equals the Map's size.
 *   Ids leave only from the oldest end (expiry), as they do from the Map.
 * - A sealed block is never written again, so the views `frames()` returns stay the state
 *   they were taken at whatever is appended or expired afterwards: a point-in-time view.
 *
 * Memory: about 50 bytes per remembered id (a UUID, two varints, framing), beside the Map.
 */
import { ByteWriter } from '../util/bytes.js'
import { writeRecord } from './snapshot.js'
import type { DedupEntry } from './events.js'

const EMPTY = new Uint8Array(0)

/** Where the frame starting at `at` in `block` ends (a varint length, then that many bytes). */
function frameEnd (block: Uint8Array, at: number): number {
  let len = 0
  let scale = 1
  for (;;) {
    const b = block[at++]!
    len += (b & 0x7f) * scale
    if (b < 0x80) return at + len
    scale *= 0x80
  }
}

export class EncodedDedupLog {
  /** Sealed blocks; those below #first hold only expired frames (released as EMPTY). */
  #sealed: Uint8Array[] = []
  #first = 0
  /** Offset of the oldest live frame in block #first (the open block when #first === #sealed.length). */
  #headAt = 0
  readonly #open: ByteWriter
  readonly #scratch = new ByteWriter(128)
  readonly #blockBytes: number
  #count = 0

  /** `blockBytes`: a block is sealed once it holds this many bytes (about a snapshot chunk). */
  constructor (blockBytes: number) {
    this.#blockBytes = Math.max(1, blockBytes)
    this.#open = new ByteWriter(Math.min(this.#blockBytes + 256, 1 << 20))
  }

  get count (): number { return this.#count }

  append (entry: DedupEntry): void {
    writeRecord(this.#open, this.#scratch, { type: 'dedup', entry })
    this.#count++
    if (this.#open.length >= this.#blockBytes) this.#seal()
  }

  /** Forgets the `n` oldest frames (the ids expiry just removed from the Map). */
  dropOldest (n: number): void {
    for (let i = 0; i < n; i++) {
      this.#skipSpent()
      const block = this.#first < this.#sealed.length ? this.#sealed[this.#first]! : this.#open.finish()
      this.#headAt = frameEnd(block, this.#headAt)
    }
    this.#count -= n
    this.#skipSpent()
    // Released slots are dropped from the array in bulk, not one shift per block.
    if (this.#first > 64 && this.#first * 2 > this.#sealed.length) {
      this.#sealed = this.#sealed.slice(this.#first)
      this.#first = 0
    }
  }

  /**
   * The framed records of every remembered id, oldest first, as views that no later append
   * or expiry changes (the open block is sealed first). O(blocks), nothing copied.
   */
  frames (): Uint8Array[] {
    this.#seal()
    this.#skipSpent()
    const out: Uint8Array[] = []
    for (let i = this.#first; i < this.#sealed.length; i++) {
      out.push(i === this.#first ? this.#sealed[i]!.subarray(this.#headAt) : this.#sealed[i]!)
    }
    return out
  }

  /** Moves the head past sealed blocks with no live frame left, releasing them. */
  #skipSpent (): void {
    while (this.#first < this.#sealed.length && this.#headAt >= this.#sealed[this.#first]!.length) {
      this.#sealed[this.#first++] = EMPTY
      this.#headAt = 0
    }
  }

  #seal (): void {
    if (this.#open.length === 0) return
    this.#sealed.push(this.#open.finish().slice())
    this.#open.reset()
  }
}

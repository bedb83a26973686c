/**
 * InstallSnapshot streaming (Raft §7) for the node shell: the leader side sends a stored
 * snapshot in bounded chunks with a window of unacknowledged bytes; the follower side
 * assembles them and acknowledges how many bytes it holds, so an interrupted transfer resumes
 * from there rather than from zero (as long as the follower process keeps running: staged
 * chunks live in memory).
 *
 * A transfer's identity is (sender, snapshot index, term, SHA-256 digest of the whole byte
 * stream). Nothing requires two replicas' snapshots of one index to be byte-identical (a
 * timestamp or a map's iteration order is enough to differ), so a partial transfer is only
 * ever continued with chunks of the same identity: bytes from two streams are never glued.
 * Invariants:
 * - the receiver's partial holds a prefix of exactly one stream (one identity);
 * - a chunk of another identity starts that stream afresh if it is at offset 0, else resets
 *   the partial and is answered with 0, so the sender starts again from 0;
 * - within one identity the bytes at an offset agree whoever cut them into chunks, so the
 *   receiver takes the part of a chunk it lacks, and a sender whose chunks do not start at
 *   the acknowledged offset resumes at the chunk holding it (no gap, no resend loop);
 * - the receiver checks the digest of the assembled stream before it reports it complete; a
 *   mismatch discards it and asks for it again from 0 (it is never restored);
 * - an acknowledgement only moves back to 0: the sender ignores any other that is below the
 *   last one (it was overtaken), so reordered acks cannot make it rewind over and over.
 */
import { createHash } from 'node:crypto'
import type { Hash } from 'node:crypto'
import type { NodeId, SnapshotChunk, SnapshotMeta } from '../raft/types.js'

export const SNAPSHOT_DEFAULTS = {
  /** Bytes per chunk message. */
  chunkBytes: 1024 * 1024,
  /** Unacknowledged chunks in flight per follower (flow control). */
  windowChunks: 4,
  /** Ticks without an acknowledgement before the leader resends from the last acknowledged byte. */
  retransmitTicks: 10
} as const

/** The snapshot being served, cut into chunks of at most chunkBytes. */
export interface ServedSnapshot {
  readonly meta: SnapshotMeta
  readonly chunks: readonly Uint8Array[]
  /** Byte offset of each chunk. */
  readonly offsets: readonly number[]
  readonly totalBytes: number
  /** SHA-256 of the whole byte stream, sent with every chunk. */
  readonly digest: Uint8Array
}

/**
 * Re-chunks a snapshot stream into chunks of at most `chunkBytes` and computes its digest
 * (once per served snapshot, not per transfer).
 */
export async function collectSnapshot (meta: SnapshotMeta, stream: AsyncIterable<Uint8Array>, chunkBytes: number): Promise<ServedSnapshot> {
  const chunks: Uint8Array[] = []
  const offsets: number[] = []
  const hash = createHash('sha256')
  let total = 0
  for await (const piece of stream) {
    hash.update(piece)
    for (let at = 0; at < piece.byteLength; at += chunkBytes) {
      const c = piece.subarray(at, Math.min(piece.byteLength, at + chunkBytes))
      offsets.push(total)
      chunks.push(c)
      total += c.byteLength
    }
  }
  return { meta, chunks, offsets, totalBytes: total, digest: new Uint8Array(hash.digest()) }
}

/** Leader side: one transfer to one follower. */
export class SnapshotSender {
  readonly to: NodeId
  readonly snapshot: ServedSnapshot
  #acked = 0
  #nextChunk = 0
  #idleTicks = 0
  #dupAcks = 0
  readonly #windowChunks: number
  readonly #retransmitTicks: number
  /** Mutation check only: the old rules (resume at the first chunk at or past any acknowledged offset). */
  readonly #legacy: boolean

  constructor (to: NodeId, snapshot: ServedSnapshot, windowChunks: number, retransmitTicks: number, legacy = false) {
    this.to = to
    this.snapshot = snapshot
    this.#windowChunks = windowChunks
    this.#retransmitTicks = retransmitTicks
    this.#legacy = legacy
  }

  /** Chunks to send now, within the window. */
  due (): SnapshotChunk[] {
    const out: SnapshotChunk[] = []
    const { chunks, offsets, meta, digest } = this.snapshot
    const ackedChunk = this.#resumeChunk(this.#acked)
    while (this.#nextChunk < chunks.length && this.#nextChunk - ackedChunk < this.#windowChunks) {
      const i = this.#nextChunk++
      out.push({ meta, offset: offsets[i]!, data: chunks[i]!, done: i === chunks.length - 1, digest })
    }
    if (chunks.length === 0 && this.#nextChunk === 0) {
      // An empty state machine still needs one (empty, final) chunk.
      this.#nextChunk = 1
      out.push({ meta, offset: 0, data: new Uint8Array(0), done: true, digest })
    }
    return out
  }

  /**
   * The follower holds `received` bytes of the snapshot with index `index`. The same offset
   * acknowledged twice while more was sent means a chunk was lost: resend from there.
   *
   * A follower only ever goes back to 0 (it restarted, met another stream, or discarded one
   * that failed its digest): then start again from 0. Any other offset below the last one is
   * an acknowledgement overtaken by a later one (reordering, duplication) and is ignored;
   * rewinding on it would resend a window per stale ack, and under reordering those feed
   * each other into a storm. An offset where none of our chunks starts (the follower holds
   * our bytes cut by another chunking, e.g. before this node restarted) resumes at the chunk
   * that holds it: the follower takes the part it lacks, as the bytes agree (same digest).
   */
  onAck (index: number, received: number): void {
    if (index !== this.snapshot.meta.index) return
    this.#idleTicks = 0
    if (received < this.#acked) {
      // (The legacy rules rewind on any lower offset.)
      if (!this.#legacy && received !== 0) return
      this.#nextChunk = this.#resumeChunk(received)
      this.#dupAcks = 0
    } else if (received === this.#acked && received < this.#sentUpTo()) {
      if (++this.#dupAcks >= 2) {
        this.#nextChunk = this.#resumeChunk(received)
        this.#dupAcks = 0
      }
    } else {
      this.#dupAcks = 0
      if (!this.#legacy) this.#nextChunk = Math.max(this.#nextChunk, this.#resumeChunk(received))
    }
    this.#acked = received
  }

  /** Called once per tick; after `retransmitTicks` without an ack, resend from the acked offset. */
  tick (): void {
    if (++this.#idleTicks >= this.#retransmitTicks) {
      this.#idleTicks = 0
      // Everything acknowledged but the follower never confirmed the install (its answer was
      // lost): resend the final chunk, which makes it report its position again.
      this.#nextChunk = this.#acked >= this.snapshot.totalBytes ? Math.max(0, this.snapshot.chunks.length - 1) : this.#resumeChunk(this.#acked)
    }
  }

  /** Bytes sent before the next chunk due. */
  #sentUpTo (): number {
    return this.snapshot.offsets[this.#nextChunk] ?? this.snapshot.totalBytes
  }

  /**
   * The chunk to resume at for a follower holding `offset` bytes: the one holding the byte at
   * `offset` (the first at or past it under the legacy rules, which leaves a gap when no chunk
   * starts there: the old resend loop).
   */
  #resumeChunk (offset: number): number {
    const offs = this.snapshot.offsets
    let lo = 0
    let hi = offs.length
    // First chunk starting at or after `offset`.
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (offs[mid]! < offset) lo = mid + 1
      else hi = mid
    }
    if (this.#legacy || lo === 0 || offs[lo] === offset || offset >= this.snapshot.totalBytes) return lo
    return lo - 1
  }
}

/** What the receiver did with one chunk. */
export interface AcceptResult {
  /** Bytes of the current stream held afterwards (to acknowledge). */
  readonly received: number
  /** The stream is complete and its digest checked: it may be installed. */
  readonly complete: boolean
  /** The assembled stream did not match its digest and was discarded. */
  readonly corrupt: boolean
}

/** Follower side: assembles the chunks of one snapshot stream (one transfer identity). */
export class SnapshotReceiver {
  meta: SnapshotMeta | null = null
  chunks: Uint8Array[] = []
  received = 0
  #from: NodeId | null = null
  #digest: Uint8Array | null = null
  #hash: Hash | null = null
  /** Mutation check only: match by index and term alone and skip the digest (the old, unsafe behaviour). */
  readonly #legacy: boolean

  constructor (options: { legacy?: boolean } = {}) {
    this.#legacy = options.legacy === true
  }

  /** Takes one chunk sent by `from`. */
  accept (from: NodeId, chunk: SnapshotChunk): AcceptResult {
    if (!this.#sameStream(from, chunk)) {
      if (chunk.offset !== 0) {
        // Another stream than the one we were assembling: ask for it from the start.
        this.reset()
        return { received: 0, complete: false, corrupt: false }
      }
      this.#start(from, chunk)
    }
    if (this.#legacy) return this.#acceptLegacy(chunk)
    const end = chunk.offset + chunk.data.byteLength
    const news = chunk.offset <= this.received && end > this.received
    // The final chunk may bring nothing new only for an empty stream.
    const emptyFinal = chunk.done && chunk.offset === this.received && end === this.received
    if (!news && !emptyFinal) {
      // A gap (offset above), or nothing we lack (a duplicate): tell the sender where we are.
      return { received: this.received, complete: false, corrupt: false }
    }
    // Same identity, so overlapping bytes agree: keep only the part we lack.
    const part = chunk.data.subarray(this.received - chunk.offset)
    this.chunks.push(part)
    this.received = end
    this.#hash?.update(part)
    if (!chunk.done) return { received: this.received, complete: false, corrupt: false }
    if (!this.#digestMatches()) {
      this.reset()
      return { received: 0, complete: false, corrupt: true }
    }
    return { received: this.received, complete: true, corrupt: false }
  }

  /** The rules before transfers had an identity (the snapshotResumeAcrossLeaders mutant). */
  #acceptLegacy (chunk: SnapshotChunk): AcceptResult {
    if (chunk.offset !== this.received) return { received: this.received, complete: false, corrupt: false }
    this.chunks.push(chunk.data)
    this.received += chunk.data.byteLength
    return { received: this.received, complete: chunk.done, corrupt: false }
  }

  reset (): void {
    this.meta = null
    this.chunks = []
    this.received = 0
    this.#from = null
    this.#digest = null
    this.#hash = null
  }

  #sameStream (from: NodeId, chunk: SnapshotChunk): boolean {
    const m = this.meta
    if (m === null || m.index !== chunk.meta.index || m.term !== chunk.meta.term) return false
    return this.#legacy || (from === this.#from && equalBytes(this.#digest!, chunk.digest))
  }

  #start (from: NodeId, chunk: SnapshotChunk): void {
    this.reset()
    this.meta = chunk.meta
    this.#from = from
    this.#digest = chunk.digest
    // A sender of an older version sends no digest: its streams cannot be checked.
    this.#hash = this.#legacy || chunk.digest.byteLength === 0 ? null : createHash('sha256')
  }

  #digestMatches (): boolean {
    if (this.#hash === null) return true
    return equalBytes(this.#hash.digest(), this.#digest!)
  }
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/** An async iterable over chunks already in memory. */
export async function * iterate (chunks: readonly Uint8Array[]): AsyncIterable<Uint8Array> {
  for (const c of chunks) yield c
}

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
 * - a chunk at offset 0 starts its stream afresh (the sender sends chunk 0 only when it
 *   starts or restarts a transfer), any other chunk of another identity resets the partial
 *   and is answered with 0, so the sender restarts from 0;
 * - the receiver checks the digest of the assembled stream before it reports it complete;
 *   a mismatch discards it and asks for it again from 0 (it is never restored);
 * - the sender resumes only at an acknowledged offset where one of its chunks starts; any
 *   other offset (another node's chunking of the same bytes) restarts it from 0.
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
  /** Mutation check only: resume at any acknowledged offset (the old, unsafe behaviour). */
  readonly #resumeAnywhere: boolean

  constructor (to: NodeId, snapshot: ServedSnapshot, windowChunks: number, retransmitTicks: number, resumeAnywhere = false) {
    this.to = to
    this.snapshot = snapshot
    this.#windowChunks = windowChunks
    this.#retransmitTicks = retransmitTicks
    this.#resumeAnywhere = resumeAnywhere
  }

  /** Chunks to send now, within the window. */
  due (): SnapshotChunk[] {
    const out: SnapshotChunk[] = []
    const { chunks, offsets, meta, digest } = this.snapshot
    const ackedChunk = this.#chunkAt(this.#acked)
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
   * The follower holds `received` bytes of the snapshot with index `index`. A follower that
   * reports fewer bytes than before lost its staging (it restarted, or discarded a stream that
   * failed its digest): resume from there. The same offset acknowledged twice while more was
   * sent means a chunk was lost: resend from there. An offset where none of our chunks starts
   * is not a prefix of our chunking: restart from 0 (the follower restarts on chunk 0), paced
   * by the window like any other send.
   */
  onAck (index: number, received: number): void {
    if (index !== this.snapshot.meta.index) return
    this.#idleTicks = 0
    if (!this.#resumeAnywhere && !this.#isBoundary(received)) {
      this.#acked = 0
      this.#nextChunk = 0
      this.#dupAcks = 0
      return
    }
    const sent = this.snapshot.offsets[this.#nextChunk] ?? this.snapshot.totalBytes
    if (received < this.#acked) {
      this.#nextChunk = this.#chunkAt(received)
      this.#dupAcks = 0
    } else if (received === this.#acked && received < sent) {
      if (++this.#dupAcks >= 2) {
        this.#nextChunk = this.#chunkAt(received)
        this.#dupAcks = 0
      }
    } else {
      this.#dupAcks = 0
    }
    this.#acked = received
  }

  /** Called once per tick; after `retransmitTicks` without an ack, resend from the acked offset. */
  tick (): void {
    if (++this.#idleTicks >= this.#retransmitTicks) {
      this.#idleTicks = 0
      // Everything acknowledged but the follower never confirmed the install (its answer was
      // lost): resend the final chunk, which makes it report its position again.
      this.#nextChunk = this.#acked >= this.snapshot.totalBytes ? Math.max(0, this.snapshot.chunks.length - 1) : this.#chunkAt(this.#acked)
    }
  }

  /** Whether `offset` is the start of one of our chunks or the end of the stream. */
  #isBoundary (offset: number): boolean {
    if (offset === this.snapshot.totalBytes) return true
    return this.snapshot.offsets[this.#chunkAt(offset)] === offset
  }

  /** Index of the first chunk starting at or after `offset`. */
  #chunkAt (offset: number): number {
    const offs = this.snapshot.offsets
    let lo = 0
    let hi = offs.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (offs[mid]! < offset) lo = mid + 1
      else hi = mid
    }
    return lo
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
    } else if (chunk.offset === 0 && this.received > 0 && !this.#legacy) {
      // The sender restarted this stream (its chunking did not meet our offset).
      this.#start(from, chunk)
    }
    if (chunk.offset !== this.received) {
      // A duplicate (offset below) or a gap (offset above): tell the leader where we are.
      return { received: this.received, complete: false, corrupt: false }
    }
    this.chunks.push(chunk.data)
    this.received += chunk.data.byteLength
    this.#hash?.update(chunk.data)
    if (!chunk.done) return { received: this.received, complete: false, corrupt: false }
    if (!this.#digestMatches()) {
      this.reset()
      return { received: 0, complete: false, corrupt: true }
    }
    return { received: this.received, complete: true, corrupt: false }
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

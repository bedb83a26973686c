/**
 * InstallSnapshot streaming (Raft §7) for the node shell: the leader side sends a stored
 * snapshot in bounded chunks with a window of unacknowledged bytes; the follower side
 * assembles them and acknowledges how many bytes it holds, so an interrupted transfer resumes
 * from there rather than from zero (as long as the follower process keeps running: staged
 * chunks live in memory).
 */
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
}

/** Re-chunks a snapshot stream into chunks of at most `chunkBytes`. */
export async function collectSnapshot (meta: SnapshotMeta, stream: AsyncIterable<Uint8Array>, chunkBytes: number): Promise<ServedSnapshot> {
  const chunks: Uint8Array[] = []
  const offsets: number[] = []
  let total = 0
  for await (const piece of stream) {
    for (let at = 0; at < piece.byteLength; at += chunkBytes) {
      const c = piece.subarray(at, Math.min(piece.byteLength, at + chunkBytes))
      offsets.push(total)
      chunks.push(c)
      total += c.byteLength
    }
  }
  return { meta, chunks, offsets, totalBytes: total }
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

  constructor (to: NodeId, snapshot: ServedSnapshot, windowChunks: number, retransmitTicks: number) {
    this.to = to
    this.snapshot = snapshot
    this.#windowChunks = windowChunks
    this.#retransmitTicks = retransmitTicks
  }

  /** Chunks to send now, within the window. */
  due (): SnapshotChunk[] {
    const out: SnapshotChunk[] = []
    const { chunks, offsets, meta } = this.snapshot
    const ackedChunk = this.#chunkAt(this.#acked)
    while (this.#nextChunk < chunks.length && this.#nextChunk - ackedChunk < this.#windowChunks) {
      const i = this.#nextChunk++
      out.push({ meta, offset: offsets[i]!, data: chunks[i]!, done: i === chunks.length - 1 })
    }
    if (chunks.length === 0 && this.#nextChunk === 0) {
      // An empty state machine still needs one (empty, final) chunk.
      this.#nextChunk = 1
      out.push({ meta, offset: 0, data: new Uint8Array(0), done: true })
    }
    return out
  }

  /**
   * The follower holds `received` bytes of the snapshot with index `index`. A follower that
   * reports fewer bytes than before lost its staging (it restarted): resume from there. The same
   * offset acknowledged twice while more was sent means a chunk was lost: resend from there.
   */
  onAck (index: number, received: number): void {
    if (index !== this.snapshot.meta.index) return
    this.#idleTicks = 0
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

/** Follower side: assembles the chunks of one snapshot. */
export class SnapshotReceiver {
  meta: SnapshotMeta | null = null
  chunks: Uint8Array[] = []
  received = 0

  /**
   * Takes one chunk. Returns the bytes held afterwards (to acknowledge) and whether the
   * snapshot is complete.
   */
  accept (chunk: SnapshotChunk): { received: number, complete: boolean } {
    const m = chunk.meta
    if (this.meta === null || this.meta.index !== m.index || this.meta.term !== m.term) {
      if (chunk.offset !== 0) {
        // A different snapshot than the one we were assembling: ask for it from the start.
        this.reset()
        return { received: 0, complete: false }
      }
      this.meta = m
      this.chunks = []
      this.received = 0
    }
    if (chunk.offset === this.received) {
      this.chunks.push(chunk.data)
      this.received += chunk.data.byteLength
      return { received: this.received, complete: chunk.done }
    }
    // A duplicate (offset below) or a gap (offset above): tell the leader where we are.
    return { received: this.received, complete: false }
  }

  reset (): void {
    this.meta = null
    this.chunks = []
    this.received = 0
  }
}

/** An async iterable over chunks already in memory. */
export async function * iterate (chunks: readonly Uint8Array[]): AsyncIterable<Uint8Array> {
  for (const c of chunks) yield c
}

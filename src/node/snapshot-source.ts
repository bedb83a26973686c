/**
 * Where a snapshot sender gets its chunk bodies: the stored snapshot read on demand, cut into
 * chunks of exactly `chunkBytes` (the last one shorter), with a bounded window held in memory.
 *
 * Invariants:
 * - `held` is chunks base .. readerAt - 1 of the stream, contiguous, and never more than
 *   `capacity` of them: the chunks from the lowest one the sender still needs (`release`)
 *   plus what is read ahead, so a snapshot of any size costs `capacity` chunks per transfer.
 * - One read runs at a time; `onReady` fires after each chunk that arrives, and the sender
 *   asks again (chunk() answers null meanwhile, never waits).
 * - A need below what is held (the follower went back to 0) restarts the read from the
 *   stream's start: storage streams are read forward only. That happens once per restart of
 *   a transfer, not per lost chunk (lost chunks are within the held window).
 * - A stored stream that is shorter or longer than its recorded length is an error
 *   (`onError`): the transfer is abandoned and the leader starts another later.
 */
import { createHash } from 'node:crypto'
import { QuorateError } from '../errors.js'
import type { SnapshotMeta } from '../raft/types.js'

/** What identifies and shapes a served snapshot: meta, length, digest and how it is cut. */
export interface ServedSnapshot {
  readonly meta: SnapshotMeta
  readonly totalBytes: number
  /** SHA-256 of the whole byte stream (computed when it was stored), sent with every chunk. */
  readonly digest: Uint8Array
  readonly chunkBytes: number
  /** ceil(totalBytes / chunkBytes). */
  readonly chunkCount: number
}

export function servedSnapshot (meta: SnapshotMeta, totalBytes: number, digest: Uint8Array, chunkBytes: number): ServedSnapshot {
  return { meta, totalBytes, digest, chunkBytes, chunkCount: Math.ceil(totalBytes / chunkBytes) }
}

/** Chunk bodies for one transfer. */
export interface ChunkSource {
  readonly snapshot: ServedSnapshot
  /** Chunks held in memory now. */
  readonly held: number
  /** Chunk `i` if held now; otherwise null, and it is on its way (onReady fires). */
  chunk (i: number): Uint8Array | null
  /** Byte offset where chunk `i` starts. */
  offsetOf (i: number): number
  /** The first chunk that starts at or after byte `offset` (chunkCount if none). */
  firstChunkFrom (offset: number): number
  /** The lowest chunk still needed is `lowest` (it may go back: the follower restarted at 0). */
  need (lowest: number): void
  close (): void
}

/** Length of chunk `i` of `s`. */
export function chunkLength (s: ServedSnapshot, i: number): number {
  return Math.min(s.chunkBytes, s.totalBytes - i * s.chunkBytes)
}

/** Chunks of exactly chunkBytes (the last one shorter): offsets by arithmetic. */
abstract class FixedChunks {
  abstract readonly snapshot: ServedSnapshot
  offsetOf (i: number): number { return i * this.snapshot.chunkBytes }
  firstChunkFrom (offset: number): number {
    return Math.min(this.snapshot.chunkCount, Math.ceil(offset / this.snapshot.chunkBytes))
  }
}

/**
 * Re-cuts a stream of arbitrary pieces into chunks of exactly `size` bytes (the last may be
 * shorter). A piece that holds a whole chunk is passed on as a view; only chunks that span
 * pieces are copied.
 */
export async function * rechunk (stream: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let buf: Uint8Array | null = null
  let fill = 0
  for await (const piece of stream) {
    let at = 0
    while (at < piece.byteLength) {
      if (fill === 0 && piece.byteLength - at >= size) {
        yield piece.subarray(at, at + size)
        at += size
        continue
      }
      buf ??= new Uint8Array(size)
      const n = Math.min(size - fill, piece.byteLength - at)
      buf.set(piece.subarray(at, at + n), fill)
      fill += n
      at += n
      if (fill === size) {
        yield buf
        buf = null
        fill = 0
      }
    }
  }
  if (fill > 0) yield buf!.subarray(0, fill)
}

export interface StoredChunkSourceOptions {
  readonly snapshot: ServedSnapshot
  /** Opens the stored stream from its start (called again after a rewind). */
  readonly open: () => Promise<AsyncIterable<Uint8Array>>
  /** Most chunks held at once; at least the sender's window. */
  readonly capacity: number
  readonly onReady: () => void
  readonly onError: (err: unknown) => void
}

export class StoredChunkSource extends FixedChunks implements ChunkSource {
  readonly snapshot: ServedSnapshot
  readonly #open: () => Promise<AsyncIterable<Uint8Array>>
  readonly #capacity: number
  readonly #onReady: () => void
  readonly #onError: (err: unknown) => void
  #held: Uint8Array[] = []
  #base = 0
  #readerAt = 0
  #need = 0
  #reader: AsyncIterator<Uint8Array> | null = null
  #reading = false
  #closed = false

  constructor (options: StoredChunkSourceOptions) {
    super()
    this.snapshot = options.snapshot
    this.#open = options.open
    this.#capacity = Math.max(1, options.capacity)
    this.#onReady = options.onReady
    this.#onError = options.onError
  }

  get held (): number { return this.#held.length }

  chunk (i: number): Uint8Array | null {
    const at = i - this.#base
    if (at >= 0 && at < this.#held.length) return this.#held[at]!
    this.#kick()
    return null
  }

  need (lowest: number): void {
    this.#need = Math.max(0, Math.min(lowest, this.snapshot.chunkCount))
    this.#dropBelowNeed()
    this.#kick()
  }

  close (): void {
    this.#closed = true
    this.#held = []
    this.#closeReader()
  }

  #dropBelowNeed (): void {
    if (this.#need < this.#base) return
    const drop = Math.min(this.#held.length, this.#need - this.#base)
    if (drop > 0) this.#held.splice(0, drop)
    this.#base += drop
    if (this.#held.length === 0) this.#base = this.#readerAt
  }

  #kick (): void {
    if (this.#reading || this.#closed) return
    this.#reading = true
    this.#read().then(() => { this.#reading = false }, (err: unknown) => {
      this.#reading = false
      if (this.#closed) return
      this.close()
      this.#onError(err)
    })
  }

  /** Reads forward until the window [need, need + capacity) is held. */
  async #read (): Promise<void> {
    const s = this.snapshot
    while (!this.#closed) {
      if (this.#need < this.#base) {
        // The follower went back (to 0): the stream can only be read again from its start.
        this.#closeReader()
        this.#held = []
        this.#base = 0
        this.#readerAt = 0
      }
      const hi = Math.min(s.chunkCount, this.#need + this.#capacity)
      if (this.#readerAt >= hi) return
      this.#reader ??= rechunk(await this.#open(), s.chunkBytes)[Symbol.asyncIterator]()
      const next = await this.#reader.next()
      if (this.#closed) return
      const i = this.#readerAt
      if (next.done === true || next.value.byteLength !== chunkLength(s, i)) {
        throw new QuorateError('STORAGE_CORRUPT', `snapshot ${s.meta.index}: the stored stream does not match its recorded length of ${s.totalBytes} bytes (chunk ${i})`)
      }
      this.#readerAt++
      if (i >= this.#need && i >= this.#base) {
        this.#held.push(next.value)
        this.#onReady()
      }
      this.#dropBelowNeed()
    }
  }

  #closeReader (): void {
    const r = this.#reader
    this.#reader = null
    void r?.return?.()?.catch(() => {})
  }
}

/**
 * A source over a stream already in memory (tests, and tools that build a snapshot to send
 * by hand): the same cutting as a stored snapshot, nothing to read.
 */
export class MemoryChunkSource extends FixedChunks implements ChunkSource {
  readonly snapshot: ServedSnapshot
  readonly #bytes: Uint8Array

  constructor (meta: SnapshotMeta, bytes: Uint8Array, chunkBytes: number) {
    super()
    this.#bytes = bytes
    this.snapshot = servedSnapshot(meta, bytes.byteLength, new Uint8Array(createHash('sha256').update(bytes).digest()), chunkBytes)
  }

  get held (): number { return this.snapshot.chunkCount }

  chunk (i: number): Uint8Array {
    const cb = this.snapshot.chunkBytes
    return this.#bytes.subarray(i * cb, i * cb + chunkLength(this.snapshot, i))
  }

  need (_lowest: number): void {}
  close (): void {}
}

/**
 * The sender before transfers streamed, for the snapshotResumeAcrossLeaders mutant only: the
 * whole stream collected into memory and cut where the stored pieces end as well as every
 * chunkBytes, so chunk offsets follow the state machine's pieces. The old resume rules loop on
 * exactly such chunkings; the simulator's check of that mutant depends on them.
 */
export class PieceChunkSource implements ChunkSource {
  readonly snapshot: ServedSnapshot
  readonly #chunks: readonly Uint8Array[]
  readonly #offsets: readonly number[]

  private constructor (snapshot: ServedSnapshot, chunks: Uint8Array[], offsets: number[]) {
    this.snapshot = snapshot
    this.#chunks = chunks
    this.#offsets = offsets
  }

  static async collect (meta: SnapshotMeta, stream: AsyncIterable<Uint8Array>, chunkBytes: number): Promise<PieceChunkSource> {
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
    const snapshot = { meta, totalBytes: total, digest: new Uint8Array(hash.digest()), chunkBytes, chunkCount: chunks.length }
    return new PieceChunkSource(snapshot, chunks, offsets)
  }

  get held (): number { return this.#chunks.length }
  chunk (i: number): Uint8Array { return this.#chunks[i]! }
  offsetOf (i: number): number { return this.#offsets[i] ?? this.snapshot.totalBytes }

  firstChunkFrom (offset: number): number {
    const offs = this.#offsets
    let lo = 0
    let hi = offs.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (offs[mid]! < offset) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  need (_lowest: number): void {}
  close (): void {}
}

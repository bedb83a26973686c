/**
 * Length-prefixed framing for a byte stream: each frame is a 4-byte big-endian unsigned
 * length followed by that many bytes (one encoded `Frame`, see codec.ts).
 *
 * `FrameDecoder` turns arbitrary TCP chunks back into frames. It checks every announced
 * length against `maxFrameBytes` before it buffers or allocates anything for that frame,
 * returns a frame that lies inside one chunk as a view (no copy), and copies a frame split
 * across chunks exactly once into a buffer of the frame's size: each byte is copied at
 * most once, so feeding a frame in n pieces costs O(size), never O(size * n).
 */
import { QuorateError } from '../errors.js'
import { readU32, writeU32 } from '../util/bytes.js'
import { encodeFrame, type WireFrame } from './codec.js'

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4

/** Default largest frame body accepted: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024

/** The 4-byte length field caps any frame at 2^32 - 1 bytes. */
export const MAX_FRAME_BYTES_LIMIT = 0xffffffff

/** Encodes `frame` with its length prefix, in one Buffer, ready for one `socket.write`. */
export function encodeLengthPrefixed (frame: WireFrame): Buffer {
  const buf = encodeFrame(frame, FRAME_HEADER_BYTES)
  writeU32(buf, buf.length - FRAME_HEADER_BYTES, 0)
  return buf
}

export class FrameDecoder {
  #maxFrameBytes: number
  /** Chunks from index `#head` on are unconsumed; chunk `#head` starts at `#offset`. */
  #chunks: Uint8Array[] = []
  #head = 0
  #offset = 0
  #buffered = 0
  /** Body length of the frame being assembled, or -1 while its header is incomplete. */
  #pending = -1
  #failed: QuorateError | null = null

  constructor (maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes
  }

  /** The limit for frames whose header has not been read yet (lets a handshake use a small one). */
  get maxFrameBytes (): number { return this.#maxFrameBytes }
  set maxFrameBytes (value: number) { this.#maxFrameBytes = value }

  /** Bytes received but not yet returned as frames. Never above maxFrameBytes + 3 plus one chunk. */
  get bufferedBytes (): number { return this.#buffered }

  /** Appends a chunk. The decoder keeps a reference to it: do not modify it afterwards. */
  push (chunk: Uint8Array): void {
    if (this.#failed !== null) throw this.#failed
    if (chunk.byteLength === 0) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.byteLength
  }

  /**
   * The next complete frame body, or null if more bytes are needed. Throws
   * WIRE_FRAME_TOO_LARGE as soon as a header announces more than maxFrameBytes; after
   * that the decoder stays failed (the stream cannot be resynchronised).
   */
  next (): Uint8Array | null {
    if (this.#failed !== null) throw this.#failed
    if (this.#pending < 0) {
      if (this.#buffered < FRAME_HEADER_BYTES) return null
      const length = this.#readHeader()
      if (length > this.#maxFrameBytes) {
        this.#failed = new QuorateError('WIRE_FRAME_TOO_LARGE', `Frame of ${length} bytes exceeds maxFrameBytes (${this.#maxFrameBytes})`, {
          details: { length, maxFrameBytes: this.#maxFrameBytes }
        })
        this.#chunks = []
        this.#head = 0
        this.#buffered = 0
        throw this.#failed
      }
      this.#pending = length
    }
    const length = this.#pending
    if (this.#buffered < length) return null
    this.#pending = -1
    return this.#take(length)
  }

  #readHeader (): number {
    const first = this.#chunks[this.#head]!
    if (first.byteLength - this.#offset >= FRAME_HEADER_BYTES) {
      const o = this.#offset
      const length = readU32(first, o)
      this.#consume(FRAME_HEADER_BYTES)
      return length
    }
    const header = this.#take(FRAME_HEADER_BYTES)
    return readU32(header, 0)
  }

  /** Removes `n` bytes (n <= buffered) from the front without returning them. */
  #consume (n: number): void {
    this.#buffered -= n
    while (n > 0) {
      const available = this.#chunks[this.#head]!.byteLength - this.#offset
      if (n < available) { this.#offset += n; return }
      n -= available
      this.#dropHead()
    }
  }

  /** Drops the first chunk; compacts the array now and then so it never grows without bound. */
  #dropHead (): void {
    this.#offset = 0
    this.#head++
    if (this.#head === this.#chunks.length) {
      this.#chunks = []
      this.#head = 0
    } else if (this.#head >= 64 && this.#head * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head)
      this.#head = 0
    }
  }

  /** Removes and returns `n` bytes (n <= buffered): a view if they lie in one chunk. */
  #take (n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0)
    const first = this.#chunks[this.#head]!
    if (first.byteLength - this.#offset >= n) {
      const view = first.subarray(this.#offset, this.#offset + n)
      this.#consume(n)
      return view
    }
    const out = Buffer.allocUnsafe(n)
    let written = 0
    while (written < n) {
      const chunk = this.#chunks[this.#head]!
      const part = Math.min(n - written, chunk.byteLength - this.#offset)
      out.set(chunk.subarray(this.#offset, this.#offset + part), written)
      written += part
      this.#consume(part)
    }
    return out
  }
}

/**
 * The client endpoint's binary protocol (`Upgrade: quorate-client/1`, see stream-server.ts):
 * pipelined, length-prefixed frames on one TLS connection, answered in any order.
 *
 *   request:  u32 length | u32 id | u8 op     | body      (big-endian; length counts id, op, body)
 *   response: u32 length | u32 id | u8 status | body
 *
 * Ops: PROPOSE (body: a routed log command, `[id length][member id][payload]`, as
 * Route.command makes it), READ (body: UTF-8 JSON array of kv keys), STATUS (body: one byte,
 * 1 = with the state hash). Statuses: OK (body: the result, jsonResultCodec-encoded),
 * ERROR_VALUE (the state machine answered a QuorateError value; body: JSON {code, message}),
 * FAILED (the request was refused; body: JSON ClientFailure {code, message, leader}).
 */
import type { Socket } from 'node:net'

export const STREAM_PROTOCOL = 'quorate-client/1'

export const OP_PROPOSE = 1
export const OP_READ = 2
export const OP_STATUS = 3

export const STATUS_OK = 0
export const STATUS_ERROR_VALUE = 1
export const STATUS_FAILED = 2

/** Bytes before a frame's body: length, id, op/status. */
export const FRAME_HEADER_BYTES = 9

/** One frame; `prefix` (if given) goes before `body`, saving the caller a concatenation. */
export function encodeFrame (id: number, kind: number, body: Uint8Array, prefix?: Uint8Array): Buffer {
  const head = prefix?.byteLength ?? 0
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + head + body.byteLength)
  frame.writeUInt32BE(5 + head + body.byteLength, 0)
  frame.writeUInt32BE(id, 4)
  frame[8] = kind
  if (prefix !== undefined) frame.set(prefix, FRAME_HEADER_BYTES)
  frame.set(body, FRAME_HEADER_BYTES + head)
  return frame
}

/**
 * Splits a byte stream into frames: `onFrame(id, kind, body)` for each (`body` is a view valid
 * only during the call), `onOversized(length)` once a frame announces more than `maxFrameBytes`
 * (the reader then stops: the stream cannot be resynchronised). Partial frames are kept as a
 * list of chunks and joined once, when complete, so a large frame costs one copy.
 */
export function frameReader (
  maxFrameBytes: number,
  onFrame: (id: number, kind: number, body: Buffer) => void,
  onOversized: (length: number) => void
): (chunk: Buffer) => void {
  let parts: Buffer[] = []
  let buffered = 0
  let need = 4
  let stopped = false
  return (chunk) => {
    if (stopped) return
    let buf: Buffer
    if (buffered === 0) {
      buf = chunk
    } else {
      parts.push(chunk)
      buffered += chunk.length
      if (buffered < need) return
      buf = Buffer.concat(parts, buffered)
      parts = []
      buffered = 0
    }
    let off = 0
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off)
      if (len < 5 || len > maxFrameBytes + 5) { stopped = true; onOversized(len); return }
      if (buf.length - off < 4 + len) { need = 4 + len; break }
      onFrame(buf.readUInt32BE(off + 4), buf[off + 8]!, buf.subarray(off + FRAME_HEADER_BYTES, off + 4 + len))
      off += 4 + len
      need = 4
    }
    if (off < buf.length) {
      parts.push(buf.subarray(off))
      buffered = buf.length - off
    }
  }
}

/**
 * Writes every frame pushed within one turn of the event loop with one socket write: the
 * socket is corked on the first push and uncorked from process.nextTick, after the current
 * microtasks (so after every proposal resolved by the same apply batch). Each frame is its
 * own Buffer and its own write request (the benchmark's minimal protocol keeps this writer;
 * the client protocol uses FrameBatch, which has neither).
 */
export class CorkedWriter {
  readonly #socket: Socket
  #corked = false
  readonly #uncork = (): void => { this.#corked = false; this.#socket.uncork() }

  constructor (socket: Socket) { this.#socket = socket }

  push (frame: Buffer): void {
    if (!this.#socket.writable) return
    if (!this.#corked) {
      this.#corked = true
      this.#socket.cork()
      process.nextTick(this.#uncork)
    }
    this.#socket.write(frame)
  }
}

/** A batch buffer grown past this is dropped after its write, so one huge answer does not pin memory for the connection's life. */
const MAX_KEPT_BATCH_BYTES = 1 << 20

/**
 * The frames of one turn of the event loop, encoded straight into one buffer and handed to
 * the socket in one write from process.nextTick (after the current microtasks, so after every
 * proposal one apply batch resolved): no Buffer, no write request and no callback per frame.
 *
 * Invariant: the buffer handed to `socket.write` is written again only if the socket took it
 * synchronously (`writableLength` back at 0: sent, or for TLS encrypted, before write
 * returned); otherwise the stream still holds it and the next batch gets a fresh buffer.
 */
export class FrameBatch {
  readonly #socket: Socket
  readonly #initialBytes: number
  #buf: Buffer
  #len = 0
  #scheduled = false
  readonly #flush = (): void => {
    this.#scheduled = false
    const out = this.#buf.subarray(0, this.#len)
    this.#len = 0
    if (!this.#socket.writable) return
    this.#socket.write(out)
    if (this.#socket.writableLength !== 0 || this.#buf.length > MAX_KEPT_BATCH_BYTES) this.#buf = Buffer.allocUnsafe(this.#initialBytes)
  }

  constructor (socket: Socket, initialBytes = 16 * 1024) {
    this.#socket = socket
    this.#initialBytes = initialBytes
    this.#buf = Buffer.allocUnsafe(initialBytes)
  }

  /**
   * Hands what this turn pushed to the socket now, then ends the socket: the answer that
   * explains why a connection is closed (a frame too large or too short to read) is written
   * before the close, not dropped by a flush scheduled after it.
   */
  end (): void {
    if (this.#len > 0) this.#flush()
    this.#socket.end()
  }

  /** Frames pushed this turn, not yet handed to the socket. */
  get pendingBytes (): number { return this.#len }

  /** Appends one frame: header, then `prefix` (if given), then `body`. */
  push (id: number, kind: number, body: Uint8Array, prefix?: Uint8Array): void {
    const head = prefix?.byteLength ?? 0
    const at = this.#frame(id, kind, head + body.byteLength)
    if (prefix !== undefined) this.#buf.set(prefix, at)
    this.#buf.set(body, at + head)
  }

  /**
   * Appends one frame whose body is the byte `tag` (none if `tag` < 0) then the UTF-8 of
   * `text`: a JSON answer without an intermediate buffer. The text is written in place (room
   * for the worst case is reserved), then the frame's length patched.
   */
  pushText (id: number, kind: number, text: string, tag = -1): void {
    const tagBytes = tag < 0 ? 0 : 1
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    const body = this.#frame(id, kind, tagBytes + 3 * text.length)
    if (tagBytes === 1) this.#buf[body] = tag
    const written = this.#buf.write(text, body + tagBytes, 'utf8')
    this.#buf.writeUInt32BE(5 + tagBytes + written, body - FRAME_HEADER_BYTES)
    this.#len = body + tagBytes + written
  }

  /** Reserves a frame with `bodyBytes` of body, writes its header and returns where the body goes. */
  #frame (id: number, kind: number, bodyBytes: number): number {
    const at = this.#len
    const end = at + FRAME_HEADER_BYTES + bodyBytes
    if (end > this.#buf.length) {
      const next = Buffer.allocUnsafe(Math.max(end, this.#buf.length * 2))
      this.#buf.copy(next, 0, 0, at)
      this.#buf = next
    }
    const buf = this.#buf
    buf.writeUInt32BE(5 + bodyBytes, at)
    buf.writeUInt32BE(id, at + 4)
    buf[at + 8] = kind
    this.#len = end
    if (!this.#scheduled) {
      this.#scheduled = true
      process.nextTick(this.#flush)
    }
    return at + FRAME_HEADER_BYTES
  }
}

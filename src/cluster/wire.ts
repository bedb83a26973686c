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
 * microtasks (so after every proposal resolved by the same apply batch).
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

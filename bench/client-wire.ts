/**
 * The benchmark's client protocol over loopback TCP, kept as cheap as possible so it does not
 * dominate what is measured. Every frame is `u32 length | u32 request id | body` (big-endian;
 * length counts id + body). A request body is the command; a response body is one status
 * byte (0 = committed and applied, 1 = failed).
 */

import { connect } from 'node:net'
import { CorkedWriter } from '../src/cluster/wire.js'

export const STATUS_OK = 0
export const STATUS_FAILED = 1
const HEADER = 8

export function encodeFrame (id: number, body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(HEADER + body.byteLength)
  frame.writeUInt32BE(4 + body.byteLength, 0)
  frame.writeUInt32BE(id, 4)
  frame.set(body, HEADER)
  return frame
}

/** Calls `onFrame(id, body)` for every complete frame; `body` is a view valid only during the call. */
export function frameReader (onFrame: (id: number, body: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer | null = null
  return (chunk) => {
    let buf = pending === null ? chunk : Buffer.concat([pending, chunk])
    let off = 0
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off)
      if (buf.length - off < 4 + len) break
      onFrame(buf.readUInt32BE(off + 4), buf.subarray(off + HEADER, off + 4 + len))
      off += 4 + len
    }
    pending = off === buf.length ? null : buf.subarray(off)
    if (pending !== null && off > 0) buf = pending
  }
}

/**
 * Writes every frame pushed before the next tick with one socket write (corked on the first
 * push, uncorked from process.nextTick): the same writer the client endpoint uses.
 */
export { CorkedWriter as FrameWriter } from '../src/cluster/wire.js'

/**
 * Opens one load-generator connection to a node's benchmark client port (127.0.0.1): frames
 * go to `onFrame`; `onClose` runs once the socket closes, so the caller can fail what waits
 * (a node that went away answers nothing more, and no benchmark may stall forever).
 */
export async function openFrameConnection (port: number, onFrame: (id: number, body: Buffer) => void, onClose: () => void): Promise<CorkedWriter> {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.on('error', () => {})
  socket.on('data', frameReader(onFrame))
  socket.once('close', onClose)
  return new CorkedWriter(socket)
}

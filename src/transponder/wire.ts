/**
 * The downlink wire between agents and a transponder: length-prefixed frames (the transport's
 * FrameDecoder) over mutual TLS, one connection per agent.
 *
 * Why a wire of its own instead of a frame kind in tcpTransport's: tcpTransport is a Raft
 * Transport — its peers are the cluster's members, its frames carry Raft messages, and its
 * contract ("may lose, duplicate, reorder") suits Raft's retries, not request/acknowledge.
 * Agents are not members, and the relay needs per-request acknowledgement. The rule the TCP
 * transport enforces carries over: the connection's certificate identity is the agent, and
 * the relay refuses an envelope whose signed sender is anyone else.
 *
 * Frame body: kind (1 byte) then
 *   0 HELLO          utf8 id                  (insecure mode only: TLS names the agent otherwise)
 *   1 HEARTBEAT      -                        (both ways: the transponder answers each one)
 *   2 SUBMIT         u32 request, envelope    (agent -> transponder)
 *   3 SUBMIT_RESULT  u32 request, u8 status (0 acknowledged, 1 filtered, 2 refused), utf8 code
 *   4 COMMAND        u32 request, envelope    (transponder -> agent)
 *   5 COMMAND_RESULT u32 request, u8 ok, then the reply envelope (ok) or utf8 code (not ok)
 */
import { QuorateError } from '../errors.js'
import { ByteReader, ByteWriter, writeU32 } from '../util/bytes.js'
import { FRAME_HEADER_BYTES } from '../transport/framing.js'

export type DownlinkFrame =
  | { readonly kind: 'hello', readonly id: string }
  | { readonly kind: 'heartbeat' }
  | { readonly kind: 'submit', readonly request: number, readonly envelope: Uint8Array }
  | { readonly kind: 'submit-result', readonly request: number, readonly status: 'acknowledged' | 'filtered' | 'refused', readonly code: string }
  | { readonly kind: 'command', readonly request: number, readonly envelope: Uint8Array }
  | { readonly kind: 'command-result', readonly request: number, readonly ok: boolean, readonly reply: Uint8Array, readonly code: string }

const KINDS = ['hello', 'heartbeat', 'submit', 'submit-result', 'command', 'command-result'] as const
const STATUSES = ['acknowledged', 'filtered', 'refused'] as const

/** A writer for one frame of `size` bytes or so: room for the length prefix, then the kind byte. */
export function frameWriter (kind: number, size: number): ByteWriter {
  const w = new ByteWriter(size)
  w.u32(0)
  w.byte(kind)
  return w
}

/** The written frame with its length prefix filled in, ready for one socket write. */
export function finishFrame (w: ByteWriter): Uint8Array {
  const out = w.finish()
  writeU32(out, out.byteLength - FRAME_HEADER_BYTES, 0)
  return out
}

/** A reader of a frame body past its kind byte. Throws WIRE_UNKNOWN_TYPE for a kind not in `kinds`. */
export function frameReader<K extends string> (body: Uint8Array, kinds: readonly K[], wire: string): { r: ByteReader, kind: K } {
  const r = new ByteReader(body, 'WIRE_MALFORMED')
  const kind = kinds[r.byte()]
  if (kind === undefined) throw new QuorateError('WIRE_UNKNOWN_TYPE', `Unknown ${wire} frame kind ${body[0]!}`)
  return { r, kind }
}

/** The frame with its 4-byte length prefix, ready for one socket write. */
export function encodeDownlinkFrame (frame: DownlinkFrame): Uint8Array {
  const w = frameWriter(KINDS.indexOf(frame.kind), 64 + ('envelope' in frame ? frame.envelope.byteLength : 'reply' in frame ? frame.reply.byteLength : 0))
  switch (frame.kind) {
    case 'hello': w.utf8(frame.id); break
    case 'heartbeat': break
    case 'submit': case 'command': w.u32(frame.request); w.bytes(frame.envelope); break
    case 'submit-result': w.u32(frame.request); w.byte(STATUSES.indexOf(frame.status)); w.utf8(frame.code); break
    case 'command-result':
      w.u32(frame.request); w.byte(frame.ok ? 1 : 0)
      if (frame.ok) w.bytes(frame.reply); else w.utf8(frame.code)
      break
  }
  return finishFrame(w)
}

/** A frame body (without its length prefix). Throws WIRE_MALFORMED or WIRE_UNKNOWN_TYPE. */
export function decodeDownlinkFrame (body: Uint8Array): DownlinkFrame {
  const { r, kind } = frameReader(body, KINDS, 'downlink')
  const rest = (): Uint8Array => r.bytes(r.remaining)
  let frame: DownlinkFrame
  switch (kind) {
    case 'hello': frame = { kind, id: r.utf8() }; break
    case 'heartbeat': frame = { kind }; break
    case 'submit': case 'command': frame = { kind, request: r.u32(), envelope: rest() }; break
    case 'submit-result': {
      const request = r.u32()
      const status = STATUSES[r.byte()] ?? r.fail('unknown status')
      frame = { kind, request, status, code: r.utf8() }
      break
    }
    case 'command-result': {
      const request = r.u32()
      const ok = r.byte() === 1
      frame = ok ? { kind, request, ok, reply: rest(), code: '' } : { kind, request, ok, reply: new Uint8Array(0), code: r.utf8() }
      break
    }
  }
  r.end()
  return frame
}

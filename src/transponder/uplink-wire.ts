/**
 * The uplink wire between a transponder and the tracking station: the same length-prefixed
 * frames as the downlink (FrameDecoder) over mutual TLS, one connection per transponder.
 *
 * Frame body: kind (1 byte) then
 *   0 HELLO      utf8 id                           (insecure mode only: TLS names the transponder otherwise)
 *   1 BATCH      u32 request, UplinkBatch          (transponder -> station)
 *   2 BATCH_ACK  u32 request, u8 ok, utf8 code, utf8 message   (station -> transponder, after commit)
 *   3 ERROR      utf8 code, utf8 message           (station -> transponder, then it closes: a malformed frame)
 *   4 DELIVER    u32 request, varint n, chunk each (station -> transponder: a downward batch of command envelopes)
 *   5 DELIVERED  u32 request, varint n, then per target: utf8 target, utf8 id, u8 ok,
 *                chunk reply (ok) or utf8 code, utf8 message   (transponder -> station: Transponder.deliver's results)
 *
 * UplinkBatch: utf8 transponder, utf8 producer ('' = none), u64 seq, joined (varint n, utf8 each),
 * left (same), u8 has-alive then alive (same), envelopes (varint n, chunk each).
 *
 * (producer, seq) names one batch: the producer is drawn when the transponder opens, so a
 * restarted transponder (seq from 1 again) is a new producer, and a retry of a batch after a
 * reconnect carries the same pair — the station appends it once.
 */
import type { ByteReader, ByteWriter } from '../util/bytes.js'
import { finishFrame, frameReader, frameWriter } from './wire.js'
import type { DeliveryResult, UplinkBatch } from './relay.js'

export type UplinkFrame =
  | { readonly kind: 'hello', readonly id: string }
  | { readonly kind: 'batch', readonly request: number, readonly batch: UplinkBatch }
  | { readonly kind: 'batch-ack', readonly request: number, readonly ok: boolean, readonly code: string, readonly message: string }
  | { readonly kind: 'error', readonly code: string, readonly message: string }
  | { readonly kind: 'deliver', readonly request: number, readonly commands: readonly Uint8Array[] }
  | { readonly kind: 'delivered', readonly request: number, readonly results: readonly DeliveryResult[] }

const KINDS = ['hello', 'batch', 'batch-ack', 'error', 'deliver', 'delivered'] as const

/** @default 4 MiB: a full batch (1 MiB of envelopes) plus a full alive set of many thousand ids. */
export const DEFAULT_UPLINK_MAX_FRAME_BYTES = 4 * 1024 * 1024

function writeIds (w: ByteWriter, ids: readonly string[]): void {
  w.varint(ids.length)
  for (const id of ids) w.utf8(id)
}

function readIds (r: ByteReader): string[] {
  const n = r.varint()
  // Each id takes at least its 4-byte length: a count beyond what is left is a lie, not an allocation.
  if (n * 4 > r.remaining) r.fail('id count beyond the frame')
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push(r.utf8())
  return ids
}

/** The frame with its 4-byte length prefix, ready for one socket write. */
export function encodeUplinkFrame (frame: UplinkFrame): Uint8Array {
  let size = 64
  if (frame.kind === 'batch') for (const e of frame.batch.envelopes) size += e.byteLength + 5
  if (frame.kind === 'deliver') for (const e of frame.commands) size += e.byteLength + 5
  const w = frameWriter(KINDS.indexOf(frame.kind), size)
  switch (frame.kind) {
    case 'hello': w.utf8(frame.id); break
    case 'batch': {
      const b = frame.batch
      w.u32(frame.request)
      w.utf8(b.transponder); w.utf8(b.producer ?? ''); w.u64(b.seq)
      writeIds(w, b.joined); writeIds(w, b.left)
      w.byte(b.alive === null ? 0 : 1)
      if (b.alive !== null) writeIds(w, b.alive)
      w.varint(b.envelopes.length)
      for (const e of b.envelopes) w.chunk(e)
      break
    }
    case 'batch-ack': w.u32(frame.request); w.byte(frame.ok ? 1 : 0); w.utf8(frame.code); w.utf8(frame.message); break
    case 'error': w.utf8(frame.code); w.utf8(frame.message); break
    case 'deliver':
      w.u32(frame.request); w.varint(frame.commands.length)
      for (const c of frame.commands) w.chunk(c)
      break
    case 'delivered':
      w.u32(frame.request); w.varint(frame.results.length)
      for (const r of frame.results) {
        w.utf8(r.target); w.utf8(r.id); w.byte(r.ok ? 1 : 0)
        if (r.ok) w.chunk(r.reply); else { w.utf8(r.code); w.utf8(r.message) }
      }
      break
  }
  return finishFrame(w)
}

/** A frame body (without its length prefix). Throws WIRE_MALFORMED or WIRE_UNKNOWN_TYPE. */
export function decodeUplinkFrame (body: Uint8Array): UplinkFrame {
  const { r, kind } = frameReader(body, KINDS, 'uplink')
  let frame: UplinkFrame
  switch (kind) {
    case 'hello': frame = { kind, id: r.utf8() }; break
    case 'batch': {
      const request = r.u32()
      const transponder = r.utf8()
      const producer = r.utf8()
      const seq = r.u64()
      if (seq < 0) r.fail('seq beyond 2^53')
      const joined = readIds(r)
      const left = readIds(r)
      const hasAlive = r.byte()
      if (hasAlive > 1) r.fail('bad alive flag')
      const alive = hasAlive === 1 ? readIds(r) : null
      const n = r.varint()
      if (n > r.remaining) r.fail('envelope count beyond the frame')
      const envelopes: Uint8Array[] = []
      for (let i = 0; i < n; i++) envelopes.push(r.chunk())
      const batch: UplinkBatch = producer === ''
        ? { transponder, seq, joined, left, alive, envelopes }
        : { transponder, producer, seq, joined, left, alive, envelopes }
      frame = { kind, request, batch }
      break
    }
    case 'batch-ack': {
      const request = r.u32()
      const ok = r.byte()
      if (ok > 1) r.fail('bad ok flag')
      frame = { kind, request, ok: ok === 1, code: r.utf8(), message: r.utf8() }
      break
    }
    case 'error': frame = { kind, code: r.utf8(), message: r.utf8() }; break
    case 'deliver': {
      const request = r.u32()
      const n = r.varint()
      if (n > r.remaining) r.fail('command count beyond the frame')
      const commands: Uint8Array[] = []
      for (let i = 0; i < n; i++) commands.push(r.chunk())
      frame = { kind, request, commands }
      break
    }
    case 'delivered': {
      const request = r.u32()
      const n = r.varint()
      if (n * 9 > r.remaining) r.fail('result count beyond the frame')
      const results: DeliveryResult[] = []
      for (let i = 0; i < n; i++) {
        const target = r.utf8()
        const id = r.utf8()
        const ok = r.byte()
        if (ok > 1) r.fail('bad ok flag')
        results.push(ok === 1 ? { target, id, ok: true, reply: r.chunk() } : { target, id, ok: false, code: r.utf8(), message: r.utf8() })
      }
      frame = { kind, request, results }
      break
    }
  }
  r.end()
  return frame
}

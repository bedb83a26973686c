/**
 * The response body of the HA benchmarks (bench/ha-b2.ts), on the client protocol of
 * client-wire.ts: the first byte is the status, so a plain B2 client reading only
 * `body[0] === STATUS_OK` still understands it; what follows depends on the status.
 *
 *   STATUS_OK        [0][index: u48, optional]   committed and applied (an emit was stored)
 *   STATUS_FAILED    [1]                         the proposal failed (no leader, dropped)
 *   STATUS_DUPLICATE [2][index: u48]             an emit answered 'duplicate': not stored again
 *   STATUS_REFUSED   [3][code: ASCII]            committed, and the state machine refused it
 *
 * The index is the log index the graph machine reported (a transaction's commit index, which
 * is the new version of every resource it touched; for a duplicate, where the event was first
 * stored), so a client can chain compare-and-set transactions.
 */
import { STATUS_FAILED, STATUS_OK } from './client-wire.js'

export { STATUS_FAILED, STATUS_OK }
export const STATUS_DUPLICATE = 2
export const STATUS_REFUSED = 3

export interface HaResponse {
  readonly status: number
  /** The index that came with OK / DUPLICATE, or -1. */
  readonly index: number
  /** The refusal's error code ('' unless REFUSED). */
  readonly code: string
}

const INDEX_BYTES = 6
/** The status-only bodies, shared (encodeFrame copies a body into its frame). */
const BARE = [0, 1, 2, 3].map((status) => Uint8Array.of(status))

export function encodeHaResponse (status: number, index = -1, code = ''): Uint8Array {
  if (status === STATUS_REFUSED) {
    const out = Buffer.allocUnsafe(1 + code.length)
    out[0] = status
    out.write(code, 1, 'latin1')
    return out
  }
  if (index < 0) return BARE[status] ?? Uint8Array.of(status)
  const out = Buffer.allocUnsafe(1 + INDEX_BYTES)
  out[0] = status
  out.writeUIntBE(index, 1, INDEX_BYTES)
  return out
}

export function decodeHaResponse (body: Uint8Array): HaResponse {
  const status = body[0] ?? STATUS_FAILED
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (status === STATUS_REFUSED) return { status, index: -1, code: buf.toString('latin1', 1) }
  return { status, index: body.length >= 1 + INDEX_BYTES ? buf.readUIntBE(1, INDEX_BYTES) : -1, code: '' }
}

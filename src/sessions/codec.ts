/**
 * Byte layouts for client sessions: the command envelope a ClientSession proposes and the
 * default codec for the results a SessionStateMachine snapshot carries.
 *
 * Envelope (every number an unsigned LEB128 varint over safe integers):
 *
 *   version (01) | kind | fields
 *   kind 01 register: no fields. The entry's log index becomes the client id.
 *   kind 02 command:  clientId, seq, firstUnacknowledged, then the payload (rest of the bytes).
 *   kind 03 close:    clientId.
 *
 * Every command a SessionStateMachine applies is an envelope (a malformed one is refused,
 * never passed to the inner machine); to mix session and plain commands on one log, mount
 * the SessionStateMachine on a StateMachineRouter beside the other members, which tags
 * commands by member instead of by magic bytes.
 */
import { QuorateError } from '../errors.js'
import { ByteReader } from '../util/bytes.js'

const ENVELOPE_VERSION = 1
const HEADER_BYTES = 2

export const KIND_REGISTER = 1
export const KIND_COMMAND = 2
export const KIND_CLOSE = 3

/** A decoded envelope. `payload` is a view into the command, not a copy. */
export type SessionEnvelope =
  | { readonly kind: typeof KIND_REGISTER }
  | { readonly kind: typeof KIND_COMMAND, readonly clientId: number, readonly seq: number, readonly firstUnacknowledged: number, readonly payload: Uint8Array }
  | { readonly kind: typeof KIND_CLOSE, readonly clientId: number }

function varintSize (n: number): number {
  let size = 1
  while (n >= 0x80) { n = Math.floor(n / 0x80); size++ }
  return size
}

function writeVarint (buf: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
  }
  buf[at++] = n
  return at
}

function header (buf: Uint8Array, kind: number): void {
  buf[0] = ENVELOPE_VERSION
  buf[1] = kind
}

function checkPositive (n: number, field: string): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new QuorateError('SESSION_ENVELOPE_INVALID', `session envelope: ${field} must be a positive safe integer (got ${String(n)})`)
}

export function encodeRegister (): Uint8Array {
  const buf = new Uint8Array(HEADER_BYTES)
  header(buf, KIND_REGISTER)
  return buf
}

export function encodeClose (clientId: number): Uint8Array {
  checkPositive(clientId, 'clientId')
  const buf = new Uint8Array(HEADER_BYTES + varintSize(clientId))
  header(buf, KIND_CLOSE)
  writeVarint(buf, HEADER_BYTES, clientId)
  return buf
}

/** Wraps `payload` with its session coordinates in one allocation. */
export function encodeSessionCommand (clientId: number, seq: number, firstUnacknowledged: number, payload: Uint8Array): Uint8Array {
  checkPositive(clientId, 'clientId')
  checkPositive(seq, 'seq')
  checkPositive(firstUnacknowledged, 'firstUnacknowledged')
  if (firstUnacknowledged > seq) throw new QuorateError('SESSION_ENVELOPE_INVALID', `session envelope: firstUnacknowledged ${firstUnacknowledged} is above seq ${seq} (a command in flight is unacknowledged)`)
  const fixed = HEADER_BYTES + varintSize(clientId) + varintSize(seq) + varintSize(firstUnacknowledged)
  // Every byte is written below, so pooled uninitialised memory is safe (and several times
  // cheaper than a fresh ArrayBuffer per command).
  const buf = Buffer.allocUnsafe(fixed + payload.length)
  header(buf, KIND_COMMAND)
  let at = writeVarint(buf, HEADER_BYTES, clientId)
  at = writeVarint(buf, at, seq)
  at = writeVarint(buf, at, firstUnacknowledged)
  buf.set(payload, at)
  return buf
}

/** Decodes an envelope; throws SESSION_ENVELOPE_INVALID on anything malformed. */
export function decodeEnvelope (command: Uint8Array): SessionEnvelope {
  const r = new ByteReader(command, 'SESSION_ENVELOPE_INVALID')
  const version = r.byte()
  if (version !== ENVELOPE_VERSION) r.fail(`session envelope version ${version} is not supported`)
  const kind = r.byte()
  switch (kind) {
    case KIND_REGISTER:
      r.end()
      return { kind }
    case KIND_CLOSE: {
      const clientId = readPositive(r, 'clientId')
      r.end()
      return { kind, clientId }
    }
    case KIND_COMMAND: {
      const clientId = readPositive(r, 'clientId')
      const seq = readPositive(r, 'seq')
      const firstUnacknowledged = readPositive(r, 'firstUnacknowledged')
      if (firstUnacknowledged > seq) r.fail(`session envelope firstUnacknowledged ${firstUnacknowledged} above seq ${seq}`)
      return { kind, clientId, seq, firstUnacknowledged, payload: r.bytes(command.length - r.offset) }
    }
    default:
      return r.fail(`session envelope kind ${kind} is unknown`)
  }
}

/** A varint that must be at least 1 (ids and sequence numbers start at 1). */
export function readPositive (r: ByteReader, field: string): number {
  const n = r.varint()
  if (n < 1) r.fail(`${field} must be at least 1`)
  return n
}

/** Turns cached apply results into bytes for snapshots and back. Must round-trip. */
export interface SessionResultCodec<Result = unknown> {
  encode (result: Result): Uint8Array
  decode (bytes: Uint8Array): Result
}

/** jsonResultCodec's first byte: what follows (nothing, raw bytes, or UTF-8 JSON). */
export const RESULT_TAG_UNDEFINED = 0
export const RESULT_TAG_BYTES = 1
export const RESULT_TAG_JSON = 2

/**
 * The default result codec: `undefined`, a `Uint8Array` (exact bytes), or anything
 * `JSON.stringify` round-trips (plain objects, arrays, strings, numbers, booleans, null).
 * Use your own codec for results holding bigint, Map, Date or class instances.
 */
export const jsonResultCodec: SessionResultCodec<unknown> = {
  encode (result: unknown): Uint8Array {
    if (result === undefined) return Uint8Array.of(RESULT_TAG_UNDEFINED)
    if (result instanceof Uint8Array) {
      const out = new Uint8Array(result.length + 1)
      out[0] = RESULT_TAG_BYTES
      out.set(result, 1)
      return out
    }
    const text = Buffer.from(JSON.stringify(result), 'utf8')
    const out = new Uint8Array(text.length + 1)
    out[0] = RESULT_TAG_JSON
    out.set(text, 1)
    return out
  },
  decode (bytes: Uint8Array): unknown {
    const body = bytes.subarray(1)
    switch (bytes[0]) {
      case RESULT_TAG_UNDEFINED: return undefined
      case RESULT_TAG_BYTES: return body.slice()
      case RESULT_TAG_JSON: return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'))
      default: throw new QuorateError('STORAGE_CORRUPT', `session result: unknown tag ${String(bytes[0])}`)
    }
  }
}

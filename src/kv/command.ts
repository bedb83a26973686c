/**
 * Binary encoding of the key-value workload's commands (what the simulator proposes to Raft).
 *
 * Layout: one opcode byte (1 get, 2 put, 3 cas, 4 append), then the key and, per opcode,
 * the other strings. A string is a u32 big-endian byte length and UTF-8 bytes (ByteWriter.utf8). `cas` has a
 * flag byte before `expected` (0: expected absent, no string follows; 1: a string follows).
 */
import { QuorateError, isQuorateError } from '../errors.js'
import { ByteReader } from '../util/bytes.js'
import type { KvInput } from './semantics.js'

const OPCODES = { get: 1, put: 2, cas: 3, append: 4 } as const

function invalid (message: string, cause?: unknown): QuorateError {
  return new QuorateError('KV_COMMAND_INVALID', message, cause === undefined ? {} : { cause })
}

/**
 * Encodes a command, after `prefix` if given (a route prefix: the routed command in one
 * allocation); throws KV_COMMAND_INVALID if a field has the wrong type. Sized exactly first,
 * so one pooled buffer holds it (every byte is written).
 */
export function encodeKvCommand (input: KvInput, prefix?: Uint8Array): Uint8Array {
  const isText = (v: unknown): v is string => typeof v === 'string'
  if (input === null || typeof input !== 'object' || !(input.op in OPCODES)) {
    throw invalid(`unknown KV command op ${JSON.stringify((input as { op?: unknown } | null)?.op)}`)
  }
  if (!isText(input.key)) throw invalid(`KV command ${input.op}: key must be a string`)
  const expected = input.op === 'cas' ? input.expected : null
  if (input.op === 'cas' && expected !== null && !isText(expected)) throw invalid('KV command cas: expected must be a string or null')
  const value = input.op === 'get' ? null : input.value
  if (input.op !== 'get' && !isText(value)) throw invalid(`KV command ${input.op}: value must be a string`)
  const head = prefix?.length ?? 0
  const keyBytes = Buffer.byteLength(input.key, 'utf8')
  const expectedBytes = expected === null ? 0 : Buffer.byteLength(expected, 'utf8')
  const valueBytes = value === null ? 0 : Buffer.byteLength(value, 'utf8')
  const size = head + 1 + 4 + keyBytes + (input.op === 'cas' ? 1 + (expected === null ? 0 : 4 + expectedBytes) : 0) + (value === null ? 0 : 4 + valueBytes)
  const buf = Buffer.allocUnsafe(size)
  if (prefix !== undefined) buf.set(prefix, 0)
  let at = head
  buf[at++] = OPCODES[input.op]
  at = writeString(buf, at, input.key, keyBytes)
  if (input.op === 'cas') {
    buf[at++] = expected === null ? 0 : 1
    if (expected !== null) at = writeString(buf, at, expected, expectedBytes)
  }
  if (value !== null) writeString(buf, at, value, valueBytes)
  return buf
}

/** A u32 byte length and the UTF-8 bytes (ByteWriter.utf8's layout); returns the offset after. */
function writeString (buf: Buffer, at: number, s: string, bytes: number): number {
  buf.writeUInt32BE(bytes, at)
  buf.write(s, at + 4, bytes, 'utf8')
  return at + 4 + bytes
}

/** Decodes a command; throws KV_COMMAND_INVALID for anything encodeKvCommand cannot produce. */
export function decodeKvCommand (bytes: Uint8Array): KvInput {
  if (!(bytes instanceof Uint8Array)) throw invalid('a KV command must be a Uint8Array')
  let input: KvInput
  try {
    // Truncation and bad UTF-8 surface as WIRE_MALFORMED, reworded below.
    const r = new ByteReader(bytes, 'WIRE_MALFORMED')
    const opcode = r.byte()
    if (opcode < OPCODES.get || opcode > OPCODES.append) throw invalid(`unknown KV command opcode ${opcode}`)
    const key = r.utf8()
    switch (opcode) {
      case OPCODES.get: input = { op: 'get', key }; break
      case OPCODES.put: input = { op: 'put', key, value: r.utf8() }; break
      case OPCODES.append: input = { op: 'append', key, value: r.utf8() }; break
      case OPCODES.cas: {
        const flag = r.byte()
        if (flag > 1) throw invalid(`KV command cas: bad expected flag ${flag}`)
        const expected = flag === 1 ? r.utf8() : null
        input = { op: 'cas', key, expected, value: r.utf8() }
        break
      }
      default: throw invalid(`unknown KV command opcode ${opcode}`)
    }
    if (r.remaining !== 0) throw invalid(`KV command ${input.op}: ${r.remaining} trailing bytes`)
  } catch (err) {
    if (!isQuorateError(err, 'WIRE_MALFORMED')) throw err
    throw invalid(`malformed KV command (${bytes.length} bytes): ${err.message}`, err)
  }
  return input
}

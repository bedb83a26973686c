/**
 * Binary encoding of the key-value workload's commands (what the simulator proposes to Raft).
 *
 * Layout: one opcode byte (1 get, 2 put, 3 cas, 4 append), then the key and, per opcode,
 * the other strings. A string is a u32 big-endian byte length and UTF-8 bytes. `cas` has a
 * flag byte before `expected` (0: expected absent, no string follows; 1: a string follows).
 */
import { QuorateError } from '../errors.js'
import type { KvInput } from './semantics.js'

const OPCODES = { get: 1, put: 2, cas: 3, append: 4 } as const
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Appends big-endian integers and length-prefixed UTF-8 strings to a growing buffer. */
export class ByteWriter {
  #buf = new Uint8Array(64)
  #view = new DataView(this.#buf.buffer)
  #len = 0

  get length (): number { return this.#len }

  u8 (v: number): void { this.#reserve(1); this.#buf[this.#len++] = v }
  u32 (v: number): void { this.#reserve(4); this.#view.setUint32(this.#len, v); this.#len += 4 }
  f64 (v: number): void { this.#reserve(8); this.#view.setFloat64(this.#len, v); this.#len += 8 }

  string (s: string): void {
    const bytes = encoder.encode(s)
    this.u32(bytes.length)
    this.#reserve(bytes.length)
    this.#buf.set(bytes, this.#len)
    this.#len += bytes.length
  }

  /** The bytes written so far (a copy); the writer starts over empty. */
  take (): Uint8Array {
    const out = this.#buf.slice(0, this.#len)
    this.#len = 0
    return out
  }

  #reserve (n: number): void {
    if (this.#len + n <= this.#buf.length) return
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n))
    next.set(this.#buf.subarray(0, this.#len))
    this.#buf = next
    this.#view = new DataView(next.buffer)
  }
}

/** Reads what ByteWriter wrote; every read past the end throws `RangeError`. */
export class ByteReader {
  readonly #bytes: Uint8Array
  readonly #view: DataView
  #pos = 0

  constructor (bytes: Uint8Array) {
    this.#bytes = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get remaining (): number { return this.#bytes.length - this.#pos }

  u8 (): number { return this.#view.getUint8(this.#pos++) }
  u32 (): number { const v = this.#view.getUint32(this.#pos); this.#pos += 4; return v }
  f64 (): number { const v = this.#view.getFloat64(this.#pos); this.#pos += 8; return v }

  /** Throws `RangeError` if truncated, `TypeError` if not valid UTF-8. */
  string (): string {
    const n = this.u32()
    if (n > this.remaining) throw new RangeError(`string of ${n} bytes, only ${this.remaining} left`)
    const s = decoder.decode(this.#bytes.subarray(this.#pos, this.#pos + n))
    this.#pos += n
    return s
  }
}

function invalid (message: string, cause?: unknown): QuorateError {
  return new QuorateError('KV_COMMAND_INVALID', message, cause === undefined ? {} : { cause })
}

/** Encodes a command; throws KV_COMMAND_INVALID if a field has the wrong type. */
export function encodeKvCommand (input: KvInput): Uint8Array {
  const isText = (v: unknown): v is string => typeof v === 'string'
  if (input === null || typeof input !== 'object' || !(input.op in OPCODES)) {
    throw invalid(`unknown KV command op ${JSON.stringify((input as { op?: unknown } | null)?.op)}`)
  }
  if (!isText(input.key)) throw invalid(`KV command ${input.op}: key must be a string`)
  const w = new ByteWriter()
  w.u8(OPCODES[input.op])
  w.string(input.key)
  if (input.op === 'cas') {
    if (input.expected !== null && !isText(input.expected)) throw invalid('KV command cas: expected must be a string or null')
    w.u8(input.expected === null ? 0 : 1)
    if (input.expected !== null) w.string(input.expected)
  }
  if (input.op !== 'get') {
    if (!isText(input.value)) throw invalid(`KV command ${input.op}: value must be a string`)
    w.string(input.value)
  }
  return w.take()
}

/** Decodes a command; throws KV_COMMAND_INVALID for anything encodeKvCommand cannot produce. */
export function decodeKvCommand (bytes: Uint8Array): KvInput {
  if (!(bytes instanceof Uint8Array)) throw invalid('a KV command must be a Uint8Array')
  let input: KvInput
  try {
    const r = new ByteReader(bytes)
    const opcode = r.u8()
    if (opcode < OPCODES.get || opcode > OPCODES.append) throw invalid(`unknown KV command opcode ${opcode}`)
    const key = r.string()
    switch (opcode) {
      case OPCODES.get: input = { op: 'get', key }; break
      case OPCODES.put: input = { op: 'put', key, value: r.string() }; break
      case OPCODES.append: input = { op: 'append', key, value: r.string() }; break
      case OPCODES.cas: {
        const flag = r.u8()
        if (flag > 1) throw invalid(`KV command cas: bad expected flag ${flag}`)
        const expected = flag === 1 ? r.string() : null
        input = { op: 'cas', key, expected, value: r.string() }
        break
      }
      default: throw invalid(`unknown KV command opcode ${opcode}`)
    }
    if (r.remaining !== 0) throw invalid(`KV command ${input.op}: ${r.remaining} trailing bytes`)
  } catch (err) {
    if (err instanceof QuorateError) throw err
    throw invalid(`malformed KV command (${bytes.length} bytes): ${(err as Error).message}`, err)
  }
  return input
}

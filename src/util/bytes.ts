/**
 * The one byte codec every layer's encodings use: unsigned LEB128 varints over safe
 * integers, big-endian fixed-width integers (u32, and u64 holding a safe integer, so that
 * bytewise order equals numeric order in storage keys), big-endian float64, u32-length UTF-8
 * strings, latin1 "byte strings" (a string whose code units are the bytes, so that JS string
 * comparison, Map keys and `startsWith` behave exactly like bytewise comparison), and a
 * growable writer / bounds-checked reader. Formats differ per layer; the primitives do not.
 */
import { QuorateError, type ErrorCode } from '../errors.js'

const TWO_POW_32 = 0x1_0000_0000
/** High word of Number.MAX_SAFE_INTEGER: a u64 with a larger high word is not a safe integer. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff
const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })
/** Float64 bytes go through one shared scratch (big-endian, as DataView's default): no DataView per number. */
const F64 = new DataView(new ArrayBuffer(8))
/** The longest varint of a safe integer is 8 bytes (7 bits each: 2^56 > 2^53). */
const MAX_VARINT_BYTES = 8
/**
 * Strings up to this many bytes are decoded char by char when ASCII: below it TextDecoder's
 * per-call cost (~150 ns) exceeds the loop's; ids, kinds and field names are mostly that short.
 */
const SHORT_DECODE_BYTES = 12

function varintBytes (n: number): number {
  let k = 1
  while (n >= 0x80) { n = Math.floor(n / 0x80); k++ }
  return k
}

/**
 * Big-endian u32 at `offset` by byte stores (on the storage hot path Buffer#writeUInt32BE's
 * checks cost more than the write). The caller guarantees the room and 0 <= value < 2^32.
 */
export function writeU32 (buf: Uint8Array, value: number, offset: number): void {
  buf[offset] = value >>> 24
  buf[offset + 1] = value >>> 16
  buf[offset + 2] = value >>> 8
  buf[offset + 3] = value
}

export function readU32 (buf: Uint8Array, offset: number): number {
  return ((buf[offset] as number) * 0x100_0000) + (((buf[offset + 1] as number) << 16) | ((buf[offset + 2] as number) << 8) | (buf[offset + 3] as number))
}

/** Big-endian u64 of a non-negative safe integer at `offset`. */
export function writeU64 (buf: Uint8Array, value: number, offset: number): void {
  writeU32(buf, Math.floor(value / TWO_POW_32), offset)
  writeU32(buf, value >>> 0, offset + 4)
}

/** The u64 at offset, or -1 if it is not a safe integer. */
export function readU64 (buf: Uint8Array, offset: number): number {
  const high = readU32(buf, offset)
  if (high > MAX_SAFE_HIGH_WORD) return -1
  return high * TWO_POW_32 + readU32(buf, offset + 4)
}

/** Bytes → a string with one code unit (0..255) per byte. Order-preserving. */
export function bytesToKey (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

/** Inverse of `bytesToKey`. */
export function keyToBytes (key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'latin1'))
}

/** Appends bytes to a growing buffer; `finish()` returns a view of exactly what was written. */
export class ByteWriter {
  #buf: Uint8Array
  #len = 0

  constructor (initial = 64) { this.#buf = new Uint8Array(initial) }

  get length (): number { return this.#len }

  /** Forgets what was written (keeps the buffer), so one writer can be reused. */
  reset (): this {
    this.#len = 0
    return this
  }

  /** Bytes [start, length) as a latin1 byte string, without an intermediate copy. */
  keyFrom (start: number): string {
    return Buffer.from(this.#buf.buffer, this.#buf.byteOffset + start, this.#len - start).toString('latin1')
  }

  #ensure (extra: number): void {
    if (this.#len + extra <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#len + extra) size *= 2
    const next = new Uint8Array(size)
    next.set(this.#buf.subarray(0, this.#len))
    this.#buf = next
  }

  byte (b: number): void {
    this.#ensure(1)
    this.#buf[this.#len++] = b
  }

  bytes (b: Uint8Array): void {
    this.#ensure(b.length)
    this.#buf.set(b, this.#len)
    this.#len += b.length
  }

  /** Unsigned LEB128 of a non-negative safe integer. */
  varint (n: number): void {
    this.#ensure(8)
    while (n >= 0x80) {
      this.#buf[this.#len++] = (n % 0x80) | 0x80
      n = Math.floor(n / 0x80)
    }
    this.#buf[this.#len++] = n
  }

  /** A varint length followed by the bytes. */
  chunk (b: Uint8Array): void {
    this.varint(b.length)
    this.bytes(b)
  }

  u32 (n: number): void {
    this.#ensure(4)
    writeU32(this.#buf, n, this.#len)
    this.#len += 4
  }

  /** Big-endian u64 of a non-negative safe integer. */
  u64 (n: number): void {
    this.#ensure(8)
    writeU64(this.#buf, n, this.#len)
    this.#len += 8
  }

  f64 (n: number): void {
    this.#ensure(8)
    F64.setFloat64(0, n)
    const buf = this.#buf
    const at = this.#len
    for (let i = 0; i < 8; i++) buf[at + i] = F64.getUint8(i)
    this.#len += 8
  }

  /**
   * A varint UTF-8 byte length and the UTF-8 bytes of `s` (byte-identical to
   * `chunk(new TextEncoder().encode(s))`), written straight into the buffer: short ASCII (ids,
   * kinds, field names: nearly every string of a graph command) char by char with one bounds
   * check, anything else by `encodeInto` behind room for the longest varint, then moved up
   * behind the real one. No encoded copy per string: those copies and the per-byte checks were
   * a third of a coordinator's replay (profile of bench/coordinator.ts --only replay).
   */
  string (s: string): void {
    const n = s.length
    if (n < 0x80) {
      this.#ensure(n + 1)
      const buf = this.#buf
      const start = this.#len
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        buf[start + 1 + i] = c
      }
      if (i === n) {
        buf[start] = n
        this.#len = start + 1 + n
        return
      }
    }
    // A UTF-16 code unit is at most 3 UTF-8 bytes (a lone surrogate becomes U+FFFD, 3 bytes).
    this.#ensure(MAX_VARINT_BYTES + 3 * n)
    const start = this.#len
    const { written } = utf8Encoder.encodeInto(s, this.#buf.subarray(start + MAX_VARINT_BYTES))
    const k = varintBytes(written)
    if (k !== MAX_VARINT_BYTES) this.#buf.copyWithin(start + k, start + MAX_VARINT_BYTES, start + MAX_VARINT_BYTES + written)
    this.varint(written)
    this.#len = start + k + written
  }

  /** A u32 byte length followed by the UTF-8 bytes of `s`. */
  utf8 (s: string): void {
    const bytes = utf8Encoder.encode(s)
    this.u32(bytes.length)
    this.bytes(bytes)
  }

  /** A view of what was written (valid until the next write). */
  finish (): Uint8Array { return this.#buf.subarray(0, this.#len) }

  /** A copy of what was written; the writer starts over empty (for streaming chunks). */
  take (): Uint8Array {
    const out = this.#buf.slice(0, this.#len)
    this.#len = 0
    return out
  }
}

/** Reads what ByteWriter wrote; every read is bounds-checked and fails with `code`. */
export class ByteReader {
  readonly #buf: Uint8Array
  #pos: number
  readonly #code: ErrorCode

  constructor (buf: Uint8Array, code: ErrorCode, offset = 0) {
    this.#buf = buf
    this.#pos = offset
    this.#code = code
  }

  get offset (): number { return this.#pos }
  get done (): boolean { return this.#pos >= this.#buf.length }

  fail (what: string): never {
    throw new QuorateError(this.#code, `Malformed encoding: ${what} at byte ${this.#pos}`)
  }

  byte (): number {
    if (this.#pos >= this.#buf.length) this.fail('unexpected end')
    return this.#buf[this.#pos++] as number
  }

  /** The next byte without consuming it. */
  peek (): number {
    if (this.#pos >= this.#buf.length) this.fail('unexpected end')
    return this.#buf[this.#pos] as number
  }

  bytes (n: number): Uint8Array {
    if (n > this.#buf.length - this.#pos) this.fail('unexpected end')
    const out = this.#buf.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    return out
  }

  varint (): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      const b = this.byte()
      result += (b & 0x7f) * scale
      if (b < 0x80) {
        if (!Number.isSafeInteger(result)) this.fail('varint above 2^53')
        return result
      }
      scale *= 0x80
    }
    return this.fail('varint too long')
  }

  chunk (): Uint8Array { return this.bytes(this.varint()) }

  get remaining (): number { return this.#buf.length - this.#pos }

  u32 (): number {
    if (this.remaining < 4) this.fail('unexpected end')
    const v = readU32(this.#buf, this.#pos)
    this.#pos += 4
    return v
  }

  /** A big-endian u64 that must be a safe integer. */
  u64 (): number {
    if (this.remaining < 8) this.fail('unexpected end')
    const v = readU64(this.#buf, this.#pos)
    if (v < 0) this.fail('u64 above 2^53')
    this.#pos += 8
    return v
  }

  f64 (): number {
    if (this.remaining < 8) this.fail('unexpected end')
    const buf = this.#buf
    const at = this.#pos
    for (let i = 0; i < 8; i++) F64.setUint8(i, buf[at + i] as number)
    this.#pos += 8
    return F64.getFloat64(0)
  }

  /** What ByteWriter.string wrote (a varint length and UTF-8); invalid UTF-8 fails with `code`. */
  string (): string {
    const n = this.varint()
    if (n > this.#buf.length - this.#pos) this.fail('unexpected end')
    const buf = this.#buf
    const start = this.#pos
    this.#pos += n
    if (n <= SHORT_DECODE_BYTES) {
      let out = ''
      let i = start
      for (; i < start + n; i++) {
        const b = buf[i] as number
        if (b >= 0x80) break
        out += String.fromCharCode(b)
      }
      if (i === start + n) return out
    }
    try {
      return utf8Decoder.decode(buf.subarray(start, start + n))
    } catch (err) {
      if (!(err instanceof TypeError)) throw err
      return this.fail('invalid UTF-8')
    }
  }

  /** What ByteWriter.utf8 wrote; invalid UTF-8 fails like a truncation. */
  utf8 (): string {
    const bytes = this.bytes(this.u32())
    try {
      return utf8Decoder.decode(bytes)
    } catch (err) {
      // TextDecoder with fatal: true throws TypeError on invalid input, and only then.
      if (!(err instanceof TypeError)) throw err
      return this.fail('invalid UTF-8')
    }
  }

  end (): void {
    if (this.#pos !== this.#buf.length) this.fail('trailing bytes')
  }
}

export function concatBytes (parts: readonly Uint8Array[]): Uint8Array {
  let total = 0
  for (const p of parts) total += p.length
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/**
 * Small byte helpers shared by the Lamport codecs: unsigned LEB128 varints over safe
 * integers, latin1 "byte strings" (a string whose code units are the bytes, so that JS
 * string comparison, Map keys and `startsWith` behave exactly like bytewise comparison),
 * and a growable writer / bounds-checked reader.
 */
import { QuorateError, type ErrorCode } from '../errors.js'

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

  finish (): Uint8Array { return this.#buf.subarray(0, this.#len) }
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

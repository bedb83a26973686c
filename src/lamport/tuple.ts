/**
 * Tuples, patterns and their canonical, order-preserving byte encoding.
 *
 * Encoding: a tuple is the concatenation of its elements' encodings (no terminator at the
 * top level, so the encoding of `[a, b]` is a byte prefix of that of every `[a, b, ...]`
 * and a prefix lookup is a key-range scan). Each element is a type tag then a body:
 *
 *   0x01 false · 0x02 true
 *   0x03 number: IEEE-754 big-endian, sign bit flipped (all bits flipped when negative)
 *   0x04 bigint: length marker (0x80+len for >= 0, 0x7f-len for < 0) then big-endian
 *        magnitude (bit-inverted when negative)
 *   0x05 string: UTF-8 with 0x00 escaped as 0x00 0xff, then 0x00
 *   0x06 bytes:  same escaping and terminator
 *   0x07 nested tuple: its elements then 0x00 (0x00 sorts below every tag)
 *   0x08 ANY, 0x09 REST: pattern encodings only
 *
 * Bytewise order of encodings is: by type (in tag order), then numbers and bigints by
 * value, strings by Unicode code point, bytes lexicographically, tuples element-wise with
 * a shorter prefix first. Every value has exactly one encoding (-0 is stored as 0; NaN and
 * lone surrogates are refused), so the encoding is a storage key and an index key.
 */
import { QuorateError } from '../errors.js'
import { ByteReader, ByteWriter } from '../util/bytes.js'

export type Value = string | number | bigint | boolean | Uint8Array | Tuple
export type Tuple = readonly Value[]

/** Matches exactly one element, whatever its value. */
export const ANY: unique symbol = Symbol.for('quorate.lamport.ANY')
/** Last element of a pattern only: matches any tail (zero or more elements). */
export const REST: unique symbol = Symbol.for('quorate.lamport.REST')
export type Wildcard = typeof ANY | typeof REST
export type PatternElement = Value | Wildcard | readonly PatternElement[]
export type Pattern = readonly PatternElement[]

/** Nesting deeper than this is refused (it also catches cyclic arrays). */
export const MAX_TUPLE_DEPTH = 32
/** bigints are limited to this many magnitude bytes (about 10^300). */
export const MAX_BIGINT_BYTES = 126

const TAG_END = 0x00
const TAG_FALSE = 0x01
const TAG_TRUE = 0x02
const TAG_NUMBER = 0x03
const TAG_BIGINT = 0x04
const TAG_STRING = 0x05
const TAG_BYTES = 0x06
const TAG_TUPLE = 0x07
const TAG_ANY = 0x08
const TAG_REST = 0x09

const floatScratch = new DataView(new ArrayBuffer(8))

function invalid (message: string): never {
  throw new QuorateError('TUPLE_INVALID', message)
}

const isWellFormed = (s: string): boolean =>
  (s as unknown as { isWellFormed: () => boolean }).isWellFormed()

function writeEscaped (w: ByteWriter, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number
    w.byte(b)
    if (b === 0) w.byte(0xff)
  }
  w.byte(TAG_END)
}

/** Fast path for the common case: printable ASCII needs neither UTF-8 encoding nor escapes. */
function writeAscii (w: ByteWriter, v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (c === 0 || c >= 0x80) return false
  }
  for (let i = 0; i < v.length; i++) w.byte(v.charCodeAt(i))
  w.byte(TAG_END)
  return true
}

function writeBigint (w: ByteWriter, v: bigint): void {
  const negative = v < 0n
  let hex = (negative ? -v : v).toString(16)
  if (hex === '0') hex = ''
  if (hex.length % 2 === 1) hex = '0' + hex
  const len = hex.length / 2
  if (len > MAX_BIGINT_BYTES) invalid(`bigint too large (more than ${MAX_BIGINT_BYTES} bytes)`)
  w.byte(negative ? 0x7f - len : 0x80 + len)
  for (let i = 0; i < len; i++) {
    const b = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
    w.byte(negative ? 0xff - b : b)
  }
}

function writeNumber (w: ByteWriter, v: number): void {
  if (Number.isNaN(v)) invalid('NaN is not a tuple value (it has no canonical order)')
  floatScratch.setFloat64(0, v === 0 ? 0 : v)
  const negative = (floatScratch.getUint8(0) & 0x80) !== 0
  for (let i = 0; i < 8; i++) {
    const b = floatScratch.getUint8(i)
    w.byte(negative ? 0xff - b : (i === 0 ? b ^ 0x80 : b))
  }
}

function writeElement (w: ByteWriter, v: unknown, depth: number, patterns: boolean, last: boolean): void {
  switch (typeof v) {
    case 'boolean': w.byte(v ? TAG_TRUE : TAG_FALSE); return
    case 'number': w.byte(TAG_NUMBER); writeNumber(w, v); return
    case 'bigint': w.byte(TAG_BIGINT); writeBigint(w, v); return
    case 'string':
      w.byte(TAG_STRING)
      if (!writeAscii(w, v)) {
        if (!isWellFormed(v)) invalid('string contains a lone surrogate')
        writeEscaped(w, Buffer.from(v, 'utf8'))
      }
      return
    case 'symbol':
      if (patterns && v === ANY) { w.byte(TAG_ANY); return }
      if (patterns && v === REST) {
        if (!last) invalid('REST may only be the last element of a pattern')
        w.byte(TAG_REST)
        return
      }
      break
    case 'object':
      if (v instanceof Uint8Array) { w.byte(TAG_BYTES); writeEscaped(w, v); return }
      if (Array.isArray(v)) {
        w.byte(TAG_TUPLE)
        writeElements(w, v, depth + 1, patterns)
        w.byte(TAG_END)
        return
      }
  }
  invalid(`unsupported tuple value: ${describe(v)}`)
}

function writeElements (w: ByteWriter, elements: readonly unknown[], depth: number, patterns: boolean): void {
  if (depth > MAX_TUPLE_DEPTH) invalid(`tuples nest deeper than ${MAX_TUPLE_DEPTH}`)
  for (let i = 0; i < elements.length; i++) writeElement(w, elements[i], depth, patterns, i === elements.length - 1)
}

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object'
  return typeof v
}

function checkArray (t: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(t)) invalid(`${what} must be an array, got ${describe(t)}`)
  return t
}

// Key encodings are copied out as strings at once, so one writer serves them all.
const scratch = new ByteWriter(256)

/** The canonical encoding of a tuple. Throws TUPLE_INVALID for unsupported values. */
export function encodeTuple (tuple: Tuple): Uint8Array {
  const w = new ByteWriter()
  writeElements(w, checkArray(tuple, 'A tuple'), 1, false)
  return w.finish().slice()
}

/** The encoding as a latin1 byte string: the in-memory key (sorts like the bytes). */
export function tupleKey (tuple: Tuple): string {
  const w = scratch.reset()
  writeElements(w, checkArray(tuple, 'A tuple'), 1, false)
  return w.keyFrom(0)
}

/** Each top-level element's encoding as a byte string (their concatenation is `tupleKey`). */
export function elementKeys (tuple: Tuple): string[] {
  const w = scratch.reset()
  const out: string[] = []
  checkArray(tuple, 'A tuple')
  for (let i = 0; i < tuple.length; i++) {
    const start = w.length
    writeElement(w, tuple[i], 1, false, false)
    out.push(w.keyFrom(start))
  }
  return out
}

/** Pattern encoding (for the wire and storage; wildcards are tags 0x08/0x09). */
export function encodePattern (pattern: Pattern): Uint8Array {
  const w = new ByteWriter()
  writeElements(w, checkArray(pattern, 'A pattern'), 1, true)
  return w.finish().slice()
}

/** Throws TUPLE_INVALID unless `tuple` is a valid tuple. */
export function validateTuple (tuple: unknown): asserts tuple is Tuple {
  writeElements(scratch.reset(), checkArray(tuple, 'A tuple'), 1, false)
}

/** Throws TUPLE_INVALID unless `pattern` is a valid pattern. */
export function validatePattern (pattern: unknown): asserts pattern is Pattern {
  writeElements(scratch.reset(), checkArray(pattern, 'A pattern'), 1, true)
}

/** The pattern encoding as a byte string (rules are keyed by it). */
export function patternKey (pattern: Pattern): string {
  const w = scratch.reset()
  writeElements(w, checkArray(pattern, 'A pattern'), 1, true)
  return w.keyFrom(0)
}

function readEscaped (r: ByteReader): Uint8Array {
  const w = new ByteWriter(16)
  for (;;) {
    const b = r.byte()
    if (b !== 0) { w.byte(b); continue }
    // 0x00 0xff is an escaped zero byte; a 0x00 followed by anything else ends the value.
    if (r.done || r.peek() !== 0xff) break
    r.byte()
    w.byte(0)
  }
  return w.finish().slice()
}

function readBigint (r: ByteReader): bigint {
  const marker = r.byte()
  const negative = marker < 0x80
  const len = negative ? 0x7f - marker : marker - 0x80
  if (len > MAX_BIGINT_BYTES) r.fail('bigint length')
  let hex = ''
  for (let i = 0; i < len; i++) {
    const b = r.byte()
    hex += (negative ? 0xff - b : b).toString(16).padStart(2, '0')
  }
  if (len > 0 && hex.startsWith('00')) r.fail('non-canonical bigint')
  const mag = len === 0 ? 0n : BigInt('0x' + hex)
  if (negative && mag === 0n) r.fail('non-canonical bigint')
  return negative ? -mag : mag
}

function readNumber (r: ByteReader): number {
  const first = r.byte()
  const negative = (first & 0x80) === 0
  floatScratch.setUint8(0, negative ? 0xff - first : first ^ 0x80)
  for (let i = 1; i < 8; i++) {
    const b = r.byte()
    floatScratch.setUint8(i, negative ? 0xff - b : b)
  }
  const v = floatScratch.getFloat64(0)
  if (Number.isNaN(v) || Object.is(v, -0)) r.fail('non-canonical number')
  return v
}

function readElements (r: ByteReader, nested: boolean, patterns: boolean, depth: number): PatternElement[] {
  if (depth > MAX_TUPLE_DEPTH) r.fail('tuple nesting too deep')
  const out: PatternElement[] = []
  for (;;) {
    if (!nested && r.done) return out
    const tag = r.byte()
    switch (tag) {
      case TAG_END:
        if (!nested) r.fail('unexpected end tag')
        return out
      case TAG_FALSE: out.push(false); break
      case TAG_TRUE: out.push(true); break
      case TAG_NUMBER: out.push(readNumber(r)); break
      case TAG_BIGINT: out.push(readBigint(r)); break
      case TAG_STRING: {
        const bytes = readEscaped(r)
        const s = Buffer.from(bytes).toString('utf8')
        if (Buffer.byteLength(s, 'utf8') !== bytes.length || !isWellFormed(s)) r.fail('invalid UTF-8')
        out.push(s)
        break
      }
      case TAG_BYTES: out.push(readEscaped(r)); break
      case TAG_TUPLE: out.push(readElements(r, true, patterns, depth + 1)); break
      case TAG_ANY: if (!patterns) r.fail('wildcard in a tuple'); out.push(ANY); break
      case TAG_REST: if (!patterns) r.fail('wildcard in a tuple'); out.push(REST); break
      default: r.fail(`unknown tag ${tag}`)
    }
  }
}

function decode (bytes: Uint8Array, patterns: boolean): PatternElement[] {
  return readElements(new ByteReader(bytes, 'TUPLE_INVALID'), false, patterns, 1)
}

/** Inverse of `encodeTuple`; rejects non-canonical input with TUPLE_INVALID. */
export function decodeTuple (bytes: Uint8Array): Tuple {
  return decode(bytes, false) as Tuple
}

export function decodePattern (bytes: Uint8Array): Pattern {
  return decode(bytes, true)
}

/** Bytewise order of the canonical encodings. */
export function compareTuples (a: Tuple, b: Tuple): number {
  const ka = tupleKey(a)
  const kb = tupleKey(b)
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

/** Equality under the tuple model: same types, 0 equals -0, bytes compared by content. */
export function valueEquals (a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false
  if (typeof a === 'number') return a === b
  if (typeof a !== 'object') return a === b
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!valueEquals(a[i], b[i])) return false
    return true
  }
  return false
}

/** True if the pattern (or any nested part) contains a wildcard. */
export function hasWildcard (p: PatternElement): boolean {
  if (p === ANY || p === REST) return true
  if (Array.isArray(p)) return p.some(hasWildcard)
  return false
}

function matchElements (pattern: readonly PatternElement[], tuple: readonly Value[]): boolean {
  const n = pattern.length
  const rest = n > 0 && pattern[n - 1] === REST
  const fixed = rest ? n - 1 : n
  if (rest ? tuple.length < fixed : tuple.length !== fixed) return false
  for (let i = 0; i < fixed; i++) {
    const p = pattern[i]
    if (p === ANY) continue
    const v = tuple[i]
    if (Array.isArray(p)) {
      if (!Array.isArray(v) || !matchElements(p, v)) return false
    } else if (!valueEquals(p, v)) return false
  }
  return true
}

/** Does `tuple` match `pattern`? ANY matches one element, a final REST any tail. */
export function matches (pattern: Pattern, tuple: Tuple): boolean {
  return matchElements(pattern, tuple)
}

/** How a pattern binds fields, for choosing and scanning an index. */
export interface PatternShape {
  /** Per fixed position: the element's encoding if it is a literal, else null. */
  readonly fieldKeys: ReadonlyArray<string | null>
  /** Whether the pattern ends with REST (then longer tuples match too). */
  readonly rest: boolean
  /** The whole pattern has no wildcard: it names exactly one tuple (whose key is `exactKey`). */
  readonly exactKey: string | null
}

/** Validates the pattern and encodes its literal fields, in one pass. */
export function patternShape (pattern: Pattern): PatternShape {
  checkArray(pattern, 'A pattern')
  const n = pattern.length
  const rest = n > 0 && pattern[n - 1] === REST
  const fixed = rest ? n - 1 : n
  const fieldKeys: Array<string | null> = []
  let exact = !rest
  const w = scratch.reset()
  for (let i = 0; i < fixed; i++) {
    const p = pattern[i] as PatternElement
    const start = w.length
    writeElement(w, p, 1, true, false)
    if (hasWildcard(p)) { fieldKeys.push(null); exact = false } else fieldKeys.push(w.keyFrom(start))
  }
  return { fieldKeys, rest, exactKey: exact ? fieldKeys.join('') : null }
}

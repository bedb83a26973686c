/**
 * The protobuf codec for quorate's wire frames (proto/quorate.proto), written by hand so
 * that the hot path produces plain JS numbers (no `Long`), allocates one Buffer per encoded
 * frame and, when decoding, no byte copies at all: `data` fields are views into the input.
 *
 * The layout follows the .proto exactly (checked against protobufjs reflection in
 * test/transport/codec.test.ts): fields are written in field-number order and proto3
 * defaults (0, '', false, empty bytes) are omitted, except that a present `snapshot` is
 * always written so that null and "empty chunk" stay distinct.
 *
 * Decoding is strict about what quorate relies on and lenient where protobuf requires it:
 * unknown fields inside messages are skipped (forward compatibility), but an unknown frame
 * body or enum value is WIRE_UNKNOWN_TYPE, a counter above 2^53 - 1 is WIRE_INVALID_NUMBER
 * and anything structurally wrong (truncation, lengths past the end, group wire types) is
 * WIRE_MALFORMED. A length is always checked against the bytes actually present before it
 * is used, so a decoder never allocates more than the input's size.
 */
import { QuorateError, type ErrorCode } from '../errors.js'
import {
  EMPTY_BYTES, EMPTY_ENTRIES, ENTRY_TYPES, MESSAGE_TYPES,
  type ClusterConfig, type Entry, type EntryType, type Message, type NodeId, type SnapshotChunk, type SnapshotMeta
} from '../raft/types.js'

/** The wire protocol version this codec speaks. */
export const WIRE_VERSION = 1

/** Entry kinds in wire order (index = `EntryType` enum value in the .proto): raft/types.ts's list. */
export { ENTRY_TYPES }

interface FrameHeader {
  /** Wire protocol version; WIRE_VERSION when encoding. */
  readonly version: number
  /** Required in a hello; '' in later frames means "as in the handshake". */
  readonly clusterId: string
  /** Required in a hello; '' in later frames means "as in the handshake". */
  readonly sender: NodeId
}

/** The handshake frame: who is speaking, for which cluster, to whom. */
export interface HelloFrame extends FrameHeader {
  readonly kind: 'hello'
  readonly to: NodeId
}

/** A batch of Raft messages for one destination. */
export interface RaftFrame extends FrameHeader {
  readonly kind: 'raft'
  readonly messages: readonly Message[]
}

export type WireFrame = HelloFrame | RaftFrame

// Field keys: (field number << 3) | wire type. All field numbers are <= 15, so one byte each.
const VARINT = 0
const FIXED64 = 1
const LEN = 2
const FIXED32 = 5
const key = (field: number, wireType: number): number => (field << 3) | wireType

const MAX_SAFE = Number.MAX_SAFE_INTEGER
const FIRST_RESERVED_BODY = 6
const LAST_RESERVED_BODY = 15

// ---------------------------------------------------------------------------------------
// Encoding: a size pass records every nested length (in pre-order) in `sizes`, then a
// write pass into one exactly-sized Buffer consumes them in the same order.

let sizes: number[] = []
let sizeCount = 0
let sizeCursor = 0

function record (size: number): number {
  sizes[sizeCount++] = size
  return size
}

function varintSize (n: number): number {
  if (n < 0x80) return 1
  if (n < 0x4000) return 2
  if (n < 0x200000) return 3
  if (n < 0x10000000) return 4
  if (n < 0x800000000) return 5
  if (n < 0x40000000000) return 6
  if (n < 0x2000000000000) return 7
  return 8
}

function checkedCounter (n: number, field: string): number {
  if ((n >>> 0) !== n && !(Number.isSafeInteger(n) && n >= 0)) {
    throw new QuorateError('WIRE_INVALID_NUMBER', `Cannot encode ${field} = ${String(n)}: not a non-negative safe integer`, { details: { field } })
  }
  return n
}

/** Bytes of an optional uint64 field (0 is omitted). */
function counterFieldSize (n: number, field: string): number {
  return checkedCounter(n, field) === 0 ? 0 : 1 + varintSize(n)
}

function utf8Length (s: string): number {
  const n = s.length
  for (let i = 0; i < n; i++) {
    if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8')
  }
  return n
}

/** Bytes of a string field, recording its UTF-8 length; `always` for repeated strings. */
function stringFieldSize (s: string, always: boolean): number {
  if (s.length === 0 && !always) return 0
  const len = record(utf8Length(s))
  return 1 + varintSize(len) + len
}

function bytesFieldSize (b: Uint8Array): number {
  const len = b.byteLength
  return len === 0 ? 0 : 1 + varintSize(len) + len
}

function nestedFieldSize (len: number): number {
  return 1 + varintSize(len) + len
}

function entrySize (e: Entry): number {
  const slot = sizeCount++
  const type = ENTRY_TYPES.indexOf(e.type)
  if (type < 0) throw new QuorateError('WIRE_UNKNOWN_TYPE', `Cannot encode entry type ${String(e.type)}`)
  const size = counterFieldSize(e.term, 'entry.term') + counterFieldSize(e.index, 'entry.index') +
    (type === 0 ? 0 : 2) + bytesFieldSize(e.data)
  sizes[slot] = size
  return size
}

function configSize (c: ClusterConfig): number {
  const slot = sizeCount++
  let size = 0
  for (const id of c.voters) size += stringFieldSize(id, true)
  for (const id of c.votersOutgoing) size += stringFieldSize(id, true)
  for (const id of c.learners) size += stringFieldSize(id, true)
  sizes[slot] = size
  return size
}

function metaSize (m: SnapshotMeta): number {
  const slot = sizeCount++
  const size = counterFieldSize(m.index, 'snapshot.meta.index') + counterFieldSize(m.term, 'snapshot.meta.term') +
    nestedFieldSize(configSize(m.config))
  sizes[slot] = size
  return size
}

function snapshotSize (s: SnapshotChunk): number {
  const slot = sizeCount++
  const size = nestedFieldSize(metaSize(s.meta)) + counterFieldSize(s.offset, 'snapshot.offset') +
    bytesFieldSize(s.data) + (s.done ? 2 : 0) + bytesFieldSize(s.digest)
  sizes[slot] = size
  return size
}

function messageSize (m: Message): number {
  const slot = sizeCount++
  const type = MESSAGE_TYPES.indexOf(m.type)
  if (type < 0) throw new QuorateError('WIRE_UNKNOWN_TYPE', `Cannot encode message type ${String(m.type)}`)
  let size = (type === 0 ? 0 : 2) +
    stringFieldSize(m.from, false) + stringFieldSize(m.to, false) +
    counterFieldSize(m.term, 'term') + counterFieldSize(m.logTerm, 'logTerm') +
    counterFieldSize(m.index, 'index') + counterFieldSize(m.commit, 'commit')
  const entries = m.entries
  for (let i = 0; i < entries.length; i++) size += nestedFieldSize(entrySize(entries[i]!))
  size += (m.reject ? 2 : 0) + counterFieldSize(m.rejectHint, 'rejectHint') + counterFieldSize(m.context, 'context')
  if (m.snapshot !== null) size += nestedFieldSize(snapshotSize(m.snapshot))
  sizes[slot] = size
  return size
}

function frameSize (frame: WireFrame): number {
  const header = 1 + varintSize(checkedCounter(frame.version, 'version')) +
    stringFieldSize(frame.clusterId, false) + stringFieldSize(frame.sender, false)
  const slot = sizeCount++
  let body: number
  if (frame.kind === 'hello') {
    body = stringFieldSize(frame.to, false)
  } else {
    body = 0
    const messages = frame.messages
    for (let i = 0; i < messages.length; i++) body += nestedFieldSize(messageSize(messages[i]!))
  }
  sizes[slot] = body
  return header + nestedFieldSize(body)
}

class WireWriter {
  buf: Buffer
  pos: number

  constructor (buf: Buffer, pos: number) {
    this.buf = buf
    this.pos = pos
  }

  varint (n: number): void {
    const buf = this.buf
    let pos = this.pos
    while (n >= 0x80) {
      buf[pos++] = (n & 0x7f) | 0x80
      n = n >= 0x80000000 ? Math.floor(n / 128) : n >>> 7
    }
    buf[pos++] = n
    this.pos = pos
  }

  counterField (k: number, n: number): void {
    if (n === 0) return
    this.buf[this.pos++] = k
    this.varint(n)
  }

  /** Writes a string whose UTF-8 length was recorded in the size pass. */
  stringField (k: number, s: string, always: boolean): void {
    if (s.length === 0 && !always) return
    const len = sizes[sizeCursor++]!
    this.buf[this.pos++] = k
    this.varint(len)
    const buf = this.buf
    const pos = this.pos
    if (len === s.length) {
      for (let i = 0; i < len; i++) buf[pos + i] = s.charCodeAt(i)
    } else {
      buf.write(s, pos, len, 'utf8')
    }
    this.pos = pos + len
  }

  bytesField (k: number, b: Uint8Array): void {
    const len = b.byteLength
    if (len === 0) return
    this.buf[this.pos++] = k
    this.varint(len)
    this.buf.set(b, this.pos)
    this.pos += len
  }

  /** Starts a nested message whose size was recorded in the size pass. */
  nested (k: number): void {
    this.buf[this.pos++] = k
    this.varint(sizes[sizeCursor++]!)
  }

  entry (e: Entry): void {
    this.nested(key(8, LEN))
    this.counterField(key(1, VARINT), e.term)
    this.counterField(key(2, VARINT), e.index)
    const type = ENTRY_TYPES.indexOf(e.type)
    if (type !== 0) { this.buf[this.pos++] = key(3, VARINT); this.buf[this.pos++] = type }
    this.bytesField(key(4, LEN), e.data)
  }

  config (c: ClusterConfig): void {
    this.nested(key(3, LEN))
    for (const id of c.voters) this.stringField(key(1, LEN), id, true)
    for (const id of c.votersOutgoing) this.stringField(key(2, LEN), id, true)
    for (const id of c.learners) this.stringField(key(3, LEN), id, true)
  }

  snapshot (s: SnapshotChunk): void {
    this.nested(key(12, LEN))
    this.nested(key(1, LEN))
    this.counterField(key(1, VARINT), s.meta.index)
    this.counterField(key(2, VARINT), s.meta.term)
    this.config(s.meta.config)
    this.counterField(key(2, VARINT), s.offset)
    this.bytesField(key(3, LEN), s.data)
    if (s.done) { this.buf[this.pos++] = key(4, VARINT); this.buf[this.pos++] = 1 }
    this.bytesField(key(5, LEN), s.digest)
  }

  message (m: Message): void {
    this.nested(key(1, LEN))
    const type = MESSAGE_TYPES.indexOf(m.type)
    if (type !== 0) { this.buf[this.pos++] = key(1, VARINT); this.buf[this.pos++] = type }
    this.stringField(key(2, LEN), m.from, false)
    this.stringField(key(3, LEN), m.to, false)
    this.counterField(key(4, VARINT), m.term)
    this.counterField(key(5, VARINT), m.logTerm)
    this.counterField(key(6, VARINT), m.index)
    this.counterField(key(7, VARINT), m.commit)
    const entries = m.entries
    for (let i = 0; i < entries.length; i++) this.entry(entries[i]!)
    if (m.reject) { this.buf[this.pos++] = key(9, VARINT); this.buf[this.pos++] = 1 }
    this.counterField(key(10, VARINT), m.rejectHint)
    this.counterField(key(11, VARINT), m.context)
    if (m.snapshot !== null) this.snapshot(m.snapshot)
  }

  frame (frame: WireFrame): void {
    this.buf[this.pos++] = key(1, VARINT)
    this.varint(frame.version)
    this.stringField(key(2, LEN), frame.clusterId, false)
    this.stringField(key(3, LEN), frame.sender, false)
    if (frame.kind === 'hello') {
      this.nested(key(4, LEN))
      this.stringField(key(1, LEN), frame.to, false)
    } else {
      this.nested(key(5, LEN))
      const messages = frame.messages
      for (let i = 0; i < messages.length; i++) this.message(messages[i]!)
    }
  }
}

/** The encoded size of `frame` in bytes. Throws like `encodeFrame`. */
export function encodedFrameSize (frame: WireFrame): number {
  sizeCount = 0
  return frameSize(frame)
}

/**
 * Encodes `frame` into a new Buffer of exactly `headroom + size` bytes; the first
 * `headroom` bytes are left for the caller (the framing layer puts the length there, so
 * a frame is never copied). Throws WIRE_INVALID_NUMBER for a counter that is not a
 * non-negative safe integer and WIRE_UNKNOWN_TYPE for an unknown message or entry type.
 */
export function encodeFrame (frame: WireFrame, headroom = 0): Buffer {
  sizeCount = 0
  const size = frameSize(frame)
  const buf = Buffer.allocUnsafe(headroom + size)
  sizeCursor = 0
  const writer = new WireWriter(buf, headroom)
  writer.frame(frame)
  if (writer.pos !== buf.length) {
    throw new QuorateError('WIRE_MALFORMED', `Encoder wrote ${writer.pos - headroom} bytes, expected ${size}`)
  }
  // Drop references to a huge batch's sizes so the scratch array does not pin memory.
  if (sizeCount > 4096) sizes = []
  return buf
}

// ---------------------------------------------------------------------------------------
// Decoding.

function wireError (code: ErrorCode, message: string, offset: number): QuorateError {
  return new QuorateError(code, message, { details: { offset } })
}

class WireReader {
  readonly buf: Buffer
  pos: number
  end: number

  constructor (buf: Buffer) {
    this.buf = buf
    this.pos = 0
    this.end = buf.length
  }

  malformed (what: string): QuorateError {
    return wireError('WIRE_MALFORMED', `Malformed frame: ${what} at byte ${this.pos}`, this.pos)
  }

  varint (): number {
    const buf = this.buf
    const end = this.end
    let pos = this.pos
    if (pos >= end) throw this.malformed('truncated varint')
    let b = buf[pos++]!
    if (b < 0x80) { this.pos = pos; return b }
    let value = b & 0x7f
    let scale = 128
    for (let i = 1; i < 10; i++) {
      if (pos >= end) throw this.malformed('truncated varint')
      b = buf[pos++]!
      value += (b & 0x7f) * scale
      if (b < 0x80) { this.pos = pos; return value }
      scale *= 128
    }
    throw this.malformed('varint longer than 10 bytes')
  }

  /** A uint64 counter that must be a non-negative safe integer. */
  counter (field: string): number {
    const start = this.pos
    const n = this.varint()
    if (n > MAX_SAFE) {
      throw wireError('WIRE_INVALID_NUMBER', `Invalid ${field} at byte ${start}: not a non-negative safe integer`, start)
    }
    return n
  }

  enumValue (names: readonly string[], what: string): number {
    const start = this.pos
    const n = this.varint()
    if (n >= names.length) throw wireError('WIRE_UNKNOWN_TYPE', `Unknown ${what} ${n} at byte ${start}`, start)
    return n
  }

  /** Reads a length and returns the end offset of the field; never past `end`. */
  lengthEnd (): number {
    const len = this.varint()
    if (len > this.end - this.pos) throw this.malformed('length past the end')
    return this.pos + len
  }

  string (): string {
    const end = this.lengthEnd()
    const start = this.pos
    this.pos = end
    return start === end ? '' : this.buf.toString('utf8', start, end)
  }

  bytes (): Uint8Array {
    const end = this.lengthEnd()
    const start = this.pos
    this.pos = end
    if (start === end) return EMPTY_BYTES
    const buf = this.buf
    return new Uint8Array(buf.buffer, buf.byteOffset + start, end - start)
  }

  expect (wireType: number, actual: number): void {
    if (wireType !== actual) throw this.malformed(`wire type ${actual} where ${wireType} belongs`)
  }

  skip (wireType: number): void {
    switch (wireType) {
      case VARINT: this.varint(); return
      case FIXED64: this.advance(8); return
      case LEN: this.pos = this.lengthEnd(); return
      case FIXED32: this.advance(4); return
      default: throw this.malformed(`unsupported wire type ${wireType}`)
    }
  }

  advance (n: number): void {
    if (n > this.end - this.pos) throw this.malformed('truncated field')
    this.pos += n
  }

  /** Reads a field key; returns it, or throws for field number 0. */
  fieldKey (): number {
    const k = this.varint()
    if (k < 8) throw this.malformed('field number 0')
    return k
  }

  /** Runs `body` over a nested message and restores the outer bound. */
  enter (): number {
    const outerEnd = this.end
    this.end = this.lengthEnd()
    return outerEnd
  }

  leave (outerEnd: number): void {
    this.pos = this.end
    this.end = outerEnd
  }

  entry (): Entry {
    const outer = this.enter()
    let term = 0
    let index = 0
    let type = 0
    let data: Uint8Array = EMPTY_BYTES
    while (this.pos < this.end) {
      const k = this.fieldKey()
      switch (k) {
        case key(1, VARINT): term = this.counter('entry.term'); break
        case key(2, VARINT): index = this.counter('entry.index'); break
        case key(3, VARINT): type = this.enumValue(ENTRY_TYPES, 'entry type'); break
        case key(4, LEN): data = this.bytes(); break
        default: this.unknownField(k, 4)
      }
    }
    this.leave(outer)
    return { term, index, type: ENTRY_TYPES[type]!, data }
  }

  /** Skips a field this version does not know, or fails if a known field has the wrong wire type. */
  unknownField (k: number, lastKnownField: number): void {
    const field = Math.floor(k / 8)
    const wireType = k & 7
    if (field <= lastKnownField) throw this.malformed(`field ${field} has wire type ${wireType}`)
    this.skip(wireType)
  }

  config (): ClusterConfig {
    const outer = this.enter()
    const voters: NodeId[] = []
    const votersOutgoing: NodeId[] = []
    const learners: NodeId[] = []
    while (this.pos < this.end) {
      const k = this.fieldKey()
      switch (k) {
        case key(1, LEN): voters.push(this.string()); break
        case key(2, LEN): votersOutgoing.push(this.string()); break
        case key(3, LEN): learners.push(this.string()); break
        default: this.unknownField(k, 3)
      }
    }
    this.leave(outer)
    return { voters, votersOutgoing, learners }
  }

  meta (): SnapshotMeta {
    const outer = this.enter()
    let index = 0
    let term = 0
    let config: ClusterConfig = EMPTY_CONFIG
    while (this.pos < this.end) {
      const k = this.fieldKey()
      switch (k) {
        case key(1, VARINT): index = this.counter('snapshot.meta.index'); break
        case key(2, VARINT): term = this.counter('snapshot.meta.term'); break
        case key(3, LEN): config = this.config(); break
        default: this.unknownField(k, 3)
      }
    }
    this.leave(outer)
    return { index, term, config }
  }

  snapshot (): SnapshotChunk {
    const outer = this.enter()
    let meta: SnapshotMeta = EMPTY_META
    let offset = 0
    let data: Uint8Array = EMPTY_BYTES
    let done = false
    // Absent in frames from senders that predate the digest: empty (unverifiable) then.
    let digest: Uint8Array = EMPTY_BYTES
    while (this.pos < this.end) {
      const k = this.fieldKey()
      switch (k) {
        case key(1, LEN): meta = this.meta(); break
        case key(2, VARINT): offset = this.counter('snapshot.offset'); break
        case key(3, LEN): data = this.bytes(); break
        case key(4, VARINT): done = this.varint() !== 0; break
        case key(5, LEN): digest = this.bytes(); break
        default: this.unknownField(k, 5)
      }
    }
    this.leave(outer)
    return { meta, offset, data, done, digest }
  }

  message (): Message {
    const outer = this.enter()
    let type = 0
    let from = ''
    let to = ''
    let term = 0
    let logTerm = 0
    let index = 0
    let commit = 0
    let entries: Entry[] | null = null
    let reject = false
    let rejectHint = 0
    let context = 0
    let snapshot: SnapshotChunk | null = null
    while (this.pos < this.end) {
      const k = this.fieldKey()
      switch (k) {
        case key(1, VARINT): type = this.enumValue(MESSAGE_TYPES, 'message type'); break
        case key(2, LEN): from = this.string(); break
        case key(3, LEN): to = this.string(); break
        case key(4, VARINT): term = this.counter('term'); break
        case key(5, VARINT): logTerm = this.counter('logTerm'); break
        case key(6, VARINT): index = this.counter('index'); break
        case key(7, VARINT): commit = this.counter('commit'); break
        case key(8, LEN): (entries ??= []).push(this.entry()); break
        case key(9, VARINT): reject = this.varint() !== 0; break
        case key(10, VARINT): rejectHint = this.counter('rejectHint'); break
        case key(11, VARINT): context = this.counter('context'); break
        case key(12, LEN): snapshot = this.snapshot(); break
        default: this.unknownField(k, 12)
      }
    }
    this.leave(outer)
    // Same property order as message() in raft/types.ts: one hidden class for all messages.
    return {
      type: MESSAGE_TYPES[type]!,
      from,
      to,
      term,
      logTerm,
      index,
      commit,
      entries: entries ?? EMPTY_ENTRIES,
      reject,
      rejectHint,
      context,
      snapshot
    }
  }

  hello (): string {
    const outer = this.enter()
    let to = ''
    while (this.pos < this.end) {
      const k = this.fieldKey()
      if (k === key(1, LEN)) to = this.string()
      else this.unknownField(k, 1)
    }
    this.leave(outer)
    return to
  }

  raftBatch (): Message[] {
    const outer = this.enter()
    const messages: Message[] = []
    while (this.pos < this.end) {
      const k = this.fieldKey()
      if (k === key(1, LEN)) messages.push(this.message())
      else this.unknownField(k, 1)
    }
    this.leave(outer)
    return messages
  }

  frame (): WireFrame {
    let version = 0
    let clusterId = ''
    let sender = ''
    let kind: 'hello' | 'raft' | null = null
    let to = ''
    let messages: Message[] = []
    while (this.pos < this.end) {
      const k = this.fieldKey()
      const field = Math.floor(k / 8)
      if (field >= FIRST_RESERVED_BODY && field <= LAST_RESERVED_BODY) {
        throw wireError('WIRE_UNKNOWN_TYPE', `Unknown frame body (field ${field})`, this.pos)
      }
      if (field === 4 || field === 5) this.checkVersion(version)
      switch (k) {
        case key(1, VARINT): version = this.varint(); break
        case key(2, LEN): clusterId = this.string(); break
        case key(3, LEN): sender = this.string(); break
        case key(4, LEN): kind = 'hello'; to = this.hello(); break
        case key(5, LEN): kind = 'raft'; messages = this.raftBatch(); break
        default: this.unknownField(k, 5)
      }
    }
    if (kind === null) throw this.malformed('frame without a body')
    return kind === 'hello'
      ? { kind, version, clusterId, sender, to }
      : { kind, version, clusterId, sender, messages }
  }

  checkVersion (version: number): void {
    if (version !== WIRE_VERSION) {
      throw new QuorateError('WIRE_VERSION_UNSUPPORTED', `Unsupported wire protocol version ${version} (this node speaks ${WIRE_VERSION})`, {
        details: { version, supported: [WIRE_VERSION] }
      })
    }
  }
}

const EMPTY_CONFIG: ClusterConfig = Object.freeze({ voters: [], votersOutgoing: [], learners: [] })
const EMPTY_META: SnapshotMeta = Object.freeze({ index: 0, term: 0, config: EMPTY_CONFIG })

/**
 * Decodes one frame (without the length prefix). `bytes` fields of the result are views
 * into `bytes`: keep `bytes` unmodified while the result is in use. Throws only
 * QuorateErrors: WIRE_MALFORMED, WIRE_UNKNOWN_TYPE, WIRE_INVALID_NUMBER or
 * WIRE_VERSION_UNSUPPORTED.
 */
export function decodeFrame (bytes: Uint8Array): WireFrame {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  try {
    return new WireReader(buf).frame()
  } catch (err) {
    if (err instanceof QuorateError) throw err
    throw new QuorateError('WIRE_MALFORMED', 'Malformed frame', { cause: err })
  }
}

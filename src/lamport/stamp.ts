/**
 * Lamport stamps: `(counter, node)`, totally ordered by counter then node number. Two
 * events related by happened-before always get increasing stamps; concurrent events are
 * ordered arbitrarily but identically on every replica, which is what makes "newest wins"
 * and "cancel everything stamped before" well defined cluster-wide.
 */
import { QuorateError } from '../errors.js'
import { ByteReader, ByteWriter, readU32, readU64, writeU32, writeU64 } from '../util/bytes.js'

export interface Stamp {
  /** Lamport counter: a non-negative safe integer. */
  readonly counter: number
  /** The stamping node's cluster-unique number: an unsigned 32-bit integer. */
  readonly node: number
}

/** Bytes in the fixed, bytewise-sortable stamp encoding. */
export const STAMP_BYTES = 12

/** Smaller than every stamp a clock can issue (clocks start issuing at counter 1). */
export const ZERO_STAMP: Stamp = Object.freeze({ counter: 0, node: 0 })

export function isValidStamp (s: unknown): s is Stamp {
  if (typeof s !== 'object' || s === null) return false
  const { counter, node } = s as Stamp
  return Number.isSafeInteger(counter) && counter >= 0 &&
    Number.isInteger(node) && node >= 0 && node <= 0xffffffff
}

/** Negative if a < b, positive if a > b, 0 if equal. */
export function compareStamps (a: Stamp, b: Stamp): number {
  return a.counter !== b.counter ? a.counter - b.counter : a.node - b.node
}

/** The newer of two optional stamps (null counts as older than everything). */
export function maxStamp (a: Stamp | null, b: Stamp | null): Stamp | null {
  if (a === null) return b
  if (b === null) return a
  return compareStamps(a, b) >= 0 ? a : b
}

/**
 * 12 bytes: counter as a big-endian uint64 (always < 2^53) then node as a big-endian
 * uint32. Bytewise order of encodings equals stamp order, so stamps work as storage keys.
 */
export function encodeStamp (stamp: Stamp, out = new Uint8Array(STAMP_BYTES), offset = 0): Uint8Array {
  writeU64(out, stamp.counter, offset)
  writeU32(out, stamp.node, offset + 8)
  return out
}

export function decodeStamp (bytes: Uint8Array, offset = 0): Stamp {
  if (bytes.length - offset < STAMP_BYTES) {
    throw new QuorateError('STORAGE_CORRUPT', `A stamp needs ${STAMP_BYTES} bytes, got ${bytes.length - offset}`)
  }
  const counter = readU64(bytes, offset)
  if (counter < 0) throw new QuorateError('STORAGE_CORRUPT', 'Stamp counter above 2^53')
  return { counter, node: readU32(bytes, offset + 8) }
}

/** Compact wire form: varint counter then varint node (2 bytes for small clusters and counters). */
export function writeStamp (w: ByteWriter, stamp: Stamp): void {
  w.varint(stamp.counter)
  w.varint(stamp.node)
}

export function readStamp (r: ByteReader): Stamp {
  const counter = r.varint()
  const node = r.varint()
  if (node > 0xffffffff) r.fail('stamp node above 2^32')
  return { counter, node }
}

export function encodeStampCompact (stamp: Stamp): Uint8Array {
  const w = new ByteWriter(16)
  writeStamp(w, stamp)
  return w.finish().slice()
}

export function decodeStampCompact (bytes: Uint8Array): Stamp {
  const r = new ByteReader(bytes, 'WIRE_MALFORMED')
  const s = readStamp(r)
  r.end()
  return s
}

/**
 * A cluster-unique id derived from a stamp: 24 lowercase hex digits of the fixed encoding,
 * so ids sort (as strings) in stamp order. Unique because no two events share a stamp.
 */
export function stampId (stamp: Stamp): string {
  return Buffer.from(encodeStamp(stamp)).toString('hex')
}

export function parseStampId (id: string): Stamp {
  if (!/^[0-9a-f]{24}$/.test(id)) throw new QuorateError('TUPLE_INVALID', `Not a stamp id: ${JSON.stringify(id)}`)
  return decodeStamp(new Uint8Array(Buffer.from(id, 'hex')))
}

export function formatStamp (stamp: Stamp): string {
  return `${stamp.counter}@${stamp.node}`
}

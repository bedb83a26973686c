/**
 * Deltas (entries and rules changed since a version) and snapshots (everything), plus
 * their binary codec. Both are sets of per-tuple stamp pairs and rules; merging one is a
 * join (newest stamp wins per field), hence idempotent, commutative and associative.
 */
import { QuorateError } from '../errors.js'
import { ByteReader, ByteWriter } from '../util/bytes.js'
import { isValidStamp, readStamp, writeStamp } from './stamp.js'
import type { EntryRecord, RuleRecord } from './state.js'
import { decodePattern, decodeTuple, encodePattern, encodeTuple, validatePattern, validateTuple } from './tuple.js'

export interface Delta {
  /** True for a full snapshot (everything the sender holds), false for a delta. */
  readonly full: boolean
  /** The delta covers changes after this version of the sender (0 for a snapshot). */
  readonly since: number
  /** The sender's version when the delta was cut: ask for `deltaSince(version)` next time. */
  readonly version: number
  /** Highest Lamport counter the sender had seen. */
  readonly maxCounter: number
  /** The sender's cancellation horizon watermark (records below it are expired there). */
  readonly watermark: number
  readonly entries: readonly EntryRecord[]
  readonly rules: readonly RuleRecord[]
}

/** A full copy of a store's tuples and cancellation records. */
export type TupleSnapshot = Delta & { readonly full: true }

const FORMAT = 1

export function validateDelta (d: unknown): asserts d is Delta {
  const bad = (what: string): never => { throw new QuorateError('TUPLE_INVALID', `Malformed delta: ${what}`) }
  if (typeof d !== 'object' || d === null) bad('not an object')
  const delta = d as Delta
  for (const f of ['since', 'version', 'maxCounter', 'watermark'] as const) {
    if (!Number.isSafeInteger(delta[f]) || delta[f] < 0) bad(`${f} must be a non-negative safe integer`)
  }
  if (!Array.isArray(delta.entries) || !Array.isArray(delta.rules)) bad('entries and rules must be arrays')
  for (const e of delta.entries) {
    validateTuple(e?.tuple)
    if (e.pos !== null && !isValidStamp(e.pos)) bad('entry pos is not a stamp')
    if (e.neg !== null && !isValidStamp(e.neg)) bad('entry neg is not a stamp')
  }
  for (const r of delta.rules) {
    validatePattern(r?.pattern)
    if (!isValidStamp(r.stamp)) bad('rule stamp is not a stamp')
  }
}

export function encodeDelta (delta: Delta): Uint8Array {
  const w = new ByteWriter(256)
  w.byte(FORMAT)
  w.byte(delta.full ? 1 : 0)
  w.varint(delta.since)
  w.varint(delta.version)
  w.varint(delta.maxCounter)
  w.varint(delta.watermark)
  writeRecords(w, delta)
  return w.finish().slice()
}

/** Entries then rules, as in a delta (shared with the sync-message codec). */
export function writeRecords (w: ByteWriter, d: { entries: readonly EntryRecord[], rules: readonly RuleRecord[] }): void {
  w.varint(d.entries.length)
  for (const e of d.entries) {
    w.chunk(encodeTuple(e.tuple))
    w.byte((e.pos !== null ? 1 : 0) | (e.neg !== null ? 2 : 0))
    if (e.pos !== null) writeStamp(w, e.pos)
    if (e.neg !== null) writeStamp(w, e.neg)
  }
  w.varint(d.rules.length)
  for (const r of d.rules) {
    w.chunk(encodePattern(r.pattern))
    writeStamp(w, r.stamp)
  }
}

export function readRecords (r: ByteReader): { entries: EntryRecord[], rules: RuleRecord[] } {
  const entries: EntryRecord[] = []
  for (let n = r.varint(); n > 0; n--) {
    const tuple = decodeTuple(r.chunk())
    const flags = r.byte()
    if (flags > 3) r.fail('entry flags')
    const pos = (flags & 1) !== 0 ? readStamp(r) : null
    const neg = (flags & 2) !== 0 ? readStamp(r) : null
    entries.push({ tuple, pos, neg })
  }
  const rules: RuleRecord[] = []
  for (let n = r.varint(); n > 0; n--) rules.push({ pattern: decodePattern(r.chunk()), stamp: readStamp(r) })
  return { entries, rules }
}

export function decodeDelta (bytes: Uint8Array): Delta {
  const r = new ByteReader(bytes, 'TUPLE_INVALID')
  if (r.byte() !== FORMAT) r.fail('unknown delta format')
  const full = r.byte() === 1
  const since = r.varint()
  const version = r.varint()
  const maxCounter = r.varint()
  const watermark = r.varint()
  const { entries, rules } = readRecords(r)
  r.end()
  return { full, since, version, maxCounter, watermark, entries, rules }
}

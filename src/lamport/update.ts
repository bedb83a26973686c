/**
 * Updates and transactions. An update asserts a positive tuple or a negative one; a
 * negative names a pattern (an exact tuple is a pattern without wildcards) and cancels
 * every matching tuple stamped strictly before it. A transaction is a set of updates
 * sharing one stamp, so a positive in the same transaction as a matching negative rule
 * survives it: `[negative(['cfg', ANY]), positive(['cfg', 2])]` replaces the value.
 */
import { QuorateError } from '../errors.js'
import { ByteReader, ByteWriter } from '../util/bytes.js'
import { isValidStamp, readStamp, writeStamp, type Stamp } from './stamp.js'
import {
  decodePattern, decodeTuple, encodePattern, encodeTuple, patternShape, tupleKey,
  type Pattern, type Tuple
} from './tuple.js'

export interface PositiveUpdate { readonly kind: 'positive', readonly tuple: Tuple }
export interface NegativeUpdate { readonly kind: 'negative', readonly pattern: Pattern }
export type Update = PositiveUpdate | NegativeUpdate

export interface Transaction {
  readonly stamp: Stamp
  readonly updates: readonly Update[]
}

/** Asserts `tuple`. */
export function positive (tuple: Tuple): PositiveUpdate {
  return { kind: 'positive', tuple }
}

/** Cancels every tuple matching `pattern` (a plain tuple cancels just itself). */
export function negative (pattern: Pattern): NegativeUpdate {
  return { kind: 'negative', pattern }
}

const FORMAT = 1
const KIND_POSITIVE = 0
const KIND_NEGATIVE = 1

/**
 * Throws TUPLE_INVALID unless every update is well formed. A transaction that asserts and
 * exactly cancels the same tuple is refused: with one shared stamp it has no meaning.
 */
export function validateUpdates (updates: unknown): asserts updates is readonly Update[] {
  if (!Array.isArray(updates)) throw new QuorateError('TUPLE_INVALID', 'updates must be an array')
  const asserted = new Set<string>()
  const cancelled = new Set<string>()
  for (const u of updates as unknown[]) {
    const kind = (u as Update | null)?.kind
    if (kind === 'positive') {
      asserted.add(tupleKey((u as PositiveUpdate).tuple))
    } else if (kind === 'negative') {
      const shape = patternShape((u as NegativeUpdate).pattern)
      if (shape.exactKey !== null) cancelled.add(shape.exactKey)
    } else {
      throw new QuorateError('TUPLE_INVALID', 'An update must be positive(tuple) or negative(pattern)')
    }
  }
  for (const key of asserted) {
    if (cancelled.has(key)) throw new QuorateError('TUPLE_INVALID', 'A transaction both asserts and cancels the same tuple')
  }
}

export function validateTransaction (txn: unknown): asserts txn is Transaction {
  if (typeof txn !== 'object' || txn === null || !isValidStamp((txn as Transaction).stamp)) {
    throw new QuorateError('TUPLE_INVALID', 'A transaction needs a valid stamp')
  }
  validateUpdates((txn as Transaction).updates)
}

export function writeTransaction (w: ByteWriter, txn: Transaction): void {
  w.byte(FORMAT)
  writeStamp(w, txn.stamp)
  w.varint(txn.updates.length)
  for (const u of txn.updates) {
    if (u.kind === 'positive') {
      w.byte(KIND_POSITIVE)
      w.chunk(encodeTuple(u.tuple))
    } else {
      w.byte(KIND_NEGATIVE)
      w.chunk(encodePattern(u.pattern))
    }
  }
}

export function readTransaction (r: ByteReader): Transaction {
  if (r.byte() !== FORMAT) r.fail('unknown transaction format')
  const stamp = readStamp(r)
  const count = r.varint()
  const updates: Update[] = []
  for (let i = 0; i < count; i++) {
    const kind = r.byte()
    if (kind === KIND_POSITIVE) updates.push(positive(decodeTuple(r.chunk())))
    else if (kind === KIND_NEGATIVE) updates.push(negative(decodePattern(r.chunk())))
    else r.fail('unknown update kind')
  }
  const txn = { stamp, updates }
  validateTransaction(txn)
  return txn
}

/** Binary form of a transaction (a Raft command, a replay-log record). */
export function encodeTransaction (txn: Transaction): Uint8Array {
  validateTransaction(txn)
  const w = new ByteWriter(128)
  writeTransaction(w, txn)
  return w.finish().slice()
}

/** Inverse of `encodeTransaction`; malformed input fails with TUPLE_INVALID. */
export function decodeTransaction (bytes: Uint8Array): Transaction {
  const r = new ByteReader(bytes, 'TUPLE_INVALID')
  const txn = readTransaction(r)
  r.end()
  return txn
}

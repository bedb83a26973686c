/**
 * How a TupleStore lays out its data in an abstract-level database. Keys are bytes and
 * sort so that each kind of record is one contiguous range (and tuples in tuple order,
 * so a prefix lookup is a range scan on disk too):
 *
 *   'a' + replica id (UTF-8)        → varint acknowledged version
 *   'l' + version (8 bytes BE)      → encoded transaction (replay log)
 *   'm'                             → meta: varints version, maxCounter, watermark, expiredSeq, logFloor
 *   'r' + encoded pattern           → varint seq, stamp (12 bytes)
 *   't' + encoded tuple             → varint seq, flags, pos? (12 bytes), neg? (12 bytes)
 *   'f' + origin (4 bytes BE)       → varint sync-log floor (mirrored stores)
 *   'w' + mirror (4 bytes BE)       → varint count, then (origin, counter) varint pairs
 *   'x' + origin (4 BE) + counter (8 BE) → encoded transaction (mirrored replay log)
 *
 * Every store operation writes one chained batch (data, meta and log together), so after
 * a crash the database holds the state after some prefix of the operations.
 */
import type { AbstractLevel } from 'abstract-level'
import { QuorateError } from '../errors.js'
import { ByteReader, ByteWriter, concatBytes, keyToBytes, readU64, writeU64 } from '../util/bytes.js'
import { decodeStamp, encodeStamp, STAMP_BYTES, type Stamp } from './stamp.js'
import type { TupleEntry, Rule } from './state.js'
import { decodePattern, decodeTuple, type Pattern, type Tuple } from './tuple.js'
import { decodeTransaction, type Transaction } from './update.js'

type Db = AbstractLevel<any, any, any>

const PREFIX_ACK = 0x61
const PREFIX_FLOOR = 0x66
const PREFIX_ROW = 0x77
const PREFIX_SYNC_LOG = 0x78
const PREFIX_LOG = 0x6c
const PREFIX_META = 0x6d
const PREFIX_RULE = 0x72
const PREFIX_TUPLE = 0x74

const BYTES = { keyEncoding: 'view', valueEncoding: 'view' } as const

export interface StoredMeta {
  readonly version: number
  readonly maxCounter: number
  readonly watermark: number
  readonly expiredSeq: number
  readonly logFloor: number
}

export interface LoadedStore {
  readonly meta: StoredMeta | null
  readonly rules: Array<{ pattern: Pattern, stamp: Stamp, seq: number }>
  readonly entries: Array<{ tuple: Tuple, pos: Stamp | null, neg: Stamp | null, seq: number }>
  readonly log: Array<{ version: number, transaction: Transaction }>
  readonly acks: Map<string, number>
  readonly floors: Array<[number, number]>
  readonly rows: Array<[number, Array<[number, number]>]>
  readonly syncLog: Transaction[]
}

const prefixed = (prefix: number, rest: Uint8Array): Uint8Array => concatBytes([Uint8Array.of(prefix), rest])

export const tupleStorageKey = (key: string): Uint8Array => prefixed(PREFIX_TUPLE, keyToBytes(key))
export const ruleStorageKey = (key: string): Uint8Array => prefixed(PREFIX_RULE, keyToBytes(key))
export const ackStorageKey = (replica: string): Uint8Array => prefixed(PREFIX_ACK, new TextEncoder().encode(replica))
export const META_KEY = Uint8Array.of(PREFIX_META)

function numberKey (prefix: number, parts: ReadonlyArray<readonly [number, 4 | 8]>): Uint8Array {
  const out = new Uint8Array(1 + parts.reduce((n, [, w]) => n + w, 0))
  out[0] = prefix
  const view = new DataView(out.buffer)
  let at = 1
  for (const [n, width] of parts) {
    if (width === 8) {
      view.setUint32(at, Math.floor(n / 0x100000000))
      at += 4
    }
    view.setUint32(at, n >>> 0)
    at += 4
  }
  return out
}

function readNumber (view: DataView, at: number, width: 4 | 8): number {
  return width === 8 ? view.getUint32(at) * 0x100000000 + view.getUint32(at + 4) : view.getUint32(at)
}

export const logStorageKey = (version: number): Uint8Array => numberKey(PREFIX_LOG, [[version, 8]])
export const floorStorageKey = (origin: number): Uint8Array => numberKey(PREFIX_FLOOR, [[origin, 4]])
export const rowStorageKey = (mirror: number): Uint8Array => numberKey(PREFIX_ROW, [[mirror, 4]])
export const syncLogStorageKey = (origin: number, counter: number): Uint8Array => numberKey(PREFIX_SYNC_LOG, [[origin, 4], [counter, 8]])

export function encodeVarints (values: readonly number[]): Uint8Array {
  const w = new ByteWriter(8 * values.length + 8)
  for (const v of values) w.varint(v)
  return w.finish().slice()
}

export function encodeRow (pairs: ReadonlyArray<readonly [number, number]>): Uint8Array {
  return encodeVarints([pairs.length, ...pairs.flat()])
}

export function encodeEntryValue (e: TupleEntry): Uint8Array {
  const w = new ByteWriter(40)
  w.varint(e.seq)
  w.byte((e.pos !== null ? 1 : 0) | (e.neg !== null ? 2 : 0))
  if (e.pos !== null) w.bytes(encodeStamp(e.pos))
  if (e.neg !== null) w.bytes(encodeStamp(e.neg))
  return w.finish().slice()
}

export function encodeRuleValue (r: Rule): Uint8Array {
  const w = new ByteWriter(24)
  w.varint(r.seq)
  w.bytes(encodeStamp(r.stamp))
  return w.finish().slice()
}

export function encodeMeta (m: StoredMeta): Uint8Array {
  const w = new ByteWriter(40)
  w.varint(m.version)
  w.varint(m.maxCounter)
  w.varint(m.watermark)
  w.varint(m.expiredSeq)
  w.varint(m.logFloor)
  return w.finish().slice()
}

export const encodeAck = (version: number): Uint8Array => encodeVarints([version])

async function * range (db: Db, prefix: number): AsyncGenerator<[Uint8Array, Uint8Array]> {
  const it = db.iterator({ gte: Uint8Array.of(prefix), lt: Uint8Array.of(prefix + 1), ...BYTES })
  try {
    for await (const [k, v] of it) yield [k as Uint8Array, v as Uint8Array]
  } finally {
    await it.close()
  }
}

function corrupt (what: string, cause: unknown): QuorateError {
  return new QuorateError('STORAGE_CORRUPT', `Stored tuple data is corrupt (${what})`, { cause })
}

/** Reads everything a store needs to reopen. Undecodable records fail with STORAGE_CORRUPT. */
export async function loadStore (db: Db): Promise<LoadedStore> {
  const out: LoadedStore = { meta: null, rules: [], entries: [], log: [], acks: new Map(), floors: [], rows: [], syncLog: [] }
  try {
    const meta = await db.get(META_KEY, BYTES) as Uint8Array | undefined
    if (meta !== undefined) {
      const r = new ByteReader(meta, 'STORAGE_CORRUPT')
      ;(out as { meta: StoredMeta }).meta = {
        version: r.varint(), maxCounter: r.varint(), watermark: r.varint(), expiredSeq: r.varint(), logFloor: r.varint()
      }
    }
  } catch (err) {
    throw err instanceof QuorateError ? corrupt('meta', err) : new QuorateError('STORAGE_READ_FAILED', 'Reading tuple meta failed', { cause: err })
  }
  const read = async (prefix: number, what: string, each: (k: Uint8Array, v: Uint8Array) => void): Promise<void> => {
    try {
      for await (const [k, v] of range(db, prefix)) each(k.subarray(1), v)
    } catch (err) {
      throw err instanceof QuorateError ? corrupt(what, err) : new QuorateError('STORAGE_READ_FAILED', `Reading ${what} failed`, { cause: err })
    }
  }
  await read(PREFIX_ACK, 'acknowledgements', (k, v) => {
    out.acks.set(new TextDecoder('utf-8', { fatal: true }).decode(k), new ByteReader(v, 'STORAGE_CORRUPT').varint())
  })
  await read(PREFIX_LOG, 'replay log', (k, v) => {
    if (k.length !== 8) throw new QuorateError('STORAGE_CORRUPT', 'log key length')
    out.log.push({ version: readNumber(new DataView(k.buffer, k.byteOffset, 8), 0, 8), transaction: decodeTransaction(v) })
  })
  await read(PREFIX_FLOOR, 'sync-log floors', (k, v) => {
    if (k.length !== 4) throw new QuorateError('STORAGE_CORRUPT', 'floor key length')
    out.floors.push([readNumber(new DataView(k.buffer, k.byteOffset, 4), 0, 4), new ByteReader(v, 'STORAGE_CORRUPT').varint()])
  })
  await read(PREFIX_ROW, 'progress rows', (k, v) => {
    if (k.length !== 4) throw new QuorateError('STORAGE_CORRUPT', 'row key length')
    const r = new ByteReader(v, 'STORAGE_CORRUPT')
    const pairs: Array<[number, number]> = []
    for (let n = r.varint(); n > 0; n--) pairs.push([r.varint(), r.varint()])
    r.end()
    out.rows.push([readNumber(new DataView(k.buffer, k.byteOffset, 4), 0, 4), pairs])
  })
  await read(PREFIX_SYNC_LOG, 'sync log', (k, v) => {
    if (k.length !== 12) throw new QuorateError('STORAGE_CORRUPT', 'sync-log key length')
    out.syncLog.push(decodeTransaction(v))
  })
  await read(PREFIX_RULE, 'rules', (k, v) => {
    const r = new ByteReader(v, 'STORAGE_CORRUPT')
    const seq = r.varint()
    out.rules.push({ pattern: decodePattern(k), stamp: decodeStamp(r.bytes(STAMP_BYTES)), seq })
    r.end()
  })
  await read(PREFIX_TUPLE, 'tuples', (k, v) => {
    const r = new ByteReader(v, 'STORAGE_CORRUPT')
    const seq = r.varint()
    const flags = r.byte()
    const pos = (flags & 1) !== 0 ? decodeStamp(r.bytes(STAMP_BYTES)) : null
    const neg = (flags & 2) !== 0 ? decodeStamp(r.bytes(STAMP_BYTES)) : null
    r.end()
    if (pos === null && neg === null) throw new QuorateError('STORAGE_CORRUPT', 'empty tuple record')
    out.entries.push({ tuple: decodeTuple(k), pos, neg, seq })
  })
  return out
}

/** Collects the puts and deletes of one store operation into one chained batch. */
export class StoreBatch {
  readonly #ops: Array<{ key: Uint8Array, value: Uint8Array | null }> = []

  get size (): number { return this.#ops.length }

  put (key: Uint8Array, value: Uint8Array): void { this.#ops.push({ key, value }) }
  del (key: Uint8Array): void { this.#ops.push({ key, value: null }) }

  async write (db: Db, sync: boolean): Promise<void> {
    const batch = db.batch()
    for (const op of this.#ops) {
      if (op.value === null) batch.del(op.key, BYTES)
      else batch.put(op.key, op.value, BYTES)
    }
    await batch.write(sync ? { sync: true } as object : {})
  }
}

/**
 * Binary encoding of graph commands (transactions, emits) and of their results, on the shared
 * ByteWriter / ByteReader. A command starts with the two bytes 'G' 1 (format version 1) and a
 * tag; strings are UTF-8 with a varint length; every decode is bounds-checked and fails with
 * GRAPH_COMMAND_INVALID (a replica returns that as the result; it never throws from apply).
 */
import { ByteReader, ByteWriter } from '../util/bytes.js'
import { QuorateError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import type { FieldValue } from './schema.js'
import type { Expectation, GraphOp } from './change.js'

export const COMMAND_MAGIC = 0x47
export const COMMAND_VERSION = 1

/** A fencing claim: the command acts under lease `name` with fencing token `token`. */
export interface Fence { readonly name: string, readonly token: number }

/**
 * One transaction, committed as one Raft entry. `time` is the proposer's wall-clock
 * milliseconds; the machine's replicated time is the maximum seen (see events.ts). `trim`
 * holds the ids of events this transaction handles (`handle(eventIds, change)`).
 */
export interface GraphTransaction {
  readonly type: 'tx'
  readonly time: number
  readonly fence?: Fence
  readonly expect: readonly Expectation[]
  readonly ops: readonly GraphOp[]
  readonly trim: readonly string[]
}

export interface EmitCommand {
  readonly type: 'emit'
  readonly time: number
  /** The producer-chosen UUID the queue deduplicates by. */
  readonly id: string
  readonly payload: Uint8Array
}

export type GraphCommand = GraphTransaction | EmitCommand

/** What apply returns. `refused` carries the stable code the client raises as a QuorateError. */
export type GraphResult =
  | { readonly status: 'ok', readonly index: number, readonly touched: readonly string[], readonly removed: readonly string[], readonly trimmed: readonly string[] }
  | { readonly status: 'stored', readonly index: number, readonly id: string }
  /** A retry of an event already committed at `index` (it was not stored again). */
  | { readonly status: 'duplicate', readonly index: number, readonly id: string }
  | { readonly status: 'refused', readonly index: number, readonly code: ErrorCode, readonly message: string, readonly details?: Record<string, unknown> }

const TAG = { tx: 1, emit: 2 } as const
const OP_TAGS = ['put', 'update', 'delete', 'connect', 'disconnect', 'keep', 'gc'] as const
const RESULT_TAGS = ['ok', 'stored', 'duplicate', 'refused'] as const
const V_NULL = 0; const V_STRING = 1; const V_NUMBER = 2; const V_TRUE = 3; const V_FALSE = 4

/**
 * A varint length and the UTF-8 bytes (ByteWriter.string: written in place, no encoded copy
 * per string; short ASCII char by char). Those copies were most of a graph snapshot's cost
 * (profile of bench:ha events-c256) and, with the per-byte writes, a third of a coordinator's
 * replay (bench/coordinator.ts --only replay).
 */
export function writeString (w: ByteWriter, s: string): void { w.string(s) }

/** Fails (GRAPH_COMMAND_INVALID) on a truncated string or invalid UTF-8. */
export function readString (r: ByteReader): string { return r.string() }

function writeStrings (w: ByteWriter, list: readonly string[]): void {
  w.varint(list.length)
  for (const s of list) writeString(w, s)
}

function readStrings (r: ByteReader): string[] {
  const n = r.varint()
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(readString(r))
  return out
}

function writeValue (w: ByteWriter, v: FieldValue | null): void {
  if (v === null) w.byte(V_NULL)
  else if (typeof v === 'string') { w.byte(V_STRING); writeString(w, v) } else if (typeof v === 'number') {
    w.byte(V_NUMBER)
    w.f64(v)
  } else w.byte(v ? V_TRUE : V_FALSE)
}

function readValue (r: ByteReader): FieldValue | null {
  switch (r.byte()) {
    case V_NULL: return null
    case V_STRING: return readString(r)
    case V_NUMBER: return r.f64()
    case V_TRUE: return true
    case V_FALSE: return false
    default: return r.fail('unknown value tag')
  }
}

export function writeFields (w: ByteWriter, fields: Readonly<Record<string, FieldValue | null>>): void {
  // Two passes over the keys instead of a filtered entries array: no arrays per resource.
  const keys = Object.keys(fields)
  let n = 0
  for (const k of keys) if (fields[k] !== undefined) n++
  w.varint(n)
  for (const k of keys) {
    const v = fields[k]
    if (v !== undefined) { writeString(w, k); writeValue(w, v) }
  }
}

export function readFields (r: ByteReader): Record<string, FieldValue | null> {
  const n = r.varint()
  const out: Record<string, FieldValue | null> = {}
  for (let i = 0; i < n; i++) {
    const k = readString(r)
    const v = readValue(r)
    // '__proto__' is the one inherited accessor an assignment would hit (it would set the
    // prototype): it is defined as an own data field. Every other name is assigned, which keeps
    // the object in V8's fast mode (defineProperty per field cost a sixth of a replay's decode).
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
    else out[k] = v
  }
  return out
}

function writeOp (w: ByteWriter, op: GraphOp): void {
  w.byte(OP_TAGS.indexOf(op.op))
  switch (op.op) {
    case 'put': writeString(w, op.id); writeString(w, op.kind); writeFields(w, op.fields); break
    case 'update': writeString(w, op.id); writeFields(w, op.fields); break
    case 'delete': writeString(w, op.id); break
    case 'connect':
    case 'disconnect': writeString(w, op.relation); writeString(w, op.from); writeString(w, op.to); break
    case 'keep': writeString(w, op.id); w.byte(op.keep ? 1 : 0); break
    case 'gc':
      w.byte(op.ids === null ? 0 : 1)
      if (op.ids !== null) writeStrings(w, op.ids)
  }
}

function readOp (r: ByteReader): GraphOp {
  const tag = OP_TAGS[r.byte()] ?? r.fail('unknown op')
  switch (tag) {
    case 'put': {
      const id = readString(r)
      const kind = readString(r)
      const fields = readFields(r)
      if (Object.values(fields).includes(null)) r.fail('null field in put')
      return { op: tag, id, kind, fields: fields as Record<string, FieldValue> }
    }
    case 'update': return { op: tag, id: readString(r), fields: readFields(r) }
    case 'delete': return { op: tag, id: readString(r) }
    case 'connect':
    case 'disconnect': return { op: tag, relation: readString(r), from: readString(r), to: readString(r) }
    case 'keep': return { op: tag, id: readString(r), keep: r.byte() === 1 }
    case 'gc': return { op: tag, ids: r.byte() === 0 ? null : readStrings(r) }
  }
}

export function encodeCommand (c: GraphCommand): Uint8Array {
  const w = new ByteWriter(64)
  w.byte(COMMAND_MAGIC); w.byte(COMMAND_VERSION); w.byte(TAG[c.type])
  w.varint(c.time)
  if (c.type === 'emit') {
    writeString(w, c.id)
    w.chunk(c.payload)
    return w.finish().slice()
  }
  w.byte(c.fence === undefined ? 0 : 1)
  if (c.fence !== undefined) { writeString(w, c.fence.name); w.varint(c.fence.token) }
  w.varint(c.expect.length)
  for (const e of c.expect) { writeString(w, e.id); w.varint(e.version) }
  w.varint(c.ops.length)
  for (const op of c.ops) writeOp(w, op)
  writeStrings(w, c.trim)
  return w.finish().slice()
}

/** Decodes a command; throws GRAPH_COMMAND_INVALID. */
export function decodeCommand (bytes: Uint8Array): GraphCommand {
  const r = new ByteReader(bytes, 'GRAPH_COMMAND_INVALID')
  if (r.byte() !== COMMAND_MAGIC) r.fail('not a graph command')
  if (r.byte() !== COMMAND_VERSION) r.fail('unsupported command version')
  const tag = r.byte()
  const time = r.varint()
  let out: GraphCommand
  if (tag === TAG.emit) {
    out = { type: 'emit', time, id: readString(r), payload: r.chunk().slice() }
  } else if (tag === TAG.tx) {
    const fence = r.byte() === 1 ? { name: readString(r), token: r.varint() } : undefined
    const expect: Expectation[] = []
    for (let i = 0, n = r.varint(); i < n; i++) expect.push({ id: readString(r), version: r.varint() })
    const ops: GraphOp[] = []
    for (let i = 0, n = r.varint(); i < n; i++) ops.push(readOp(r))
    const trim = readStrings(r)
    out = { type: 'tx', time, ...(fence === undefined ? {} : { fence }), expect, ops, trim }
  } else return r.fail('unknown command tag')
  r.end()
  return out
}

export function encodeResult (res: GraphResult): Uint8Array {
  const w = new ByteWriter(32)
  w.byte(RESULT_TAGS.indexOf(res.status))
  w.varint(res.index)
  switch (res.status) {
    case 'ok': writeStrings(w, res.touched); writeStrings(w, res.removed); writeStrings(w, res.trimmed); break
    case 'stored':
    case 'duplicate': writeString(w, res.id); break
    case 'refused': writeString(w, res.code); writeString(w, res.message); writeString(w, JSON.stringify(res.details ?? null))
  }
  return w.finish().slice()
}

/** Decodes a result; throws GRAPH_COMMAND_INVALID. */
export function decodeResult (bytes: Uint8Array): GraphResult {
  const r = new ByteReader(bytes, 'GRAPH_COMMAND_INVALID')
  const status = RESULT_TAGS[r.byte()] ?? r.fail('unknown result tag')
  const index = r.varint()
  let out: GraphResult
  switch (status) {
    case 'ok': out = { status, index, touched: readStrings(r), removed: readStrings(r), trimmed: readStrings(r) }; break
    case 'stored':
    case 'duplicate': out = { status, index, id: readString(r) }; break
    case 'refused': {
      const code = readString(r) as ErrorCode
      const message = readString(r)
      let details: unknown
      try { details = JSON.parse(readString(r)) } catch (err) { throw new QuorateError('GRAPH_COMMAND_INVALID', 'Malformed result details', { cause: err }) }
      out = { status, index, code, message, ...(details === null ? {} : { details: details as Record<string, unknown> }) }
    }
  }
  r.end()
  return out
}

/**
 * The graph machine's snapshot format, streamed both ways: a sequence of records (varint
 * length, tag byte, body) packed into chunks of about `chunkBytes`. The writer serialises
 * one record at a time from the live state and yields a chunk whenever it is full, so a
 * snapshot never exists as one buffer; the reader parses records as chunks arrive, whatever
 * their boundaries (a record may span any number of chunks).
 *
 * Order: header, fences, resources, edges, events, dedup ids, end. The end record makes a
 * truncated stream an error rather than a smaller state.
 *
 * The writer also takes runs of records already framed (`Uint8Array`s, see dedup-log.ts):
 * they are passed on as chunks of their own, after whatever was packed before them, so the
 * bytes are exactly those of packing the records one by one (only the chunk cuts differ).
 */
import { ByteReader, ByteWriter, concatBytes } from '../util/bytes.js'
import { QuorateError } from '../errors.js'
import { readFields, readString, writeFields, writeString } from './codec.js'
import type { FieldValue } from './schema.js'
import type { Edge, Resource } from './state.js'
import type { DedupEntry, StoredEvent } from './events.js'

export const SNAPSHOT_FORMAT = 1

export type SnapshotRecord =
  | { readonly type: 'header', readonly format: number, readonly applied: number, readonly time: number }
  | { readonly type: 'fence', readonly name: string, readonly token: number }
  | { readonly type: 'resource', readonly resource: Resource }
  | { readonly type: 'edge', readonly edge: Edge }
  | { readonly type: 'event', readonly event: StoredEvent }
  | { readonly type: 'dedup', readonly entry: DedupEntry }
  | { readonly type: 'end' }

const TAGS = ['header', 'fence', 'resource', 'edge', 'event', 'dedup', 'end'] as const

function writeBody (w: ByteWriter, rec: SnapshotRecord): void {
  w.byte(TAGS.indexOf(rec.type))
  switch (rec.type) {
    case 'header': w.varint(rec.format); w.varint(rec.applied); w.varint(rec.time); break
    case 'fence': writeString(w, rec.name); w.varint(rec.token); break
    case 'resource': {
      const r = rec.resource
      writeString(w, r.id); writeString(w, r.kind); w.varint(r.version); w.byte(r.keep ? 1 : 0); writeFields(w, r.fields)
      break
    }
    case 'edge': writeString(w, rec.edge.relation); writeString(w, rec.edge.from); writeString(w, rec.edge.to); break
    case 'event': {
      const e = rec.event
      writeString(w, e.id); w.varint(e.index); w.varint(e.time); w.chunk(e.payload)
      break
    }
    case 'dedup': writeString(w, rec.entry.id); w.varint(rec.entry.index); w.varint(rec.entry.time); break
    case 'end': break
  }
}

function readBody (r: ByteReader): SnapshotRecord {
  const type = TAGS[r.byte()] ?? r.fail('unknown snapshot record')
  switch (type) {
    case 'header': return { type, format: r.varint(), applied: r.varint(), time: r.varint() }
    case 'fence': return { type, name: readString(r), token: r.varint() }
    case 'resource': {
      const id = readString(r); const kind = readString(r); const version = r.varint(); const keep = r.byte() === 1
      return { type, resource: { id, kind, version, keep, fields: readFields(r) as Record<string, FieldValue> } }
    }
    case 'edge': return { type, edge: { relation: readString(r), from: readString(r), to: readString(r) } }
    case 'event': return { type, event: { id: readString(r), index: r.varint(), time: r.varint(), payload: r.chunk().slice() } }
    case 'dedup': return { type, entry: { id: readString(r), index: r.varint(), time: r.varint() } }
    case 'end': return { type }
  }
}

/** Appends `rec` framed (varint length, tag, body) to `out`; `scratch` holds the body meanwhile. */
export function writeRecord (out: ByteWriter, scratch: ByteWriter, rec: SnapshotRecord): void {
  writeBody(scratch.reset(), rec)
  out.chunk(scratch.finish())
}

/**
 * Packs records into chunks of about `chunkBytes` (a chunk ends after the record that fills
 * it). A `Uint8Array` in `records` is a run of framed records, yielded as it is (never copied:
 * the caller hands over bytes nobody writes again).
 */
export async function * packRecords (records: Iterable<SnapshotRecord | Uint8Array>, chunkBytes: number): AsyncIterable<Uint8Array> {
  const out = new ByteWriter(Math.min(chunkBytes * 2, 1 << 20))
  const body = new ByteWriter(256)
  for (const rec of records) {
    if (rec instanceof Uint8Array) {
      if (out.length > 0) { yield out.finish().slice(); out.reset() }
      if (rec.length > 0) yield rec
      continue
    }
    writeRecord(out, body, rec)
    if (out.length >= chunkBytes) {
      yield out.finish().slice()
      out.reset()
    }
  }
  if (out.length > 0) yield out.finish().slice()
}

/** Parses records from chunks with arbitrary boundaries; throws GRAPH_SNAPSHOT_INVALID. */
export async function * unpackRecords (chunks: AsyncIterable<Uint8Array>): AsyncIterable<SnapshotRecord> {
  let pending: Uint8Array = new Uint8Array(0)
  let ended = false
  for await (const chunk of chunks) {
    pending = pending.length === 0 ? chunk : concatBytes([pending, chunk])
    let at = 0
    for (;;) {
      const framed = frameAt(pending, at)
      if (framed === null) break
      if (ended) invalid('data after the end record')
      const rec = decodeRecord(framed.body)
      if (rec.type === 'end') ended = true
      yield rec
      at = framed.next
    }
    // Only the unparsed tail (less than one record) is kept between chunks.
    pending = pending.subarray(at)
  }
  if (pending.length > 0) invalid('a record is cut off')
  if (!ended) invalid('the stream ended before its end record')
}

function invalid (what: string, cause?: unknown): never {
  throw new QuorateError('GRAPH_SNAPSHOT_INVALID', `Graph snapshot: ${what}`, cause === undefined ? {} : { cause })
}

/** The body of the record framed at `at`, or null if it is not complete yet. */
function frameAt (buf: Uint8Array, at: number): { body: Uint8Array, next: number } | null {
  let len = 0
  let scale = 1
  let pos = at
  for (let i = 0; ; i++) {
    if (pos >= buf.length) return null
    if (i >= 8) invalid('record length too long')
    const b = buf[pos++]!
    len += (b & 0x7f) * scale
    if (b < 0x80) break
    scale *= 0x80
  }
  if (buf.length - pos < len) return null
  return { body: buf.subarray(pos, pos + len), next: pos + len }
}

function decodeRecord (body: Uint8Array): SnapshotRecord {
  try {
    const r = new ByteReader(body, 'GRAPH_SNAPSHOT_INVALID')
    const rec = readBody(r)
    r.end()
    return rec
  } catch (err) {
    if (err instanceof QuorateError && err.code === 'GRAPH_SNAPSHOT_INVALID') throw err
    return invalid('malformed record', err)
  }
}

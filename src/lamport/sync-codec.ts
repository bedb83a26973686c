/**
 * Binary form of the sync messages (sync.ts), to carry them over any byte channel (a TCP
 * connection, a queue, a file). Layout, all integers varints:
 *
 *   format 1, kind (0 request, 1 response), from
 *   request:  rows
 *   response: base pairs, rows, count + transactions, snapshot flag [snapshot]
 *   snapshot: applied pairs, maxCounter, entries and rules (as in a delta),
 *             count + transactions, floor pairs
 *
 * Decoding validates like the message validators do, failing with TUPLE_INVALID.
 */
import { ByteReader, ByteWriter } from '../util/bytes.js'
import type { ProgressRows, VectorPairs } from './progress.js'
import { readRecords, writeRecords } from './delta.js'
import { validateSyncRequest, validateSyncResponse, type SyncRequest, type SyncResponse, type SyncSnapshot } from './sync.js'
import { readTransaction, writeTransaction, type Transaction } from './update.js'

const FORMAT = 1

function writePairs (w: ByteWriter, v: VectorPairs): void {
  w.varint(v.length)
  for (const [a, b] of v) { w.varint(a); w.varint(b) }
}

function readPairs (r: ByteReader): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let n = r.varint(); n > 0; n--) out.push([r.varint(), r.varint()])
  return out
}

function writeRows (w: ByteWriter, rows: ProgressRows): void {
  w.varint(rows.length)
  for (const [node, v] of rows) { w.varint(node); writePairs(w, v) }
}

function readRows (r: ByteReader): Array<[number, Array<[number, number]>]> {
  const out: Array<[number, Array<[number, number]>]> = []
  for (let n = r.varint(); n > 0; n--) out.push([r.varint(), readPairs(r)])
  return out
}

function writeTransactions (w: ByteWriter, txns: readonly Transaction[]): void {
  w.varint(txns.length)
  for (const t of txns) writeTransaction(w, t)
}

function readTransactions (r: ByteReader): Transaction[] {
  const out: Transaction[] = []
  for (let n = r.varint(); n > 0; n--) out.push(readTransaction(r))
  return out
}

function writeSnapshot (w: ByteWriter, s: SyncSnapshot): void {
  writePairs(w, s.applied)
  w.varint(s.maxCounter)
  writeRecords(w, s)
  writeTransactions(w, s.log)
  writePairs(w, s.floors)
}

function readSnapshot (r: ByteReader): SyncSnapshot {
  const applied = readPairs(r)
  const maxCounter = r.varint()
  const { entries, rules } = readRecords(r)
  const log = readTransactions(r)
  return { applied, maxCounter, entries, rules, log, floors: readPairs(r) }
}

export function encodeSyncMessage (m: SyncRequest | SyncResponse): Uint8Array {
  const w = new ByteWriter(256)
  w.byte(FORMAT)
  w.byte(m.type === 'sync-request' ? 0 : 1)
  w.varint(m.from)
  if (m.type === 'sync-request') {
    writeRows(w, m.progress)
  } else {
    writePairs(w, m.base)
    writeRows(w, m.progress)
    writeTransactions(w, m.transactions)
    w.byte(m.snapshot === null ? 0 : 1)
    if (m.snapshot !== null) writeSnapshot(w, m.snapshot)
  }
  return w.finish().slice()
}

export function decodeSyncMessage (bytes: Uint8Array): SyncRequest | SyncResponse {
  const r = new ByteReader(bytes, 'TUPLE_INVALID')
  if (r.byte() !== FORMAT) r.fail('unknown sync message format')
  const kind = r.byte()
  const from = r.varint()
  let m: SyncRequest | SyncResponse
  if (kind === 0) {
    m = { type: 'sync-request', from, progress: readRows(r) }
    validateSyncRequest(m)
  } else if (kind === 1) {
    const base = readPairs(r)
    const progress = readRows(r)
    const transactions = readTransactions(r)
    const snapshot = r.byte() === 1 ? readSnapshot(r) : null
    m = { type: 'sync-response', from, base, progress, transactions, snapshot }
    validateSyncResponse(m)
  } else {
    return r.fail('unknown sync message kind')
  }
  r.end()
  return m
}

/**
 * Messages of the mirrored-store sync protocol (see docs/tuple-sync.md):
 *
 *   requester                         server
 *   syncRequest()  ── SyncRequest ──▶  syncResponse(req)
 *   applySync(res) ◀── SyncResponse ──
 *
 * A request carries the requester's progress rows (its own durable vector first-hand,
 * the others as gossip). The response carries the transactions the requester lacks,
 * per origin in counter order, or, when the server's replay log no longer reaches back
 * that far, a snapshot of its state together with its log. Either side may start an
 * exchange; every message is idempotent, so loss, duplication and reordering are safe.
 */
import { QuorateError } from '../errors.js'
import type { EntryRecord, RuleRecord } from './state.js'
import type { ProgressRows, VectorPairs } from './progress.js'
import { validateTransaction, type Transaction } from './update.js'
import { validateDelta } from './delta.js'

export interface SyncRequest {
  readonly type: 'sync-request'
  /** The requester's node number. */
  readonly from: number
  readonly progress: ProgressRows
}

/** A server's whole state, sent when its log cannot serve the requester. */
export interface SyncSnapshot {
  /** The server's applied vector: the entries and rules reflect exactly these transactions. */
  readonly applied: VectorPairs
  readonly maxCounter: number
  readonly entries: readonly EntryRecord[]
  readonly rules: readonly RuleRecord[]
  /** The server's replay log and its floors, so the requester can relay onwards. */
  readonly log: readonly Transaction[]
  readonly floors: VectorPairs
}

export interface SyncResponse {
  readonly type: 'sync-response'
  /** The server's node number. */
  readonly from: number
  /** The requester's vector the response was cut against (entries above it follow). */
  readonly base: VectorPairs
  readonly progress: ProgressRows
  readonly transactions: readonly Transaction[]
  readonly snapshot: SyncSnapshot | null
}

/** What `applySync` did. */
export interface SyncResult {
  /** Transactions applied (duplicates not counted). */
  readonly applied: number
  /** True if the response was a snapshot (this replica was past the server's log). */
  readonly resynced: boolean
}

function bad (what: string): never {
  throw new QuorateError('TUPLE_INVALID', `Malformed sync message: ${what}`)
}

function isCount (n: unknown): boolean {
  return Number.isSafeInteger(n) && (n as number) >= 0
}

function validatePairs (v: unknown, what: string): void {
  if (!Array.isArray(v)) bad(`${what} must be an array`)
  for (const p of v as unknown[]) {
    if (!Array.isArray(p) || p.length !== 2 || !isCount(p[0]) || !isCount(p[1])) bad(`${what} holds [node, counter] pairs`)
  }
}

function validateRows (rows: unknown): void {
  if (!Array.isArray(rows)) bad('progress must be an array')
  for (const r of rows as unknown[]) {
    if (!Array.isArray(r) || r.length !== 2 || !isCount(r[0])) bad('progress holds [node, vector] rows')
    validatePairs(r[1], 'a progress vector')
  }
}

export function validateSyncRequest (m: unknown): asserts m is SyncRequest {
  if (typeof m !== 'object' || m === null || (m as SyncRequest).type !== 'sync-request') bad('not a sync request')
  if (!isCount((m as SyncRequest).from)) bad('from must be a node number')
  validateRows((m as SyncRequest).progress)
}

export function validateSyncResponse (m: unknown): asserts m is SyncResponse {
  if (typeof m !== 'object' || m === null || (m as SyncResponse).type !== 'sync-response') bad('not a sync response')
  const r = m as SyncResponse
  if (!isCount(r.from)) bad('from must be a node number')
  validatePairs(r.base, 'base')
  validateRows(r.progress)
  if (!Array.isArray(r.transactions)) bad('transactions must be an array')
  for (const t of r.transactions) validateTransaction(t)
  const s = r.snapshot
  if (s === null) return
  if (typeof s !== 'object') bad('snapshot must be an object or null')
  validatePairs(s.applied, 'snapshot.applied')
  validatePairs(s.floors, 'snapshot.floors')
  validateDelta({ full: true, since: 0, version: 0, watermark: 0, maxCounter: s.maxCounter, entries: s.entries, rules: s.rules })
  if (!Array.isArray(s.log)) bad('snapshot.log must be an array')
  for (const t of s.log) validateTransaction(t)
}

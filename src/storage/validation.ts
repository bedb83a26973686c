/**
 * Input checks and log-bound bookkeeping shared by every quorate RaftStorage, so that all
 * backends reject the same bad input with the same code (the conformance suite relies on it).
 */
import { QuorateError } from '../errors.js'
import type { SnapshotStageIdentity, StagedSnapshot, StorageBatch } from './storage.js'
import type { Entry, HardState, SnapshotMeta } from '../raft/types.js'
import { ENTRY_TYPES, entrySize } from '../raft/types.js'

/** `write()`, `saveSnapshot()` and `compact()` fsync unless told otherwise: Raft needs it. */
export const DEFAULT_SYNC = true

export function isIndex (n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0
}

export function invalidRange (message: string, details: Record<string, unknown>): QuorateError {
  return new QuorateError('STORAGE_INVALID_RANGE', message, { details })
}

/**
 * The stored log is exactly the entries first..last (empty when last = first - 1), and
 * first = snapshotIndex + 1: a snapshot always covers everything before the log.
 */
export class LogBounds {
  snapshotIndex = 0
  first = 1
  last = 0

  reset (snapshotIndex: number, last: number): void {
    this.snapshotIndex = snapshotIndex
    this.first = snapshotIndex + 1
    this.last = last
  }
}

const ENTRY_TYPE_SET: ReadonlySet<string> = new Set(ENTRY_TYPES)

function assertEntry (e: Entry, expectedIndex: number): void {
  if (typeof e !== 'object' || e === null || e.index !== expectedIndex) {
    throw invalidRange(`Entries must be contiguous: expected index ${expectedIndex}`, {
      expected: expectedIndex, got: (e as Entry | null)?.index
    })
  }
  if (!isIndex(e.term) || !ENTRY_TYPE_SET.has(e.type) || !(e.data instanceof Uint8Array)) {
    throw invalidRange(`Entry ${expectedIndex} is malformed (term, type or data)`, { index: expectedIndex })
  }
}

export function assertHardState (hs: HardState): void {
  if (typeof hs !== 'object' || hs === null || !isIndex(hs.term) || !isIndex(hs.commit) ||
      !(hs.vote === null || (typeof hs.vote === 'string' && hs.vote.length > 0))) {
    throw invalidRange('Hard state is malformed (term, vote or commit)', {})
  }
}

export function assertSnapshotMeta (meta: SnapshotMeta, bounds: LogBounds): void {
  const c = meta?.config
  if (typeof meta !== 'object' || meta === null || !isIndex(meta.index) || !isIndex(meta.term) ||
      typeof c !== 'object' || c === null ||
      !Array.isArray(c.voters) || !Array.isArray(c.votersOutgoing) || !Array.isArray(c.learners)) {
    throw invalidRange('Snapshot meta is malformed (index, term or config)', {})
  }
  if (meta.index < bounds.snapshotIndex) {
    throw invalidRange(`Snapshot at ${meta.index} is older than the stored snapshot at ${bounds.snapshotIndex}`, {
      index: meta.index, snapshotIndex: bounds.snapshotIndex
    })
  }
}

/**
 * Checks a batch against the current bounds and returns the first index it removes
 * (truncateFrom, or last + 1 when nothing is truncated).
 */
export function checkBatch (batch: StorageBatch, bounds: LogBounds): number {
  if (typeof batch !== 'object' || batch === null || !Array.isArray(batch.entries)) {
    throw invalidRange('A storage batch needs an entries array', {})
  }
  let from = bounds.last + 1
  if (batch.truncateFrom !== undefined) {
    const t = batch.truncateFrom
    if (!isIndex(t) || t < bounds.first || t > bounds.last + 1) {
      throw invalidRange(`truncateFrom ${String(t)} is outside ${bounds.first}..${bounds.last + 1}`, {
        truncateFrom: t, first: bounds.first, last: bounds.last
      })
    }
    from = t
  }
  const entries = batch.entries
  for (let i = 0; i < entries.length; i++) assertEntry(entries[i] as Entry, from + i)
  if (batch.hardState !== null && batch.hardState !== undefined) assertHardState(batch.hardState)
  return from
}

export function checkReadRange (lo: number, hi: number, bounds: LogBounds): void {
  if (!isIndex(lo) || !isIndex(hi) || lo > hi || lo < bounds.first || hi > bounds.last + 1) {
    throw invalidRange(`Range ${String(lo)}..${String(hi)} is outside the stored log ${bounds.first}..${bounds.last}`, {
      lo, hi, first: bounds.first, last: bounds.last
    })
  }
}

export function checkMaxBytes (maxBytes: number | undefined): number {
  if (maxBytes === undefined) return Infinity
  if (typeof maxBytes !== 'number' || !(maxBytes > 0)) {
    throw new QuorateError('OPTIONS_INVALID', 'maxBytes must be a positive number')
  }
  return maxBytes
}

/**
 * Entries may only be compacted once a snapshot covers them: they are otherwise the only
 * record of those commands, and of the term at the log's start that the next append checks.
 */
export function checkCompact (upTo: number, bounds: LogBounds): void {
  if (!isIndex(upTo) || upTo > bounds.snapshotIndex) {
    throw invalidRange(`Cannot compact through ${String(upTo)}: the stored snapshot ends at ${bounds.snapshotIndex}`, {
      upTo, snapshotIndex: bounds.snapshotIndex
    })
  }
}

/**
 * How many of `entries` (from position `start`) fit in `maxBytes`, counting entrySize and
 * always at least one.
 */
export function fitCount (entries: readonly Entry[], start: number, end: number, maxBytes: number): number {
  if (start >= end) return 0
  let bytes = entrySize(entries[start] as Entry)
  let n = 1
  while (start + n < end) {
    bytes += entrySize(entries[start + n] as Entry)
    if (bytes > maxBytes) break
    n++
  }
  return n
}

/** The error every write gets once a durable write has failed: the storage is fail-stop. */
export function stoppedError (failure: QuorateError): QuorateError {
  return new QuorateError('STORAGE_WRITE_FAILED', 'Storage refuses writes after an earlier write failure; restart the node', {
    cause: failure
  })
}

export function writeFailed (cause: unknown): QuorateError {
  return new QuorateError('STORAGE_WRITE_FAILED', 'A storage write failed', { cause })
}

export function notOpen (): QuorateError {
  return new QuorateError('NODE_NOT_OPEN', 'The storage is not open')
}

/** Whether two stage identities name the same transfer (snapshot index and term, sender, digest). */
export function sameStageIdentity (a: SnapshotStageIdentity, b: SnapshotStageIdentity): boolean {
  return a.meta.index === b.meta.index && a.meta.term === b.meta.term && a.from === b.from && equalBytes(a.digest, b.digest)
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Checks one stageSnapshotChunk() call against what is staged (`staged`, or null): offset 0
 * starts afresh (a snapshot not older than the stored one); any other offset continues the
 * same identity exactly at its staged end.
 */
export function checkStageChunk (identity: SnapshotStageIdentity, offset: number, data: Uint8Array, staged: StagedSnapshot | null, bounds: LogBounds): void {
  if (typeof identity !== 'object' || identity === null || typeof identity.from !== 'string' || !(identity.digest instanceof Uint8Array)) {
    throw invalidRange('A staged snapshot needs an identity { meta, from, digest }', {})
  }
  assertSnapshotMeta(identity.meta, bounds)
  if (!(data instanceof Uint8Array)) throw invalidRange('Snapshot chunks must be Uint8Arrays', { offset })
  if (!isIndex(offset)) throw invalidRange(`Staged chunk offset ${String(offset)} is not a byte offset`, { offset })
  if (offset === 0) return
  if (staged === null || !sameStageIdentity(staged, identity)) {
    throw invalidRange(`Staged chunk at ${offset} continues no staged snapshot of that identity`, { offset })
  }
  if (offset !== staged.bytes) {
    throw invalidRange(`Staged chunk at ${offset} is not at the staged end ${staged.bytes}`, { offset, staged: staged.bytes })
  }
}

/** A copy of a stage identity that no caller can mutate afterwards. */
export function copyStageIdentity (identity: SnapshotStageIdentity): SnapshotStageIdentity {
  return { meta: copyMeta(identity.meta), from: identity.from, digest: Uint8Array.from(identity.digest) }
}

export function copyMeta (meta: SnapshotMeta): SnapshotMeta {
  const c = meta.config
  return {
    index: meta.index,
    term: meta.term,
    config: { voters: [...c.voters], votersOutgoing: [...c.votersOutgoing], learners: [...c.learners] }
  }
}

/** A staged read must start within the staged bytes (at a chunk boundary, checked as it reads). */
export function checkStagedRead (fromByte: number, stagedBytes: number): void {
  if (!isIndex(fromByte) || fromByte > stagedBytes) {
    throw invalidRange(`Staged bytes from ${String(fromByte)}: outside 0..${stagedBytes}`, { fromByte, staged: stagedBytes })
  }
}

/**
 * The storage plugin interface: where a Raft node keeps its hard state, log and snapshot.
 *
 * quorate ships `LevelStorage` (any abstract-level database: classic-level on disk,
 * memory-level in memory). A third-party backend implements this interface and runs the
 * conformance suite from `quorate/testing` (`storageConformance`).
 *
 * Contract (checked by the conformance suite):
 * - `write()` is atomic: after a crash either all of a batch is visible or none of it.
 * - With `sync: true`, `write()` resolves only once the batch is durable. If the write or
 *   its fsync fails it rejects with STORAGE_WRITE_FAILED; the node then stops.
 * - Truncation (`truncateFrom`) and append in one batch never expose a log with a gap.
 * - Every entry carries a checksum; a read that finds a mismatch rejects with STORAGE_CORRUPT.
 * - A stored snapshot knows its byte length and the SHA-256 digest of its whole stream,
 *   computed while it was stored, so a sender can serve it chunk by chunk without holding it.
 * - An incoming snapshot is staged chunk by chunk (`stageSnapshotChunk`): each staged chunk is
 *   durable (with `sync`) together with the staged byte count before the call resolves, a
 *   staged prefix survives close and reopen, and `installStagedSnapshot` switches to it
 *   atomically. At most one snapshot is staged at a time.
 */
import type { Entry, HardState, SnapshotMeta, StoredState } from '../raft/types.js'
import type { ComponentStatus } from '../util/lifecycle.js'

export type { ComponentStatus } from '../util/lifecycle.js'
export type { StoredState } from '../raft/types.js'



/**
 * The identity of an incoming snapshot transfer: which snapshot, from which sender, and the
 * SHA-256 digest of its whole byte stream (empty from a sender that predates digests). Staged
 * bytes are only ever continued with chunks of the same identity.
 */
export interface SnapshotStageIdentity {
  readonly meta: SnapshotMeta
  readonly from: string
  readonly digest: Uint8Array
}

/** What is staged: the identity and how many bytes of its stream are durably held. */
export interface StagedSnapshot extends SnapshotStageIdentity {
  readonly bytes: number
}

/** A stored snapshot: its meta, its stream, and the stream's length and digest. */
export interface LoadedSnapshot {
  readonly meta: SnapshotMeta
  readonly chunks: AsyncIterable<Uint8Array>
  /** Bytes in the whole stream (-1, with a null digest, for a snapshot stored by an older version). */
  readonly bytes: number
  /**
   * SHA-256 of the whole stream, computed when it was stored; null for a snapshot stored by
   * an older version (the reader then hashes the stream itself, once).
   */
  readonly digest: Uint8Array | null
}

export interface StorageBatch {
  /** New hard state, or null to leave it unchanged. */
  readonly hardState: HardState | null
  /**
   * If set, every entry with index >= truncateFrom is removed before `entries` are
   * appended (a conflicting suffix, §5.3). Must be atomic with the append.
   */
  readonly truncateFrom?: number
  /** Entries to append; contiguous, starting right after the (possibly truncated) last entry. */
  readonly entries: readonly Entry[]
}

export interface WriteOptions {
  /** Wait for the data to be durable (fsync). Raft needs this; tests may turn it off. */
  readonly sync?: boolean
}

export interface RaftStorage {
  readonly status: ComponentStatus
  /** Idempotent; safe to call concurrently. */
  open (options?: { signal?: AbortSignal }): Promise<void>
  /** Idempotent; safe to call concurrently. */
  close (): Promise<void>
  /** Reads everything a node needs at start. Rejects with STORAGE_CORRUPT on a bad checksum. */
  load (): Promise<StoredState>
  /** One atomic write per Raft ready batch. */
  write (batch: StorageBatch, options?: WriteOptions): Promise<void>
  /** Entries with lo <= index < hi, stopping early once `maxBytes` of data is reached (at least one entry). */
  entries (lo: number, hi: number, options?: { maxBytes?: number }): Promise<Entry[]>
  /**
   * Stores a complete snapshot (its chunks in order) and, atomically with it, removes every
   * log entry with index <= meta.index. A previous snapshot is replaced.
   */
  saveSnapshot (meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>, options?: WriteOptions): Promise<void>
  /** The stored snapshot (meta, chunks read on demand, length and digest), or null if none. */
  loadSnapshot (): Promise<LoadedSnapshot | null>
  /**
   * Durably appends `data` at byte `offset` of the staged stream of `identity`. Offset 0
   * starts a new staged stream (any staged one is discarded in the same atomic write); any
   * other offset must equal the staged byte count of the same identity (STORAGE_INVALID_RANGE
   * otherwise). Resolves once the chunk and the new byte count are durable (with `sync`).
   */
  stageSnapshotChunk (identity: SnapshotStageIdentity, offset: number, data: Uint8Array, options?: WriteOptions): Promise<void>
  /** The staged snapshot's identity and byte count, or null if none is staged. */
  stagedSnapshot (): Promise<StagedSnapshot | null>
  /**
   * The staged bytes from `fromByte` (a chunk boundary: 0, or the end of a staged chunk;
   * STORAGE_INVALID_RANGE otherwise) to the staged end, read on demand.
   */
  readStagedSnapshot (fromByte?: number): AsyncIterable<Uint8Array>
  /** Drops the staged snapshot, if any. */
  discardStagedSnapshot (options?: WriteOptions): Promise<void>
  /**
   * Makes the staged stream the stored snapshot (with its identity's meta and digest) and,
   * atomically with it, removes every log entry it covers, as saveSnapshot does. Nothing is
   * staged afterwards. STORAGE_INVALID_RANGE if nothing is staged or the staged snapshot is
   * older than the stored one. The caller checks the digest first.
   */
  installStagedSnapshot (options?: WriteOptions): Promise<void>
  /**
   * Asks that log entries with index <= upTo be dropped; upTo may not exceed the stored
   * snapshot's index (STORAGE_INVALID_RANGE). `saveSnapshot` already drops every entry it
   * covers atomically, so quorate's own storages have nothing left to delete here and only
   * validate; the node shell never calls it. It exists for backends that compact lazily.
   */
  compact (upTo: number, options?: WriteOptions): Promise<void>
}

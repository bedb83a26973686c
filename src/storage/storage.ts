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
 */
import type { Entry, HardState, SnapshotMeta, StoredState } from '../raft/types.js'
import type { ComponentStatus } from '../util/lifecycle.js'

export type { ComponentStatus } from '../util/lifecycle.js'
export type { StoredState } from '../raft/types.js'



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
  /** The stored snapshot's meta and its chunks, or null if none. */
  loadSnapshot (): Promise<{ meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array> } | null>
  /**
   * Asks that log entries with index <= upTo be dropped; upTo may not exceed the stored
   * snapshot's index (STORAGE_INVALID_RANGE). `saveSnapshot` already drops every entry it
   * covers atomically, so quorate's own storages have nothing left to delete here and only
   * validate; the node shell never calls it. It exists for backends that compact lazily.
   */
  compact (upTo: number, options?: WriteOptions): Promise<void>
}

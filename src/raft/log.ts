/**
 * The Raft log as the core sees it: every entry after the last snapshot, in memory, plus
 * three cursors that tell the node shell what to persist and what to apply.
 *
 *   snapshotIndex < applied <= committed            (apply only what is committed)
 *   durable <= handed <= last                       (persist before acknowledging)
 *   applied <= durable                              (apply only what this node has stored)
 *
 * - `handed`: entries up to here were handed to storage in a ready batch (maybe in flight).
 * - `durable`: entries up to here are confirmed durable (the shell called advance()).
 * - `truncateFrom`: a conflicting suffix (§5.3) removed from memory that storage still has;
 *   the next ready batch carries the truncation atomically with the new entries.
 *
 * The cursors are read-only outside this class: the core moves them only through the methods
 * below (`handOut`, `markApplying`, `markDurable`, `installSnapshot`, `truncate`, `commitTo`),
 * each of which keeps the three lines above true or throws.
 *
 * Reads on the hot path (terms, slices for appends) are synchronous from memory, like
 * etcd-io/raft's MemoryStorage; snapshots bound the memory (Raft §7).
 */
import type { Entry } from './types.js'
import { EMPTY_ENTRIES, entrySize } from './types.js'
import { installUnsafeTruncate } from './test-hooks.js'

export class RaftLog {
  /** entries[i] has index snapshotIndex + 1 + i. */
  #entries: Entry[]
  #snapshotIndex: number
  #snapshotTerm: number
  #committed: number
  /** Highest index handed out for applying. */
  #applied: number
  #handed: number
  #durable: number
  /** 0 when no truncation is pending. */
  #truncateFrom = 0

  static {
    // The truncateSuffixOnAppend mutant truncates committed entries; only the test hook can.
    installUnsafeTruncate((log, from) => { log.#truncate(from, true) })
  }

  constructor (entries: Entry[], snapshotIndex: number, snapshotTerm: number, committed: number) {
    this.#entries = entries
    this.#snapshotIndex = snapshotIndex
    this.#snapshotTerm = snapshotTerm
    const last = snapshotIndex + entries.length
    // Everything loaded from storage is durable; commit can never exceed what we store.
    this.#committed = Math.min(Math.max(committed, snapshotIndex), last)
    this.#applied = snapshotIndex
    this.#handed = last
    this.#durable = last
  }

  get snapshotIndex (): number { return this.#snapshotIndex }
  get snapshotTerm (): number { return this.#snapshotTerm }
  get committed (): number { return this.#committed }
  get applied (): number { return this.#applied }
  get handed (): number { return this.#handed }
  get durable (): number { return this.#durable }
  get truncateFrom (): number { return this.#truncateFrom }

  firstIndex (): number { return this.#snapshotIndex + 1 }
  lastIndex (): number { return this.#snapshotIndex + this.#entries.length }

  lastTerm (): number {
    const n = this.#entries.length
    return n === 0 ? this.#snapshotTerm : this.#entries[n - 1]!.term
  }

  /** Term of the entry at `index`; -1 if it is compacted away or beyond the log. */
  term (index: number): number {
    if (index === this.#snapshotIndex) return this.#snapshotTerm
    const i = index - this.#snapshotIndex - 1
    if (i < 0 || i >= this.#entries.length) return -1
    return this.#entries[i]!.term
  }

  entry (index: number): Entry | undefined {
    return this.#entries[index - this.#snapshotIndex - 1]
  }

  matchTerm (index: number, term: number): boolean {
    return this.term(index) === term
  }

  /** §5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate (lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm()
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex())
  }

  /** Leader side: appends entries whose indexes continue the log. */
  append (entries: readonly Entry[]): void {
    for (let i = 0; i < entries.length; i++) this.#entries.push(entries[i]!)
  }

  /**
   * Follower side of AppendEntries (§5.3). Returns the index of the last entry the message
   * covers, or -1 if the log does not contain an entry at prevIndex with prevTerm.
   * Entries already present with the same term are kept (a duplicate or reordered append must
   * not truncate anything); the first conflicting entry and everything after it is replaced.
   */
  maybeAppend (prevIndex: number, prevTerm: number, entries: readonly Entry[]): number {
    if (!this.matchTerm(prevIndex, prevTerm)) return -1
    const lastNew = prevIndex + entries.length
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!
      if (e.index <= this.#snapshotIndex) continue
      const ours = this.term(e.index)
      if (ours === e.term) continue
      if (ours !== -1) this.truncate(e.index)
      for (let j = k; j < entries.length; j++) this.#entries.push(entries[j]!)
      break
    }
    return lastNew
  }

  /**
   * Removes the entries with index >= from. Never committed ones (§5.3: a leader's log holds
   * every committed entry, so a conflict is always above the commit index).
   */
  truncate (from: number): void {
    this.#truncate(from, false)
  }

  #truncate (from: number, ignoreCommit: boolean): void {
    if (from <= this.#committed) {
      if (!ignoreCommit) throw invariant(`truncating committed entry ${from} (committed ${this.#committed})`)
      this.#committed = from - 1
      if (this.#applied > this.#committed) this.#applied = this.#committed
    }
    this.#entries.length = Math.max(0, from - this.#snapshotIndex - 1)
    this.#noteTruncation(from)
    if (this.#durable >= from) this.#durable = from - 1
  }

  /** Storage still holds entries >= from that it was handed: the next batch must remove them. */
  #noteTruncation (from: number): void {
    if (from > this.#handed) return
    this.#truncateFrom = this.#truncateFrom === 0 ? from : Math.min(this.#truncateFrom, from)
    this.#handed = from - 1
  }

  /**
   * Fast log backup (etcd-io/raft's findConflictByTerm): the largest index <= `index` whose
   * term is <= `term`. Lets a rejected leader skip a whole conflicting term per round trip.
   */
  findConflictByTerm (index: number, term: number): number {
    let i = Math.min(index, this.lastIndex())
    while (i > this.#snapshotIndex) {
      const t = this.term(i)
      if (t <= term) return i
      i--
    }
    return i
  }

  /** Entries lo <= index < hi, at least one, at most about maxBytes. The array is a copy. */
  slice (lo: number, hi: number, maxBytes: number): Entry[] {
    const base = this.#snapshotIndex + 1
    const end = Math.min(hi, this.lastIndex() + 1)
    if (lo >= end) return EMPTY_ENTRIES as Entry[]
    let bytes = 0
    let stop = lo
    while (stop < end) {
      bytes += entrySize(this.#entries[stop - base]!)
      stop++
      if (bytes >= maxBytes) break
    }
    return this.#entries.slice(lo - base, stop - base)
  }

  commitTo (index: number): boolean {
    if (index > this.#committed) {
      this.#committed = Math.min(index, this.lastIndex())
      return true
    }
    return false
  }

  /** Entries that must be written in the next ready batch. */
  unstable (): Entry[] {
    if (this.#handed >= this.lastIndex()) return EMPTY_ENTRIES as Entry[]
    return this.#entries.slice(this.#handed - this.#snapshotIndex)
  }

  /** The unstable entries and the pending truncation went out in a ready batch. */
  handOut (): void {
    this.#handed = this.lastIndex()
    this.#truncateFrom = 0
  }

  /** Committed entries not yet handed out for applying, limited to what is durable here. */
  toApply (maxBytes: number): Entry[] {
    const hi = Math.min(this.#committed, this.#durable)
    if (hi <= this.#applied) return EMPTY_ENTRIES as Entry[]
    return this.slice(this.#applied + 1, hi + 1, maxBytes)
  }

  hasToApply (): boolean {
    return Math.min(this.#committed, this.#durable) > this.#applied
  }

  /** Entries up to `index` (taken from toApply) were handed out for applying. */
  markApplying (index: number): void {
    if (index > this.#committed || index > this.#durable) {
      throw invariant(`applying ${index} beyond committed ${this.#committed} or durable ${this.#durable}`)
    }
    if (index > this.#applied) this.#applied = index
  }

  /**
   * Storage confirmed a batch ending at `last`. A truncation after the batch was handed out
   * may have removed part of it (one batch at a time, so `handed` bounds what it wrote).
   */
  markDurable (last: number): void {
    this.#durable = Math.max(this.#durable, Math.min(last, this.#handed))
  }

  /** Drops entries up to and including `index` (they are in a snapshot now). */
  compact (index: number, term: number): void {
    if (index <= this.#snapshotIndex) return
    const drop = Math.min(index - this.#snapshotIndex, this.#entries.length)
    this.#entries.splice(0, drop)
    this.#snapshotIndex = index
    this.#snapshotTerm = term
  }

  /**
   * Restores the log from a snapshot that storage holds durably and the state machine was
   * restored from (§7): everything up to `index` is committed, applied and durable. Entries
   * after it are kept if the log agrees with the snapshot at `index`; otherwise the whole
   * log is discarded and storage is told to drop what it was handed beyond the snapshot.
   * A snapshot at or below the commit index is refused: it would move the cursors back.
   */
  installSnapshot (index: number, term: number): void {
    if (index <= this.#committed) throw invariant(`installing snapshot ${index} at or below committed ${this.#committed}`)
    if (this.term(index) === term) {
      this.compact(index, term)
    } else {
      this.#noteTruncation(index + 1)
      this.#entries = []
      this.#snapshotIndex = index
      this.#snapshotTerm = term
    }
    const last = this.lastIndex()
    this.#committed = index
    this.#applied = index
    this.#handed = Math.max(Math.min(this.#handed, last), index)
    this.#durable = Math.max(Math.min(this.#durable, last), index)
  }
}

function invariant (what: string): Error {
  return new Error(`invariant violated: ${what}`)
}

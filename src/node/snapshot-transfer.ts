/**
 * InstallSnapshot streaming (Raft §7) for the node shell: the leader side sends a stored
 * snapshot in bounded chunks with a window of unacknowledged chunks, reading them from storage
 * as it goes (snapshot-source.ts); the follower side stages every chunk durably in its storage
 * before it acknowledges the bytes it holds, so an interrupted transfer resumes from there
 * rather than from zero, also across a follower restart. Neither side ever holds the whole
 * snapshot: the sender a window of chunks, the receiver one chunk and a running digest.
 *
 * A transfer's identity is (sender, snapshot index, term, SHA-256 digest of the whole byte
 * stream). Nothing requires two replicas' snapshots of one index to be byte-identical (a
 * timestamp or a map's iteration order is enough to differ), so a partial transfer is only
 * ever continued with chunks of the same identity: bytes from two streams are never glued.
 * Invariants:
 * - the receiver's staged stream is a prefix of exactly one stream (one identity);
 * - an acknowledged byte is durable first: the receiver acknowledges only what its storage
 *   has staged with the sync the node uses for its log;
 * - a chunk of another identity starts that stream afresh if it is at offset 0, else discards
 *   the staged stream and is answered with 0, so the sender starts again from 0;
 * - within one identity the bytes at an offset agree whoever cut them into chunks, so the
 *   receiver takes the part of a chunk it lacks, and a sender whose chunks do not start at
 *   the acknowledged offset resumes at the chunk holding it (no gap, no resend loop);
 * - the receiver checks the digest of the whole stream before it reports it complete; a
 *   mismatch discards it and asks for it again from 0 (it is never restored);
 * - an acknowledgement only moves back to 0: the sender ignores any other that is below the
 *   last one (it was overtaken), so reordered acks cannot make it rewind over and over.
 */
import { createHash } from 'node:crypto'
import type { Hash } from 'node:crypto'
import type { NodeId, SnapshotChunk } from '../raft/types.js'
import type { RaftStorage, SnapshotStageIdentity } from '../storage/storage.js'
import { equalBytes } from '../storage/validation.js'
import type { ChunkSource, ServedSnapshot } from './snapshot-source.js'

export type { ChunkSource, ServedSnapshot } from './snapshot-source.js'

export const SNAPSHOT_DEFAULTS = {
  /** Bytes per chunk message. */
  chunkBytes: 1024 * 1024,
  /** Unacknowledged chunks in flight per follower (flow control). */
  windowChunks: 4,
  /** Ticks without an acknowledgement before the leader resends from the last acknowledged byte. */
  retransmitTicks: 10
} as const

/** Leader side: one transfer to one follower. */
export class SnapshotSender {
  readonly to: NodeId
  readonly source: ChunkSource
  #acked = 0
  #nextChunk = 0
  #idleTicks = 0
  #dupAcks = 0
  readonly #windowChunks: number
  readonly #retransmitTicks: number
  /** Mutation check only: the old rules (resume at the first chunk at or past any acknowledged offset). */
  readonly #legacy: boolean

  constructor (to: NodeId, source: ChunkSource, windowChunks: number, retransmitTicks: number, legacy = false) {
    this.to = to
    this.source = source
    this.#windowChunks = windowChunks
    this.#retransmitTicks = retransmitTicks
    this.#legacy = legacy
  }

  get snapshot (): ServedSnapshot { return this.source.snapshot }

  /**
   * Chunks to send now, within the window. A chunk the source does not hold yet ends the
   * list: the source reads it and the node asks again.
   */
  due (): SnapshotChunk[] {
    const out: SnapshotChunk[] = []
    const { meta, digest, chunkCount } = this.snapshot
    const ackedChunk = this.#resumeChunk(this.#acked)
    // The final chunk stays needed once everything is acknowledged: it is what a lost answer
    // of the follower is asked again with (tick()).
    this.source.need(Math.min(ackedChunk, chunkCount - 1))
    while (this.#nextChunk < chunkCount && this.#nextChunk - ackedChunk < this.#windowChunks) {
      const data = this.source.chunk(this.#nextChunk)
      if (data === null) break
      const i = this.#nextChunk++
      out.push({ meta, offset: this.source.offsetOf(i), data, done: i === chunkCount - 1, digest })
    }
    if (chunkCount === 0 && this.#nextChunk === 0) {
      // An empty state machine still needs one (empty, final) chunk.
      this.#nextChunk = 1
      out.push({ meta, offset: 0, data: new Uint8Array(0), done: true, digest })
    }
    return out
  }

  /**
   * The follower holds `received` bytes of the snapshot with index `index`. The same offset
   * acknowledged twice while more was sent means a chunk was lost: resend from there.
   *
   * A follower only ever goes back to 0 (it met another stream, or discarded one that failed
   * its digest): then start again from 0. Any other offset below the last one is an
   * acknowledgement overtaken by a later one (reordering, duplication) and is ignored;
   * rewinding on it would resend a window per stale ack, and under reordering those feed
   * each other into a storm. An offset where none of our chunks starts (the follower holds
   * our bytes cut by another chunking, e.g. before this node restarted) resumes at the chunk
   * that holds it: the follower takes the part it lacks, as the bytes agree (same digest).
   */
  onAck (index: number, received: number): void {
    if (index !== this.snapshot.meta.index) return
    this.#idleTicks = 0
    if (received < this.#acked) {
      // (The legacy rules rewind on any lower offset.)
      if (!this.#legacy && received !== 0) return
      this.#nextChunk = this.#resumeChunk(received)
      this.#dupAcks = 0
    } else if (received === this.#acked && received < this.#sentUpTo()) {
      if (++this.#dupAcks >= 2) {
        this.#nextChunk = this.#resumeChunk(received)
        this.#dupAcks = 0
      }
    } else {
      this.#dupAcks = 0
      if (!this.#legacy) this.#nextChunk = Math.max(this.#nextChunk, this.#resumeChunk(received))
    }
    this.#acked = received
  }

  /** Called once per tick; after `retransmitTicks` without an ack, resend from the acked offset. */
  tick (): void {
    if (++this.#idleTicks >= this.#retransmitTicks) {
      this.#idleTicks = 0
      // Everything acknowledged but the follower never confirmed the install (its answer was
      // lost): resend the final chunk, which makes it report its position again.
      const s = this.snapshot
      this.#nextChunk = this.#acked >= s.totalBytes ? Math.max(0, s.chunkCount - 1) : this.#resumeChunk(this.#acked)
    }
  }

  /** Ends the transfer: the source lets go of its chunks and its storage read. */
  close (): void { this.source.close() }

  /** Bytes sent before the next chunk due. */
  #sentUpTo (): number {
    return this.#nextChunk < this.snapshot.chunkCount ? this.source.offsetOf(this.#nextChunk) : this.snapshot.totalBytes
  }

  /**
   * The chunk to resume at for a follower holding `offset` bytes: the one holding the byte at
   * `offset` (the first at or past it under the legacy rules, which leaves a gap when no chunk
   * starts there: the old resend loop).
   */
  #resumeChunk (offset: number): number {
    const { chunkCount, totalBytes } = this.snapshot
    if (offset >= totalBytes) return chunkCount
    const first = this.source.firstChunkFrom(offset)
    if (this.#legacy || first === 0 || this.source.offsetOf(first) === offset) return first
    return first - 1
  }
}

/** What the receiver did with one chunk. */
export interface AcceptResult {
  /** Bytes of the current stream durably staged afterwards (to acknowledge). */
  readonly received: number
  /** The stream is complete, staged and its digest checked: it may be installed. */
  readonly complete: boolean
  /** The stream did not match its digest and was discarded. */
  readonly corrupt: boolean
}

/** The storage calls the receiver stages through. */
export type SnapshotStaging = Pick<RaftStorage, 'stageSnapshotChunk' | 'stagedSnapshot' | 'readStagedSnapshot' | 'discardStagedSnapshot'>

export interface SnapshotReceiverOptions {
  /** Sync each staged chunk (the node's `sync`). @default true */
  readonly sync?: boolean
  /** Mutation check only: match by index and term alone and skip the digest (the old, unsafe behaviour). */
  readonly legacy?: boolean
  /** Mutation check only: stage without sync, so an acknowledged byte may not be durable. */
  readonly ackBeforeDurable?: boolean
}

const EMPTY = new Uint8Array(0)

/**
 * Follower side: stages the chunks of one snapshot stream (one transfer identity) in storage
 * as they arrive. In memory it keeps only the identity, the staged byte count and a running
 * SHA-256; `load()` picks a staged stream up again after a restart.
 */
export class SnapshotReceiver {
  readonly #storage: SnapshotStaging
  readonly #sync: boolean
  #identity: SnapshotStageIdentity | null = null
  #received = 0
  #hash: Hash | null = null
  /** Whether storage may hold a staged stream, of any identity (so discard() has something to do). */
  #staged = false
  /** Whether storage holds the current identity's stream (at least its first chunk). */
  #currentStaged = false
  readonly #legacy: boolean

  constructor (storage: SnapshotStaging, options: SnapshotReceiverOptions = {}) {
    this.#storage = storage
    this.#legacy = options.legacy === true
    this.#sync = options.ackBeforeDurable === true ? false : options.sync ?? true
  }

  /** The identity of the stream being received, if any. */
  get identity (): SnapshotStageIdentity | null { return this.#identity }

  /** Bytes durably staged of the current stream. */
  get received (): number { return this.#received }

  /**
   * Picks up a stream staged before a restart (its digest is recomputed by reading the staged
   * bytes once), unless `wanted` says it is no longer worth installing: then it is discarded.
   */
  async load (wanted: (identity: SnapshotStageIdentity) => boolean): Promise<void> {
    const staged = await this.#storage.stagedSnapshot()
    this.#forget()
    if (staged === null) return
    this.#staged = true
    if (!wanted(staged)) return await this.discard()
    const hash = this.#hashFor(staged.digest)
    let bytes = 0
    for await (const chunk of this.#storage.readStagedSnapshot(0)) {
      hash?.update(chunk)
      bytes += chunk.byteLength
    }
    this.#identity = { meta: staged.meta, from: staged.from, digest: staged.digest }
    this.#currentStaged = true
    this.#received = bytes
    this.#hash = hash
  }

  /** Takes one chunk sent by `from`; resolves once what it added is durably staged. */
  async accept (from: NodeId, chunk: SnapshotChunk): Promise<AcceptResult> {
    if (!this.#sameStream(from, chunk)) {
      if (chunk.offset !== 0) {
        // Another stream than the one we were staging: ask for it from the start.
        await this.discard()
        return { received: 0, complete: false, corrupt: false }
      }
      this.#start(from, chunk)
    }
    if (this.#legacy) return await this.#acceptLegacy(chunk)
    const received = this.#received
    const end = chunk.offset + chunk.data.byteLength
    const news = chunk.offset <= received && end > received
    // The final chunk may bring nothing new when the whole stream is already staged: an
    // empty stream, or a restart after the last chunk was staged but before the install.
    const heldFinal = chunk.done && end === received
    if (!news && !heldFinal) {
      // A gap (offset above), or nothing we lack (a duplicate): tell the sender where we are.
      return { received, complete: false, corrupt: false }
    }
    if (news) {
      // Same identity, so overlapping bytes agree: keep only the part we lack.
      await this.#stage(received, chunk.data.subarray(received - chunk.offset))
    } else if (!this.#currentStaged) {
      await this.#stage(0, EMPTY)
    }
    if (!chunk.done) return { received: this.#received, complete: false, corrupt: false }
    if (!this.#digestMatches()) {
      await this.discard()
      return { received: 0, complete: false, corrupt: true }
    }
    return { received: this.#received, complete: true, corrupt: false }
  }

  /** Drops the stream being received, in memory and in storage. */
  async discard (): Promise<void> {
    const staged = this.#staged
    this.#forget()
    if (staged) await this.#storage.discardStagedSnapshot({ sync: this.#sync })
  }

  /** After a complete stream was installed (the storage no longer stages it): start empty. */
  installed (): void { this.#forget() }

  /** The rules before transfers had an identity (the snapshotResumeAcrossLeaders mutant). */
  async #acceptLegacy (chunk: SnapshotChunk): Promise<AcceptResult> {
    if (chunk.offset !== this.#received) return { received: this.#received, complete: false, corrupt: false }
    await this.#stage(this.#received, chunk.data)
    return { received: this.#received, complete: chunk.done, corrupt: false }
  }

  /** Stages `part` at `offset`; only then does it count as received. */
  async #stage (offset: number, part: Uint8Array): Promise<void> {
    this.#staged = true
    await this.#storage.stageSnapshotChunk(this.#identity!, offset, part, { sync: this.#sync })
    this.#currentStaged = true
    this.#received = offset + part.byteLength
    this.#hash?.update(part)
  }

  #forget (): void {
    this.#identity = null
    this.#received = 0
    this.#hash = null
    this.#staged = false
    this.#currentStaged = false
  }

  #sameStream (from: NodeId, chunk: SnapshotChunk): boolean {
    const id = this.#identity
    if (id === null || id.meta.index !== chunk.meta.index || id.meta.term !== chunk.meta.term) return false
    return this.#legacy || (from === id.from && equalBytes(id.digest, chunk.digest))
  }

  /** A new stream in memory; storage replaces its staged one with the first chunk at offset 0. */
  #start (from: NodeId, chunk: SnapshotChunk): void {
    const staged = this.#staged
    this.#forget()
    this.#staged = staged
    this.#identity = { meta: chunk.meta, from, digest: chunk.digest }
    this.#hash = this.#hashFor(chunk.digest)
  }

  /** A sender of an older version sends no digest: its streams cannot be checked. */
  #hashFor (digest: Uint8Array): Hash | null {
    return this.#legacy || digest.byteLength === 0 ? null : createHash('sha256')
  }

  #digestMatches (): boolean {
    if (this.#hash === null) return true
    return equalBytes(this.#hash.digest(), this.#identity!.digest)
  }
}

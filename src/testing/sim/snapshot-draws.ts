/**
 * Per-seed snapshot draws for the simulator (issue 12): the conditions under which a snapshot
 * transfer that resumes across a leader change goes wrong, which a simulator whose replicas
 * all produce the same snapshot bytes with the same chunking never creates.
 *
 * - Byte-different snapshots: each node incarnation wraps its state machine's snapshot stream
 *   in a header of its own (a random length of random bytes, like a timestamp) and re-cuts the
 *   stream into pieces of its own size; restore() drops the header. The state is unchanged, so
 *   the safety checker (which hashes the inner stream) still compares states, not bytes.
 * - Per-node chunking: each node incarnation gets its own snapshotChunkBytes and window, so a
 *   new leader (or a restarted one) cuts the same bytes differently.
 * - Background snapshots on or off: with them, entries are applied (and new snapshots
 *   installed from a leader) while a node's own snapshot stream is still being written.
 * - Leader changes timed during transfers: a leader whose follower holds part of a snapshot is
 *   sometimes cut off from everyone at once, so the follower keeps a partial transfer while
 *   another node is elected and sends its own snapshot, often of the same index (replicas
 *   that applied the same entries snapshot at the same index): two byte streams meet at one
 *   follower.
 *
 * Everything is drawn from a generator derived from the seed alone, apart from the run's other
 * draws, so fixing these leaves the rest of a seed's schedule as it was.
 */
import type { StateMachine } from '../../node/state-machine.js'
import type { Message, NodeId } from '../../raft/types.js'
import { QuorateError } from '../../errors.js'
import { SeededRandom, randomInt } from '../../util/random.js'
import type { Random } from '../../util/random.js'
import { fnv1a } from './trace.js'

export const SNAPSHOT_DRAW_DEFAULTS = {
  /** Share of seeds whose nodes produce byte-different snapshots of one state. */
  variedBytesShare: 0.7,
  /** Share of seeds where every node incarnation draws its own chunk size and window. */
  perNodeChunkingShare: 0.7,
  /** Share of seeds with leader changes timed during snapshot transfers. */
  transferDisruptionShare: 0.7,
  /**
   * Share of seeds whose nodes store snapshots in the background (RaftNodeOptions
   * backgroundSnapshots, the node default), applying entries while the stream is written; the
   * rest store them inside the processing loop. Both must keep every replica's state equal.
   */
  backgroundSnapshotsShare: 0.5,
  /**
   * RaftNodeOptions.snapshotLogRatio per seed: 0 (a snapshot every snapshotEntries) in this
   * share of the seeds, else one of snapshotLogRatios, so both the entry trigger alone and the
   * one that waits for the log to outgrow the last snapshot run under faults.
   */
  zeroLogRatioShare: 0.5,
  snapshotLogRatios: [0.25, 0.5, 1, 2],
  /** Chance that one transfer (once its follower holds part of it) triggers a leader change. */
  disruptionChance: 0.8,
  /** Most leader changes triggered this way in one run. */
  maxDisruptions: 4,
  /** How long the leader is cut off, in (longest) election timeouts: long enough for another to win. */
  isolateElectionTimeouts: { min: 1.5, max: 4 },
  /**
   * Per-node chunk sizes, as fractions of the run's drawn chunk size (at least `floorBytes`):
   * small enough that a transfer takes several chunks, but scaled to the run, so a workload
   * with larger states (the resource graph) is not sent 4 bytes a round trip, which no
   * schedule could finish and which says nothing about resumption.
   */
  chunkBytes: { minFraction: 1 / 8, maxFraction: 2, floorBytes: 4 },
  windowChunks: { min: 1, max: 4 },
  /** Longest per-snapshot header, bytes (at most 255: its length is one byte). Long headers make transfers take several chunks. */
  maxHeaderBytes: 255,
  piece: { min: 7, max: 300 }
} as const

export interface SnapshotChunking {
  readonly snapshotChunkBytes: number
  readonly snapshotWindowChunks: number
}

/** What one seed drew. */
export interface SnapshotDrawSummary {
  readonly variedBytes: boolean
  readonly perNodeChunking: boolean
  readonly transferDisruption: boolean
  readonly backgroundSnapshots: boolean
}

/** The seed's draws; one instance per run. */
export class SnapshotDraws {
  readonly summary: SnapshotDrawSummary
  /** The seed's snapshotLogRatio (from a stream of its own). */
  readonly logRatio: number
  readonly #seed: number
  readonly #random: SeededRandom
  readonly #lastSnapshot = new Map<NodeId, number>()
  readonly #drawnTransfers = new Set<string>()
  #disruptions = 0

  /** @param fixed flags that override their draw (drawn all the same, so the rest stays as it was) */
  constructor (seed: number, fixed: Partial<SnapshotDrawSummary> = {}) {
    this.#seed = seed >>> 0
    const r = new SeededRandom(mix(this.#seed, 'snapshot-draws'))
    const d = SNAPSHOT_DRAW_DEFAULTS
    const drawn: SnapshotDrawSummary = {
      variedBytes: r.next() < d.variedBytesShare,
      perNodeChunking: r.next() < d.perNodeChunkingShare,
      transferDisruption: r.next() < d.transferDisruptionShare,
      // From a stream of its own, so adding this draw left every other draw of a seed as it was.
      backgroundSnapshots: new SeededRandom(mix(this.#seed, 'background-snapshots')).next() < d.backgroundSnapshotsShare
    }
    this.summary = {
      variedBytes: fixed.variedBytes ?? drawn.variedBytes,
      perNodeChunking: fixed.perNodeChunking ?? drawn.perNodeChunking,
      transferDisruption: fixed.transferDisruption ?? drawn.transferDisruption,
      backgroundSnapshots: fixed.backgroundSnapshots ?? drawn.backgroundSnapshots
    }
    this.#random = r
    const lr = new SeededRandom(mix(this.#seed, 'snapshot-log-ratio'))
    const ratios = d.snapshotLogRatios
    this.logRatio = lr.next() < d.zeroLogRatioShare ? 0 : ratios[randomInt(lr, 0, ratios.length)]!
  }

  /** One line for the trace. */
  describe (): string {
    const s = this.summary
    return `snapshotDraws variedBytes=${s.variedBytes} perNodeChunking=${s.perNodeChunking} transferDisruption=${s.transferDisruption} backgroundSnapshots=${s.backgroundSnapshots} logRatio=${this.logRatio}`
  }

  /** The chunking of one node incarnation: its own when drawn, else the run's. */
  chunking (id: NodeId, incarnation: number, run: SnapshotChunking): SnapshotChunking {
    if (!this.summary.perNodeChunking) return run
    const r = this.#incarnationRandom(id, incarnation, 'chunking')
    const d = SNAPSHOT_DRAW_DEFAULTS
    const lo = Math.max(d.chunkBytes.floorBytes, Math.floor(run.snapshotChunkBytes * d.chunkBytes.minFraction))
    const hi = Math.max(lo, Math.ceil(run.snapshotChunkBytes * d.chunkBytes.maxFraction))
    return {
      snapshotChunkBytes: randomInt(r, lo, hi + 1),
      snapshotWindowChunks: randomInt(r, d.windowChunks.min, d.windowChunks.max + 1)
    }
  }

  /** The state machine one node incarnation runs: byte-different snapshots when drawn. */
  vary (id: NodeId, incarnation: number, machine: StateMachine): StateMachine {
    const { snapshot, restore } = machine
    if (!this.summary.variedBytes || snapshot === undefined || restore === undefined) return machine
    const r = this.#incarnationRandom(id, incarnation, 'bytes')
    const d = SNAPSHOT_DRAW_DEFAULTS
    const piece = randomInt(r, d.piece.min, d.piece.max + 1)
    return {
      apply: (command, index) => machine.apply(command, index),
      ...(machine.applyBatch === undefined ? {} : { applyBatch: (commands: readonly Uint8Array[], firstIndex: number) => machine.applyBatch!(commands, firstIndex) }),
      snapshot: () => {
        const header = new Uint8Array(1 + randomInt(r, 0, d.maxHeaderBytes + 1))
        header[0] = header.byteLength - 1
        for (let i = 1; i < header.byteLength; i++) header[i] = randomInt(r, 0, 256)
        return recut(prepend(header, snapshot.call(machine)), piece)
      },
      restore: async (chunks) => { await restore.call(machine, dropHeader(chunks)) }
    }
  }

  /** A node took or installed a snapshot at `index`: its latest one now. */
  noteSnapshot (id: NodeId, index: number): void {
    this.#lastSnapshot.set(id, Math.max(index, this.#lastSnapshot.get(id) ?? 0))
  }

  /**
   * `msg` was just delivered. If it is a snapshot chunk short of the last (the follower holds
   * part of the transfer) and a leader change is due, returns for how long to cut the sender
   * off: the rest is lost, the others elect a new leader, which sends its own snapshot. Drawn
   * once per transfer (sender, follower, index, term). `sameIndex`: the other voters whose
   * latest snapshot has the transfer's index (for the trace).
   */
  disruption (msg: Message, voters: readonly NodeId[], electionMs: number): { isolateMs: number, sameIndex: NodeId[] } | null {
    const d = SNAPSHOT_DRAW_DEFAULTS
    const chunk = msg.snapshot
    if (!this.summary.transferDisruption || msg.type !== 'snapshot' || chunk === null || chunk.done) return null
    const key = `${msg.from}>${msg.to}@${chunk.meta.index}/${msg.term}`
    if (this.#drawnTransfers.has(key) || this.#disruptions >= d.maxDisruptions) return null
    this.#drawnTransfers.add(key)
    if (this.#random.next() >= d.disruptionChance) return null
    this.#disruptions++
    const sameIndex = voters.filter((v) => v !== msg.from && v !== msg.to && this.#lastSnapshot.get(v) === chunk.meta.index)
    const isolateMs = Math.round(electionMs * (d.isolateElectionTimeouts.min + this.#random.next() * (d.isolateElectionTimeouts.max - d.isolateElectionTimeouts.min)))
    return { isolateMs, sameIndex }
  }

  #incarnationRandom (id: NodeId, incarnation: number, what: string): Random {
    return new SeededRandom(mix(this.#seed, `${what}/${id}/${incarnation}`))
  }
}

/**
 * Most chunks one transfer (sender, follower, index, term) may send. Far above what a transfer
 * of a few hundred bytes in 4-byte chunks takes under loss and restarts; reached only by a
 * sender resending in a loop that makes no progress (issue 12: about 100k chunks/s forever).
 */
export const MAX_CHUNKS_PER_TRANSFER = 20_000

/** Counts the chunks each transfer sends; reports a transfer that goes past the bound. */
export class SnapshotStormDetector {
  readonly #sent = new Map<string, number>()

  /** `msg` was sent. Returns a description once its transfer has sent more than the bound. */
  observe (msg: Message): string | null {
    const chunk = msg.snapshot
    if (msg.type !== 'snapshot' || chunk === null) return null
    const key = `${msg.from}>${msg.to}@${chunk.meta.index}/${msg.term}`
    const n = (this.#sent.get(key) ?? 0) + 1
    this.#sent.set(key, n)
    if (n !== MAX_CHUNKS_PER_TRANSFER + 1) return null
    return `snapshot storm: ${msg.from} sent ${MAX_CHUNKS_PER_TRANSFER} chunks of its index ${chunk.meta.index} snapshot to ${msg.to} in term ${msg.term} without finishing`
  }
}

function mix (seed: number, label: string): number {
  return fnv1a(new TextEncoder().encode(label), seed ^ 0x9e3779b9)
}

async function * prepend (header: Uint8Array, stream: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  yield header
  yield * stream
}

/** The same bytes in pieces of `size` (the last one shorter). */
async function * recut (stream: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Uint8Array> {
  let held = new Uint8Array(0)
  for await (const piece of stream) {
    const joined = new Uint8Array(held.byteLength + piece.byteLength)
    joined.set(held)
    joined.set(piece, held.byteLength)
    let at = 0
    for (; joined.byteLength - at >= size; at += size) yield joined.slice(at, at + size)
    held = joined.slice(at)
  }
  if (held.byteLength > 0) yield held
}

/** The stream without the header `vary` wrote (its first byte is the header's length). */
async function * dropHeader (stream: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  let skip = -1
  for await (const piece of stream) {
    let at = 0
    if (skip < 0 && piece.byteLength > 0) { skip = piece[0]!; at = 1 }
    const drop = Math.min(skip < 0 ? 0 : skip, piece.byteLength - at)
    at += drop
    if (skip > 0) skip -= drop
    if (at < piece.byteLength) yield piece.subarray(at)
  }
  if (skip !== 0) throw new QuorateError('STORAGE_CORRUPT', 'simulated snapshot: the stream ends inside its header')
}

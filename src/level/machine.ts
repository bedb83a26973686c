/**
 * LevelStateMachine: the replicated state of a ReplicatedLevel. Every committed level command
 * is applied to a local abstract-level database (memory-level, classic-level or any other
 * the user supplies); reads are served from that database after a read barrier.
 *
 * Invariants:
 * - The local database holds exactly the effect of the applied level commands (or of the
 *   last restored snapshot and the commands after it). The machine clears it when it first
 *   opens: the Raft log and snapshots are the source of truth, and the node restores its
 *   snapshot and replays its log onto the machine at every start. So the local database is
 *   a materialized view; never write to it directly, and never give it data you want kept.
 * - apply never throws for a malformed command: it is answered with a LEVEL_COMMAND_INVALID
 *   value, identically on every replica. A failing local write throws (the node stops
 *   rather than let this replica diverge).
 * - snapshot() creates its iterator in the calling turn, so the stream holds the state as of
 *   the call, whatever is applied while it is read (abstract-level iterators read an
 *   implicit snapshot taken when they are created). The stream closes the iterator when it
 *   ends or its reader stops early; a stream never read at all keeps it open until the
 *   local database closes (on classic-level, a pinned LevelDB snapshot).
 */
import type { AbstractLevel } from 'abstract-level'
import { isQuorateError } from '../errors.js'
import type { StateMachine } from '../node/state-machine.js'
import { checkInt, checkKnownKeys, checkMethods, checkObject } from '../util/validate.js'
import { decodeLevelCommand } from './codec.js'
import type { LevelCommand } from './codec.js'
import { restoreStream, snapshotStream } from './snapshot.js'
import type { EntrySource } from './snapshot.js'

/** Any abstract-level database, whatever its default encodings: the machine always passes 'view'. */
export type LocalLevel = AbstractLevel<any, any, any>

export const LEVEL_MACHINE_DEFAULTS = {
  snapshotChunkBytes: 64 * 1024,
  restoreBatchBytes: 1024 * 1024
} as const

export interface LevelStateMachineOptions {
  /**
   * The local database committed writes are applied to: pass any abstract-level 3 instance,
   * for example `new MemoryLevel()` (memory-level) or `new ClassicLevel(dir)` (classic-level,
   * on disk). It must support the 'view' encoding (every abstract-level 3 database does).
   * The machine opens it and clears it on first open (see the invariants above).
   */
  db: LocalLevel
  /** Bytes per snapshot chunk, about (one chunk is held in memory). @default 65536 */
  snapshotChunkBytes?: number
  /** Bytes of entries written per local batch while restoring. @default 1048576 */
  restoreBatchBytes?: number
}

const OPTION_KEYS = ['db', 'snapshotChunkBytes', 'restoreBatchBytes']
const C = 'LevelStateMachineOptions'

/** Raw bytes in and out of the local database, whatever its default encodings. */
export const VIEW = { keyEncoding: 'view', valueEncoding: 'view' } as const

/** Entries per iterator batch of a snapshot: small enough to stay near chunkBytes. */
const SNAPSHOT_BATCH_ENTRIES = 256

export class LevelStateMachine implements StateMachine<null | Error> {
  readonly db: LocalLevel
  readonly #chunkBytes: number
  readonly #restoreBatchBytes: number
  #opening: Promise<void> | null = null
  /** Index of the last level command applied here (0 before any): the state's version. */
  #lastIndex = 0

  constructor (options: LevelStateMachineOptions) {
    checkObject(options, C, '(options)')
    checkKnownKeys(options, C, OPTION_KEYS)
    checkMethods(options.db, C, 'db', 'an abstract-level database', ['open', 'close', 'get', 'batch', 'clear', 'iterator'])
    if (options.snapshotChunkBytes !== undefined) checkInt(options.snapshotChunkBytes, C, 'snapshotChunkBytes', 1, 0xffffffff)
    if (options.restoreBatchBytes !== undefined) checkInt(options.restoreBatchBytes, C, 'restoreBatchBytes', 1, 0xffffffff)
    this.db = options.db
    this.#chunkBytes = options.snapshotChunkBytes ?? LEVEL_MACHINE_DEFAULTS.snapshotChunkBytes
    this.#restoreBatchBytes = options.restoreBatchBytes ?? LEVEL_MACHINE_DEFAULTS.restoreBatchBytes
  }

  /** Index of the last level command applied (or 0): equal on replicas with equal states. */
  get lastIndex (): number { return this.#lastIndex }

  /** Opens the local database and clears it, once; every apply and restore waits for it. */
  async open (): Promise<void> {
    this.#opening ??= (async () => {
      await this.db.open()
      await this.db.clear()
    })()
    await this.#opening
  }

  /** Closes the local database (after the node is closed: it applies nothing more). */
  async close (): Promise<void> {
    await this.#opening?.catch(() => {})
    await this.db.close()
  }

  async apply (command: Uint8Array, index: number): Promise<null | Error> {
    let c: LevelCommand
    try {
      c = decodeLevelCommand(command)
    } catch (err) {
      if (isQuorateError(err)) return err
      throw err
    }
    await this.open()
    await this.#write(c)
    this.#lastIndex = index
    return null
  }

  async #write (c: LevelCommand): Promise<void> {
    switch (c.op) {
      case 'put': return await this.db.put(c.key, c.value, VIEW)
      case 'del': return await this.db.del(c.key, VIEW)
      case 'batch': return await this.db.batch(c.ops.map((o) => ({ ...o })), VIEW)
      case 'clear': {
        const { reverse, limit, ...bounds } = c.range
        return await this.db.clear({ ...bounds, reverse, limit, keyEncoding: 'view' })
      }
    }
  }

  snapshot (): AsyncIterable<Uint8Array> {
    // Created now, before any later apply: the iterator pins the state as of this call.
    const source = this.db.iterator(VIEW) as unknown as EntrySource
    return snapshotStream(source, this.#lastIndex, this.#chunkBytes, SNAPSHOT_BATCH_ENTRIES)
  }

  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    await this.open()
    await this.db.clear()
    this.#lastIndex = await restoreStream(chunks, async (entries) => {
      await this.db.batch(entries.map(([key, value]) => ({ type: 'put' as const, key, value })), VIEW)
    }, this.#restoreBatchBytes)
  }
}

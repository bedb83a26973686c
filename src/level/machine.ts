/**
 * LevelStateMachine: the replicated state of a ReplicatedLevel. Every committed level command
 * is applied to a local abstract-level database (memory-level, classic-level or any other
 * the user supplies); reads are served from that database after a read barrier.
 *
 * Invariants:
 * - The local database holds exactly the effect of the level commands up to `lastIndex` (or
 *   of the last restored snapshot and the commands after it): the replicated keys in the
 *   sublevel `data`, and `lastIndex` in the sublevel `meta`, written in the same atomic batch
 *   as each command's effect. So after a restart (or a crash: LevelDB keeps a prefix of its
 *   writes) the database is at a consistent `lastIndex`, and the machine resumes there
 *   instead of rebuilding: the node's startup restore of a snapshot the database already
 *   covers is skipped, and replayed commands at or below `lastIndex` are not applied twice.
 * - A clear and a restore are not one batch: `lastIndex` is deleted before them and written
 *   after, so an interrupted one leaves no `lastIndex`, and the next open clears the database
 *   (the node then rebuilds it from its snapshot and log, as it always did before).
 * - The local database is a materialized view of this node's Raft log: never write to it
 *   directly, never give it data you want kept, and delete it together with the node's
 *   storage (a database resumed against another log would skip that log's commands).
 * - apply never throws for a malformed command: it is answered with a LEVEL_COMMAND_INVALID
 *   value, identically on every replica. A failing local write throws (the node stops
 *   rather than let this replica diverge).
 * - snapshot() creates its iterator in the calling turn, so the stream holds the state as of
 *   the call, whatever is applied while it is read (abstract-level iterators read an
 *   implicit snapshot taken when they are created). The stream closes the iterator when it
 *   ends or its reader stops early; a stream never read at all keeps it open until the
 *   local database closes (on classic-level, a pinned LevelDB snapshot).
 */
import type { AbstractLevel, AbstractSublevel } from 'abstract-level'
import { isQuorateError } from '../errors.js'
import type { StateMachine } from '../node/state-machine.js'
import { ChunkStreamReader } from '../util/chunk-reader.js'
import { checkInt, checkKnownKeys, checkMethods, checkObject } from '../util/validate.js'
import { decodeLevelCommand } from './codec.js'
import type { LevelCommand } from './codec.js'
import { readSnapshotHeader, restoreEntries, snapshotStream } from './snapshot.js'
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
   * The machine opens it; it resumes from the applied index it finds there, or clears it
   * when there is none (see the invariants above).
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

/** A sublevel of the local database with raw byte keys and values. */
export type LocalSublevel = AbstractSublevel<LocalLevel, any, Uint8Array, Uint8Array>

/** One op of `db`'s array batch: the key already carries `data`'s or `meta`'s local prefix. */
type LocalOp = { type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }

/** Where the machine keeps its applied index, beside the data. */
const APPLIED_KEY = new TextEncoder().encode('applied')

function encodeIndex (index: number): Uint8Array {
  const out = new Uint8Array(8)
  const view = new DataView(out.buffer)
  view.setUint32(0, Math.floor(index / 0x1_0000_0000))
  view.setUint32(4, index >>> 0)
  return out
}

function decodeIndex (value: Uint8Array | undefined): number | null {
  if (value?.byteLength !== 8) return null
  const view = new DataView(value.buffer, value.byteOffset, 8)
  const index = view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4)
  return Number.isSafeInteger(index) ? index : null
}

export class LevelStateMachine implements StateMachine<null | Error> {
  /** The database you supplied: it holds `data` and `meta`. */
  readonly db: LocalLevel
  /** The replicated keys and values (what a ReplicatedLevel reads). */
  readonly data: LocalSublevel
  readonly #meta: LocalSublevel
  /**
   * APPLIED_KEY with the `meta` sublevel's local prefix: its key in `db`. Local, not global:
   * `db` may itself be a sublevel, whose batch adds its own prefix to every key.
   */
  readonly #appliedKey: Uint8Array
  readonly #chunkBytes: number
  readonly #restoreBatchBytes: number
  #opening: Promise<void> | null = null
  /** Index of the last level command applied here (0 before any): the state's version. */
  #lastIndex = 0
  /**
   * The database was found at a persisted lastIndex and nothing was applied or restored since
   * open: the node's startup restore may be skipped if the database already covers it.
   */
  #resumed = false

  constructor (options: LevelStateMachineOptions) {
    checkObject(options, C, '(options)')
    checkKnownKeys(options, C, OPTION_KEYS)
    checkMethods(options.db, C, 'db', 'an abstract-level database', ['open', 'close', 'get', 'batch', 'clear', 'iterator'])
    if (options.snapshotChunkBytes !== undefined) checkInt(options.snapshotChunkBytes, C, 'snapshotChunkBytes', 1, 0xffffffff)
    if (options.restoreBatchBytes !== undefined) checkInt(options.restoreBatchBytes, C, 'restoreBatchBytes', 1, 0xffffffff)
    this.db = options.db
    this.data = options.db.sublevel('data', VIEW) as LocalSublevel
    this.#meta = options.db.sublevel('meta', VIEW) as LocalSublevel
    this.#appliedKey = this.#meta.prefixKey(APPLIED_KEY, 'view', true) as Uint8Array
    this.#chunkBytes = options.snapshotChunkBytes ?? LEVEL_MACHINE_DEFAULTS.snapshotChunkBytes
    this.#restoreBatchBytes = options.restoreBatchBytes ?? LEVEL_MACHINE_DEFAULTS.restoreBatchBytes
  }

  /** Index of the last level command applied (or 0): equal on replicas with equal states. */
  get lastIndex (): number { return this.#lastIndex }

  /**
   * Opens the local database, once (every apply and restore waits for it), and resumes at the
   * applied index stored in it; without one (a new database, one written by an older version,
   * or an interrupted clear or restore) it clears the database and starts at 0.
   */
  async open (): Promise<void> {
    this.#opening ??= (async () => {
      await this.db.open()
      const stored = decodeIndex(await this.#meta.get(APPLIED_KEY, VIEW))
      if (stored === null) {
        await this.db.clear()
        await this.#meta.put(APPLIED_KEY, encodeIndex(0), VIEW)
        return
      }
      this.#lastIndex = stored
      this.#resumed = true
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
    this.#resumed = false
    // Replayed after a restart, its effect already in the database (stored with lastIndex).
    if (index <= this.#lastIndex) return null
    await this.#write(c, index)
    this.#lastIndex = index
    return null
  }

  /**
   * Applies a run of commands with one local write: every put, del and batch of the run and
   * the new lastIndex go into one array batch on `db`, so a crash keeps all of the run or
   * none of it and the restarted machine resumes at a consistent lastIndex (LevelDB writes a
   * batch atomically). Keys are prefixed here, once, with `data`'s and `meta`'s local
   * prefixes (what abstract-level's sublevel option would do per op, with an options spread,
   * encoding lookups and a copy each): one array of plain ops, one write. A clear cannot
   * join a batch: the ops before it are written first, then the clear as in apply. Results
   * are apply's: null, or LEVEL_COMMAND_INVALID for a bad command.
   */
  async applyBatch (commands: readonly Uint8Array[], firstIndex: number): Promise<Array<null | Error>> {
    const results = new Array<null | Error>(commands.length).fill(null)
    let opened = false
    let ops: LocalOp[] = []
    let opsIndex = 0
    for (let i = 0; i < commands.length; i++) {
      const index = firstIndex + i
      let c: LevelCommand
      try {
        c = decodeLevelCommand(commands[i]!)
      } catch (err) {
        if (isQuorateError(err)) { results[i] = err; continue }
        throw err
      }
      if (!opened) {
        await this.open()
        this.#resumed = false
        opened = true
      }
      // Replayed after a restart, its effect already in the database (stored with lastIndex).
      if (index <= this.#lastIndex) continue
      if (c.op === 'clear') {
        if (ops.length > 0) await this.#flush(ops, opsIndex)
        ops = []
        await this.#write(c, index)
      } else {
        this.#addTo(ops, c)
        opsIndex = index
      }
      this.#lastIndex = index
    }
    if (ops.length > 0) await this.#flush(ops, opsIndex)
    return results
  }

  /** The ops and lastIndex `index` (their last command's) in one atomic write. */
  async #flush (ops: LocalOp[], index: number): Promise<void> {
    ops.push({ type: 'put', key: this.#appliedKey, value: encodeIndex(index) })
    await this.db.batch(ops, VIEW)
  }

  #addTo (ops: LocalOp[], c: Exclude<LevelCommand, { op: 'clear' }>): void {
    const data = this.data
    switch (c.op) {
      case 'put': ops.push({ type: 'put', key: data.prefixKey(c.key, 'view', true), value: c.value }); return
      case 'del': ops.push({ type: 'del', key: data.prefixKey(c.key, 'view', true) }); return
      case 'batch':
        for (const o of c.ops) {
          if (o.type === 'put') ops.push({ type: 'put', key: data.prefixKey(o.key, 'view', true), value: o.value })
          else ops.push({ type: 'del', key: data.prefixKey(o.key, 'view', true) })
        }
    }
  }

  /** The command's effect and the new lastIndex, in one atomic batch (a clear excepted, see above). */
  async #write (c: LevelCommand, index: number): Promise<void> {
    const data = this.data
    const applied = { type: 'put' as const, sublevel: this.#meta, key: APPLIED_KEY, value: encodeIndex(index) }
    switch (c.op) {
      case 'put': return await this.db.batch([{ type: 'put', sublevel: data, key: c.key, value: c.value }, applied])
      case 'del': return await this.db.batch([{ type: 'del', sublevel: data, key: c.key }, applied])
      case 'batch': return await this.db.batch([...c.ops.map((o) => ({ ...o, sublevel: data })), applied])
      case 'clear': {
        const { reverse, limit, ...bounds } = c.range
        await this.#meta.del(APPLIED_KEY, VIEW)
        await data.clear({ ...bounds, reverse, limit, keyEncoding: 'view' })
        return await this.#meta.put(APPLIED_KEY, applied.value, VIEW)
      }
    }
  }

  snapshot (): AsyncIterable<Uint8Array> {
    // Created now, before any later apply: the iterator pins the state as of this call.
    const source = this.data.iterator(VIEW) as unknown as EntrySource
    return snapshotStream(source, this.#lastIndex, this.#chunkBytes, SNAPSHOT_BATCH_ENTRIES)
  }

  /**
   * Replaces the state with the snapshot's, unless this is the node's startup restore of a
   * snapshot the resumed database already covers (its last level index is at or below ours):
   * then nothing is read or written (the router skips the rest of the section).
   */
  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    await this.open()
    const resumed = this.#resumed
    this.#resumed = false
    const reader = new ChunkStreamReader(chunks, 'LEVEL_SNAPSHOT_INVALID', 'level snapshot')
    const lastIndex = await readSnapshotHeader(reader)
    if (resumed && lastIndex <= this.#lastIndex) return
    await this.#meta.del(APPLIED_KEY, VIEW)
    await this.data.clear()
    await restoreEntries(reader, async (entries) => {
      await this.data.batch(entries.map(([key, value]) => ({ type: 'put' as const, key, value })), VIEW)
    }, this.#restoreBatchBytes)
    await this.#meta.put(APPLIED_KEY, encodeIndex(lastIndex), VIEW)
    this.#lastIndex = lastIndex
  }
}

/**
 * GraphStateMachine: the resource graph and the events queue in one replicated state machine
 * (one Raft group), so that `handle(eventIds, change)` trims events in the same entry as the
 * graph change that handled them — an event is never trimmed before its effect is durable
 * (Halon put the two in different groups).
 *
 * A transaction entry is checked in this order, and any refusal leaves the state untouched:
 * fencing (a token older than the newest applied for its lease name: LEASE_FENCED), the
 * compare-and-set expectations (GRAPH_CONFLICT), the events to trim all queued
 * (EVENTS_NOT_FOUND: another consumer handled them), then the ops (GRAPH_*). Refusals are
 * results, never exceptions: every replica reaches the same verdict, and a throw would stop
 * the node. The fencing token is recorded only when the transaction applied.
 *
 * Snapshots stream from the live state record by record (the node applies nothing while a
 * snapshot is being written; a mutation during the stream fails it instead of mixing two
 * states), except the dedup memory: its records are encoded once as each id is remembered
 * (dedup-log.ts) and snapshot() captures them as immutable blocks at the call, so the
 * largest part of an events-heavy snapshot costs what changed since the last one, not what
 * the table holds. Restore drops the old state first and loads the stream into an empty one, so a
 * million-resource graph is never held twice. A stream that fails halfway leaves the machine
 * *broken*: apply and snapshot throw GRAPH_SNAPSHOT_INVALID (a throwing apply stops the node,
 * which is right: a partial state must never answer) until a restore succeeds.
 */
import type { StateMachine } from '../node/state-machine.js'
import { FencingGuard } from '../lease/fencing.js'
import { QuorateError, isQuorateError } from '../errors.js'
import { check, checkInt } from '../util/validate.js'
import { checkLogger } from '../util/logger.js'
import type { Logger } from '../util/logger.js'
import type { Schema } from './schema.js'
import { GraphState } from './state.js'
import { applyOps, checkExpectations } from './change.js'
import type { GraphOp } from './change.js'
import { decodeCommand } from './codec.js'
import type { EmitCommand, GraphCommand, GraphResult, GraphTransaction } from './codec.js'
import { EventQueueState, resolveEventsOptions, validateEvent } from './events.js'
import type { EventsOptions, QueuedEventsView, StoredEvent } from './events.js'
import { SNAPSHOT_FORMAT, packRecords, unpackRecords } from './snapshot.js'
import type { SnapshotRecord } from './snapshot.js'
import type { GraphSnapshotView } from './point-in-time.js'

export interface GraphStateMachineOptions {
  /** Events queue bounds and dedup window. @default EVENTS_DEFAULTS */
  events?: EventsOptions
  /** Committed changes kept (at least; trimmed in batches) for watches to resume from. @default 10000 */
  historyEntries?: number
  /** Approximate bytes per snapshot chunk. @default 65536 */
  snapshotChunkBytes?: number
  /**
   * Where a change observer that throws is reported (warn, with `err` and `code`). @default a
   * process warning (`process.emitWarning`), so the failure is never silent
   */
  logger?: Logger
}

export const GRAPH_MACHINE_DEFAULTS = { historyEntries: 10_000, snapshotChunkBytes: 65_536 } as const

/** One committed change, as watches deliver it. */
export type CommittedChange =
  | { readonly type: 'tx', readonly index: number, readonly time: number, readonly ops: readonly GraphOp[], readonly touched: readonly string[], readonly removed: readonly string[], readonly trimmed: readonly string[] }
  | { readonly type: 'emit', readonly index: number, readonly time: number, readonly event: StoredEvent }

export type ChangeListener = (change: CommittedChange) => void

function validateOptions (o: GraphStateMachineOptions): void {
  const C = 'GraphStateMachine'
  check(typeof o === 'object' && o !== null, C, '(options)', 'an object', o)
  for (const k of Object.keys(o)) check(['events', 'historyEntries', 'snapshotChunkBytes', 'logger'].includes(k), C, k, 'a known option (events, historyEntries, snapshotChunkBytes, logger)', k)
  checkLogger(o.logger, C)
  if (o.historyEntries !== undefined) checkInt(o.historyEntries, C, 'historyEntries', 0)
  if (o.snapshotChunkBytes !== undefined) checkInt(o.snapshotChunkBytes, C, 'snapshotChunkBytes', 1)
}

/**
 * Calls every observer. One that throws is reported (to the logger if there is one, else as a
 * process warning), not propagated: an observer's bug must not fail the apply (which would
 * stop the node) nor keep the others from hearing of the change, but it must not vanish either.
 */
function notifyAll<T> (listeners: ReadonlySet<(value: T) => void>, value: T, logger: Logger | undefined): void {
  for (const l of listeners) {
    try {
      l(value)
    } catch (err) {
      const message = `a graph change observer threw (the replica is unaffected; the other observers were called): ${err instanceof Error ? err.message : String(err)}`
      if (logger !== undefined) { logger.warn({ err, code: 'QUORATE_GRAPH_OBSERVER_FAILED' }, message); continue }
      const warning = Object.assign(new Error(message, { cause: err }), { name: 'GraphObserverWarning', code: 'QUORATE_GRAPH_OBSERVER_FAILED' })
      process.emitWarning(warning)
    }
  }
}

/** The records of a snapshot captured by GraphStateMachine.snapshot(), from its point-in-time views. */
function * snapshotRecords (header: SnapshotRecord, fences: ReadonlyArray<[string, number]>, graph: GraphSnapshotView,
  events: QueuedEventsView, dedup: readonly Uint8Array[]): IterableIterator<SnapshotRecord | Uint8Array> {
  yield header
  for (const [name, token] of fences) yield { type: 'fence', name, token }
  for (const resource of graph.resources()) yield { type: 'resource', resource }
  for (const edge of graph.edges()) yield { type: 'edge', edge }
  for (const event of events.events()) yield { type: 'event', event }
  yield * dedup
  yield { type: 'end' }
}

/**
 * `source`, calling `close` once when it ends, fails or is returned — also when it is returned
 * before its first read, which a generator's finally block would miss (its body never ran).
 */
function closing<T> (source: AsyncIterable<T>, close: () => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator] (): AsyncIterator<T> {
      const it = source[Symbol.asyncIterator]()
      return {
        async next () {
          try {
            const r = await it.next()
            if (r.done === true) close()
            return r
          } catch (err) { close(); throw err }
        },
        async return (value?: unknown) {
          close()
          return await it.return?.(value) ?? { done: true, value: undefined }
        }
      }
    }
  }
}

function refused (index: number, err: unknown): GraphResult {
  if (!isQuorateError(err)) throw err
  return { status: 'refused', index, code: err.code, message: err.message, ...(err.info === undefined ? {} : { details: err.info }) }
}

export class GraphStateMachine implements StateMachine<GraphResult> {
  readonly schema: Schema
  #graph = new GraphState()
  #events: EventQueueState
  #fence = new FencingGuard()
  #time = 0
  #applied = 0
  /** Why the last restore failed, while the state is partial. */
  #broken: QuorateError | null = null
  readonly #history: CommittedChange[] = []
  /** Every change with index >= this is in #history (or was never committed). */
  #historyFloor = 1
  readonly #listeners = new Set<ChangeListener>()
  readonly #restoreListeners = new Set<(none: undefined) => void>()
  readonly #historyEntries: number
  readonly #chunkBytes: number
  readonly #logger: Logger | undefined

  constructor (schema: Schema, options: GraphStateMachineOptions = {}) {
    validateOptions(options)
    this.schema = schema
    this.#historyEntries = options.historyEntries ?? GRAPH_MACHINE_DEFAULTS.historyEntries
    this.#chunkBytes = options.snapshotChunkBytes ?? GRAPH_MACHINE_DEFAULTS.snapshotChunkBytes
    this.#events = new EventQueueState(resolveEventsOptions(options.events), this.#chunkBytes)
    this.#logger = options.logger
  }

  /** The graph (read it; never mutate it). */
  get graph (): GraphState { return this.#graph }
  get events (): EventQueueState { return this.#events }
  /** The replicated time: the largest command time applied. */
  get time (): number { return this.#time }
  get appliedIndex (): number { return this.#applied }
  /** The oldest index a watch can resume from. */
  get historyFloor (): number { return this.#historyFloor }
  /** The newest fencing token applied for a lease name (0 if none). */
  fenceToken (name: string): number { return this.#fence.highest(name) }

  apply (command: Uint8Array, index: number): GraphResult {
    this.#assertWhole()
    this.#applied = index
    let cmd: GraphCommand
    try { cmd = decodeCommand(command) } catch (err) { return refused(index, err) }
    this.#time = Math.max(this.#time, cmd.time)
    return cmd.type === 'emit' ? this.#emit(cmd, index) : this.#transact(cmd, index)
  }

  #emit (cmd: EmitCommand, index: number): GraphResult {
    try {
      validateEvent(cmd.id, cmd.payload, this.#events.options.maxEventBytes)
    } catch (err) { return refused(index, err) }
    const out = this.#events.emit(cmd.id, cmd.payload, index, this.#time)
    if (out.status === 'full') {
      const o = this.#events.options
      const limit = out.reason === 'events' ? `${o.maxQueuedEvents} events` : out.reason === 'bytes' ? `${o.maxQueuedBytes} bytes` : `${o.dedupCapacity} remembered ids within the dedup window`
      return refused(index, new QuorateError('EVENTS_QUEUE_FULL', `The events queue is full (${limit}); retry after the consumer trims`, { details: { reason: out.reason } }))
    }
    if (out.status === 'stored') this.#record({ type: 'emit', index, time: this.#time, event: this.#events.get(cmd.id)! })
    return { status: out.status, index: out.index, id: cmd.id }
  }

  #transact (tx: GraphTransaction, index: number): GraphResult {
    let applied
    try {
      if (tx.fence !== undefined && !this.#fence.wouldAdmit(tx.fence.name, tx.fence.token)) {
        const highest = this.#fence.highest(tx.fence.name)
        throw new QuorateError('LEASE_FENCED', `lease ${JSON.stringify(tx.fence.name)}: token ${tx.fence.token} is older than ${highest}`, { details: { name: tx.fence.name, token: tx.fence.token, highest } })
      }
      checkExpectations(this.#graph, tx.expect)
      const missing = this.#events.missing(tx.trim)
      if (missing.length > 0) {
        throw new QuorateError('EVENTS_NOT_FOUND', `handle: event(s) ${missing.join(', ')} are not queued (already handled?)`, { details: { ids: missing } })
      }
      applied = applyOps(this.#graph, this.schema, tx.ops, index)
    } catch (err) { return refused(index, err) }
    this.#events.trim(tx.trim)
    if (tx.fence !== undefined) this.#fence.admit(tx.fence.name, tx.fence.token)
    this.#record({ type: 'tx', index, time: this.#time, ops: tx.ops, touched: applied.touched, removed: applied.removed, trimmed: tx.trim })
    return { status: 'ok', index, touched: applied.touched, removed: applied.removed, trimmed: [...tx.trim] }
  }

  #record (change: CommittedChange): void {
    if (this.#historyEntries > 0) {
      this.#history.push(change)
      // Trimmed in batches (a quarter of the limit at a time), not one shift per entry.
      if (this.#history.length > this.#historyEntries + Math.ceil(this.#historyEntries / 4)) {
        const dropped = this.#history.splice(0, this.#history.length - this.#historyEntries)
        this.#historyFloor = dropped[dropped.length - 1]!.index + 1
      }
    } else this.#historyFloor = change.index + 1
    notifyAll(this.#listeners, change, this.#logger)
  }

  /**
   * Retained committed changes with index >= `from`. Throws GRAPH_HISTORY_TRIMMED if changes
   * at or after `from` are no longer retained (resume from a fresh read instead).
   */
  changesSince (from: number): CommittedChange[] {
    // Floor 1: nothing was ever dropped, so any `from` (even 0) is complete.
    if (from < this.#historyFloor && this.#historyFloor > 1) {
      throw new QuorateError('GRAPH_HISTORY_TRIMMED', `Changes from index ${from} are no longer retained (oldest: ${this.#historyFloor})`, { details: { from, floor: this.#historyFloor } })
    }
    let lo = 0
    let hi = this.#history.length
    while (lo < hi) { const mid = (lo + hi) >> 1; if (this.#history[mid]!.index < from) lo = mid + 1; else hi = mid }
    return this.#history.slice(lo)
  }

  /** Calls `listener` with each change committed from now on; returns the unsubscribe function. */
  onChange (listener: ChangeListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** Calls `listener` after each restore (the state was replaced wholesale); returns the unsubscribe function. */
  onRestore (listener: () => void): () => void {
    this.#restoreListeners.add(listener)
    return () => { this.#restoreListeners.delete(listener) }
  }

  snapshot (): AsyncIterable<Uint8Array> {
    this.#assertWhole()
    // Everything is captured now, at this applied index; applies may go on while the stream is
    // read (the node writes snapshots in the background): the graph and the queue are read
    // through copy-on-write views, the dedup blocks are immutable (dedup-log.ts), and the
    // header and fences are small enough to copy.
    const header: SnapshotRecord = { type: 'header', format: SNAPSHOT_FORMAT, applied: this.#applied, time: this.#time }
    const fences = [...this.#fence.entries()]
    const graph = this.#graph.openView()
    const events = this.#events.openView()
    const dedup = this.#events.dedupFrames()
    return closing(packRecords(snapshotRecords(header, fences, graph, events, dedup), this.#chunkBytes), () => { graph.close(); events.close() })
  }

  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    // The old state goes first: it is replaced whatever happens, and never held beside the new.
    const graph = this.#graph = new GraphState()
    const events = this.#events = new EventQueueState(this.#events.options, this.#chunkBytes)
    this.#fence = new FencingGuard()
    this.#history.length = 0
    this.#broken = new QuorateError('GRAPH_SNAPSHOT_INVALID', 'The graph machine is being restored from a snapshot')
    try {
      const header = await this.#load(unpackRecords(chunks), graph, events)
      this.#applied = header.applied
      this.#time = header.time
      this.#broken = null
    } catch (err) {
      this.#broken = new QuorateError('GRAPH_SNAPSHOT_INVALID', 'A snapshot restore failed; the state is partial until a restore succeeds', { cause: err })
      throw err
    }
    // Changes before the snapshot are not known here: watches resume from after it.
    this.#historyFloor = this.#applied + 1
    notifyAll(this.#restoreListeners, undefined, this.#logger)
  }

  async #load (records: AsyncIterable<SnapshotRecord>, graph: GraphState, events: EventQueueState): Promise<Extract<SnapshotRecord, { type: 'header' }>> {
    const fences: Array<[string, number]> = []
    let header: Extract<SnapshotRecord, { type: 'header' }> | undefined
    for await (const rec of records) {
      if (header === undefined && rec.type !== 'header') throw new QuorateError('GRAPH_SNAPSHOT_INVALID', 'Graph snapshot: no header record')
      switch (rec.type) {
        case 'header':
          if (header !== undefined || rec.format !== SNAPSHOT_FORMAT) throw new QuorateError('GRAPH_SNAPSHOT_INVALID', `Graph snapshot: unexpected header (format ${rec.format})`)
          header = rec
          break
        case 'fence': fences.push([rec.name, rec.token]); break
        case 'resource': graph.load(rec.resource); break
        case 'edge': graph.loadEdge(rec.edge); break
        case 'event': events.loadEvent(rec.event); break
        case 'dedup': events.loadDedup(rec.entry); break
        case 'end': break
      }
    }
    if (header === undefined) throw new QuorateError('GRAPH_SNAPSHOT_INVALID', 'Graph snapshot: no header record')
    this.#fence = new FencingGuard(fences)
    return header
  }

  #assertWhole (): void {
    if (this.#broken !== null) throw this.#broken
  }
}

/**
 * The events queue's replicated state (Halon's EQ), kept in the same state machine as the
 * graph so that handling an event and trimming it are one Raft entry.
 *
 * Time: replicas have no shared clock, so every command carries its proposer's wall-clock
 * milliseconds and the machine's *replicated time* is the largest seen so far (monotonic,
 * identical on every replica). A proposer whose clock runs ahead shortens the effective
 * window by its skew, never lengthens memory use.
 *
 * Dedup invariant: an id emitted at replicated time t is answered 'duplicate' (never stored
 * again) by every emit up to t + dedupWindowMs, and for as long as the event is queued. The
 * remembered ids are bounded by dedupCapacity: when that many ids younger than the window are
 * remembered, an emit is refused with EVENTS_QUEUE_FULL rather than forgetting one early.
 * The queue itself is bounded by maxQueuedEvents and maxQueuedBytes (EVENTS_QUEUE_FULL), so
 * producers outrunning the consumer get backpressure, not unbounded memory.
 */
import { QuorateError } from '../errors.js'
import { check, checkInt } from '../util/validate.js'
import { EncodedDedupLog } from './dedup-log.js'

export interface EventsOptions {
  /** Replicated milliseconds an emitted id is remembered for dedup. @default 600000 (10 minutes) */
  dedupWindowMs?: number
  /** Most ids remembered for dedup at once. @default 1000000 */
  dedupCapacity?: number
  /** Most queued (untrimmed) events. @default 100000 */
  maxQueuedEvents?: number
  /** Most bytes of queued payloads. @default 67108864 (64 MiB) */
  maxQueuedBytes?: number
  /** Largest payload of one event. @default 65536 */
  maxEventBytes?: number
}

export const EVENTS_DEFAULTS = {
  dedupWindowMs: 600_000,
  dedupCapacity: 1_000_000,
  maxQueuedEvents: 100_000,
  maxQueuedBytes: 64 * 1024 * 1024,
  maxEventBytes: 65_536
} as const

/** Longest producer id (a UUID is 36). */
export const MAX_EVENT_ID_LENGTH = 128

export function resolveEventsOptions (o: EventsOptions = {}, component = 'GraphStateMachine'): Required<EventsOptions> {
  check(typeof o === 'object' && o !== null, component, 'events', 'an object', o)
  for (const k of Object.keys(o)) check(k in EVENTS_DEFAULTS, component, `events.${k}`, `one of ${Object.keys(EVENTS_DEFAULTS).join(', ')}`, k)
  const out = { ...EVENTS_DEFAULTS, ...o }
  for (const k of Object.keys(EVENTS_DEFAULTS) as Array<keyof typeof EVENTS_DEFAULTS>) checkInt(out[k], component, `events.${k}`, 1)
  return out
}

export interface StoredEvent {
  readonly id: string
  /** The log index the event was committed at: its position in the queue. */
  readonly index: number
  /** Replicated time at commit. */
  readonly time: number
  readonly payload: Uint8Array
}

export interface DedupEntry { readonly id: string, readonly index: number, readonly time: number }

export type EmitOutcome =
  | { readonly status: 'stored' | 'duplicate', readonly index: number }
  | { readonly status: 'full', readonly reason: 'events' | 'bytes' | 'dedup' }

/** Throws EVENTS_EVENT_INVALID unless the id and payload are acceptable. */
export function validateEvent (id: unknown, payload: unknown, maxEventBytes: number): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_EVENT_ID_LENGTH) {
    throw new QuorateError('EVENTS_EVENT_INVALID', `An event id must be a string of 1 to ${MAX_EVENT_ID_LENGTH} characters (got ${JSON.stringify(id)})`)
  }
  if (!(payload instanceof Uint8Array) || payload.byteLength > maxEventBytes) {
    throw new QuorateError('EVENTS_EVENT_INVALID', `An event payload must be a Uint8Array of at most ${maxEventBytes} bytes`, { details: { id } })
  }
}

/** The queued events at a point in time (EventQueueState.openView). */
export interface QueuedEventsView {
  events (): IterableIterator<StoredEvent>
  close (): void
}

/** What an open view needs told: trims of events with index <= upTo (those it covers). */
interface TrimRecorder { readonly upTo: number, readonly trimmed: Set<StoredEvent> }

export class EventQueueState {
  readonly options: Required<EventsOptions>
  /** Queued events by id. */
  readonly #queue = new Map<string, StoredEvent>()
  /**
   * The same events in commit (index) order, for reads from an index by binary search; a
   * trimmed event stays here (skipped: no longer in #queue) until dead ones outnumber live ones.
   */
  #order: StoredEvent[] = []
  /** Remembered ids, oldest first (replicated time only grows, so insertion order is time order). */
  readonly #dedup = new Map<string, DedupEntry>()
  /** The same ids as snapshot records, kept in step with #dedup (dedup-log.ts). */
  readonly #dedupLog: EncodedDedupLog
  #bytes = 0
  /** Open snapshot views (openView), each recording the trims of the events it covers. */
  readonly #views = new Set<TrimRecorder>()

  /** `snapshotBlockBytes`: how the encoded dedup records are cut (about a snapshot chunk). */
  constructor (options: Required<EventsOptions>, snapshotBlockBytes = 65_536) {
    this.options = options
    this.#dedupLog = new EncodedDedupLog(snapshotBlockBytes)
  }

  get size (): number { return this.#queue.size }
  get bytes (): number { return this.#bytes }
  get remembered (): number { return this.#dedup.size }

  get (id: string): StoredEvent | undefined { return this.#queue.get(id) }
  has (id: string): boolean { return this.#queue.has(id) }

  /** Queued events with index >= `from`, in order, at most `limit`. */
  list (from = 0, limit = Infinity): StoredEvent[] {
    const order = this.#order
    let lo = 0
    let hi = order.length
    while (lo < hi) { const mid = (lo + hi) >> 1; if (order[mid]!.index < from) lo = mid + 1; else hi = mid }
    const out: StoredEvent[] = []
    for (let i = lo; i < order.length && out.length < limit; i++) {
      const e = order[i]!
      if (this.#queue.get(e.id) === e) out.push(e)
    }
    return out
  }

  /** Every queued event, in order (snapshot). */
  * queued (): IterableIterator<StoredEvent> {
    for (const e of this.#order) if (this.#queue.get(e.id) === e) yield e
  }
  /**
   * The queued events as they are now, readable while later emits and trims go on: the
   * #order array of now (emits only append past its current length; compaction makes a new
   * array) and the events among those trimmed meanwhile. Close it (idempotent) once read or
   * abandoned: until then the trims of its events are recorded for it.
   */
  openView (): QueuedEventsView {
    const order = this.#order
    const length = order.length
    const queue = this.#queue
    const view: TrimRecorder = { upTo: length === 0 ? -1 : order[length - 1]!.index, trimmed: new Set() }
    this.#views.add(view)
    const views = this.#views
    return {
      * events () {
        for (let i = 0; i < length; i++) {
          const e = order[i]!
          if (queue.get(e.id) === e || view.trimmed.has(e)) yield e
        }
      },
      close () { views.delete(view); view.trimmed.clear() }
    }
  }

  /** Snapshot views open now (for tests: each must be closed). */
  get openViews (): number { return this.#views.size }

  dedupEntries (): IterableIterator<DedupEntry> { return this.#dedup.values() }
  /**
   * The remembered ids as framed snapshot records, oldest first: views that later emits and
   * expiry leave as they are (a point-in-time capture, O(blocks)).
   */
  dedupFrames (): Uint8Array[] { return this.#dedupLog.frames() }

  /** Forgets ids older than the window at replicated time `now`. */
  expire (now: number): void {
    let dropped = 0
    for (const e of this.#dedup.values()) {
      if (e.time + this.options.dedupWindowMs > now) break
      this.#dedup.delete(e.id)
      dropped++
    }
    if (dropped > 0) this.#dedupLog.dropOldest(dropped)
  }

  /** Stores an event (or reports it duplicate or the queue full) at log `index`, replicated time `now`. */
  emit (id: string, payload: Uint8Array, index: number, now: number): EmitOutcome {
    this.expire(now)
    const known = this.#queue.get(id) ?? this.#dedup.get(id)
    if (known !== undefined) return { status: 'duplicate', index: known.index }
    const o = this.options
    if (this.#queue.size >= o.maxQueuedEvents) return { status: 'full', reason: 'events' }
    if (this.#bytes + payload.byteLength > o.maxQueuedBytes) return { status: 'full', reason: 'bytes' }
    if (this.#dedup.size >= o.dedupCapacity) return { status: 'full', reason: 'dedup' }
    const event = { id, index, time: now, payload }
    this.#queue.set(id, event)
    this.#order.push(event)
    const remembered = { id, index, time: now }
    this.#dedup.set(id, remembered)
    this.#dedupLog.append(remembered)
    this.#bytes += payload.byteLength
    return { status: 'stored', index }
  }

  /** The ids among `ids` that are not queued (a handle naming them is refused). */
  missing (ids: readonly string[]): string[] { return ids.filter((id) => !this.#queue.has(id)) }

  /** Removes handled events (the caller checked `missing` is empty). Their ids stay remembered. */
  trim (ids: readonly string[]): void {
    for (const id of ids) {
      const e = this.#queue.get(id)
      if (e === undefined) continue
      for (const v of this.#views) if (e.index <= v.upTo) v.trimmed.add(e)
      this.#queue.delete(id)
      this.#bytes -= e.payload.byteLength
    }
    if (this.#order.length > 2 * this.#queue.size + 64) this.#order = [...this.queued()]
  }

  /** Restore: appends in the order they were snapshotted. */
  loadEvent (e: StoredEvent): void {
    this.#queue.set(e.id, e)
    this.#order.push(e)
    this.#bytes += e.payload.byteLength
  }

  /** Restore: appends in the order they were snapshotted (ids are unique in a snapshot). */
  loadDedup (e: DedupEntry): void {
    this.#dedup.set(e.id, e)
    this.#dedupLog.append(e)
  }
}

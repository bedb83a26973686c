/**
 * The events queue client: what monitors and agents emit through, and what the coordinator
 * consumes and handles with.
 *
 * `emit` is acknowledged only once the event is committed, and retries until then: after a
 * failed or unknown attempt (leader change, timeout, a full queue) it waits a jittered
 * exponential backoff and sends the same event again, so a retry of an attempt that did commit
 * answers 'duplicate' and the queue holds the event once. Only the AbortSignal or a refusal
 * that no retry can change (EVENTS_EVENT_INVALID) ends it early.
 *
 * `consume(from)` yields the queued events from an index in commit order, then new ones as
 * they commit; nothing is removed by reading. An event leaves the queue only when a `handle`
 * transaction trims it together with the graph change that handled it, so a new consumer
 * (a new coordinator) starting from 0 gets every event not yet handled.
 */
import { abortError, isQuorateError, throwIfAborted } from '../errors.js'
import type { Clock } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import type { Random } from '../util/random.js'
import { systemRandom } from '../util/random.js'
import { abortable } from '../util/abort.js'
import { checkInt, check } from '../util/validate.js'
import { encodeCommand } from './codec.js'
import type { GraphResult } from './codec.js'
import { validateEvent } from './events.js'
import type { EventQueueState, StoredEvent } from './events.js'
import type { Transaction, CommitResult } from './client.js'
import type { SchemaSpec } from './schema.js'
import { readBarrier, tail, toResult, unlessRefused, validateClientOptions } from './submit.js'
import type { ClientOptions, SubmitOptions } from './submit.js'

export interface EventsQueueOptions extends ClientOptions {
  /** Timers for the retry backoff. @default systemClock */
  clock?: Clock
  /** Jitter for the retry backoff. @default systemRandom */
  random?: Random
  /** First retry delay, ms (doubles each attempt, full jitter). @default 10 */
  backoffInitialMs?: number
  /** Longest retry delay, ms. @default 1000 */
  backoffMaxMs?: number
  /** One attempt is abandoned (and retried) after this long, ms; 0: wait for submit. @default 0 */
  attemptTimeoutMs?: number
}

export const EVENTS_CLIENT_DEFAULTS = { backoffInitialMs: 10, backoffMaxMs: 1000, attemptTimeoutMs: 0 } as const

/** A producer's event: its UUID (the dedup key) and payload. */
export interface GraphEvent { readonly id: string, readonly payload: Uint8Array }

/** Refusals a retry cannot change. */
const FINAL_CODES = new Set(['EVENTS_EVENT_INVALID', 'GRAPH_COMMAND_INVALID'])

export class EventsQueue {
  readonly #o: EventsQueueOptions
  readonly #clock: Clock
  readonly #random: Random

  constructor (options: EventsQueueOptions) {
    validateClientOptions('EventsQueue', options, ['clock', 'random', 'backoffInitialMs', 'backoffMaxMs', 'attemptTimeoutMs'])
    for (const f of ['backoffInitialMs', 'backoffMaxMs', 'attemptTimeoutMs'] as const) {
      if (options[f] !== undefined) checkInt(options[f], 'EventsQueue', f, f === 'attemptTimeoutMs' ? 0 : 1)
    }
    this.#o = options
    this.#clock = options.clock ?? systemClock
    this.#random = options.random ?? systemRandom
  }

  /**
   * Emits until committed: 'stored' if this call stored it, 'duplicate' if the queue already
   * had it (an earlier attempt, or another producer, committed it). Rejects only with ABORTED
   * or EVENTS_EVENT_INVALID.
   */
  async emit (event: GraphEvent, options: SubmitOptions = {}): Promise<'stored' | 'duplicate'> {
    check(typeof event === 'object' && event !== null, 'EventsQueue.emit', 'event', '{ id, payload }', event)
    validateEvent(event.id, event.payload, this.#o.machine.events.options.maxEventBytes)
    const { signal } = options
    const initial = this.#o.backoffInitialMs ?? EVENTS_CLIENT_DEFAULTS.backoffInitialMs
    const max = this.#o.backoffMaxMs ?? EVENTS_CLIENT_DEFAULTS.backoffMaxMs
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal)
      try {
        const time = Math.max(0, Math.floor((this.#o.now ?? Date.now)()))
        const result = unlessRefused<GraphResult>(toResult(await this.#attempt(encodeCommand({ type: 'emit', time, id: event.id, payload: event.payload }), signal)))
        if (result.status === 'stored' || result.status === 'duplicate') return result.status
      } catch (err) {
        if (signal?.aborted === true) throw abortError(signal)
        if (isQuorateError(err) && FINAL_CODES.has(err.code)) throw err
      }
      const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30))
      await this.#sleep(Math.floor(this.#random.next() * ceiling) + 1, signal)
    }
  }

  /** Queued events with index >= `from`, in order (linearizable when a barrier was given). */
  async read (from = 0, options: SubmitOptions & { linearizable?: boolean, limit?: number } = {}): Promise<StoredEvent[]> {
    await readBarrier(this.#o.barrier, options.linearizable ?? this.#o.barrier !== undefined, options.signal)
    return this.#o.machine.events.list(from, options.limit)
  }

  /** Queued events from `from` on, then each new one as it commits, until `signal` aborts. */
  async * consume (from = 0, options: SubmitOptions = {}): AsyncIterable<StoredEvent> {
    const events = (): EventQueueState => this.#o.machine.events
    let next = from
    yield * tail(this.#o.machine, options.signal, () => {
      const batch = events().list(next, 256)
      if (batch.length > 0) next = batch[batch.length - 1]!.index + 1
      return batch
    })
  }

  /**
   * Trims `eventIds` in the same entry as `change` (a transaction of the graph client): both
   * commit, or neither. EVENTS_NOT_FOUND if an event was already handled.
   */
  async handle<S extends SchemaSpec> (eventIds: Iterable<string>, change: Transaction<S>, options: SubmitOptions = {}): Promise<CommitResult> {
    return await change.handles(eventIds).commit(options)
  }

  async #attempt (command: Uint8Array, signal: AbortSignal | undefined): Promise<unknown> {
    const limit = this.#o.attemptTimeoutMs ?? EVENTS_CLIENT_DEFAULTS.attemptTimeoutMs
    if (limit === 0) return await this.#o.submit(command, signal === undefined ? {} : { signal })
    const controller = new AbortController()
    const onAbort = (): void => { controller.abort(signal?.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
    const timer = this.#clock.setTimeout(() => { controller.abort() }, limit)
    try {
      return await this.#o.submit(command, { signal: controller.signal })
    } finally {
      this.#clock.clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  async #sleep (ms: number, signal: AbortSignal | undefined): Promise<void> {
    let timer: ReturnType<Clock['setTimeout']> | undefined
    try {
      await abortable<void>(signal, (resolve) => { timer = this.#clock.setTimeout(resolve, ms) })
    } finally { if (timer !== undefined) this.#clock.clearTimeout(timer) }
  }
}

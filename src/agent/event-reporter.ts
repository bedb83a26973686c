/**
 * How the agent, its monitors and the heartbeat monitor report: each HaEvent goes to a local
 * listener at once and into the events queue (EventsQueue.emit retries until the event is
 * committed), under an id that stays the same across those retries. close() waits a bounded
 * time for unacknowledged events, then abandons them (reported through onEventError), so no
 * close waits forever on an unreachable queue.
 */
import { randomUUID } from 'node:crypto'
import { QuorateError } from '../errors.js'
import type { Clock } from '../util/clock.js'
import { checkFunction, checkInt, checkMethods } from '../util/validate.js'
import { sharedAbortController } from '../util/abort.js'
import type { GraphEvent } from '../graph/events-client.js'
import { encodeHaEvent } from './protocol.js'
import type { HaEvent } from './protocol.js'

/** Where events go: an EventsQueue (quorate/graph) or anything with its emit. */
export interface HaEventSink {
  emit: (event: GraphEvent, options?: { signal?: AbortSignal }) => Promise<unknown>
}

/** The reporting options every reporting component (agent, monitors, heartbeat monitor) takes. */
export interface ReportingOptions {
  /** The events queue reported into (retried until acknowledged). @default none (onEvent only) */
  readonly events?: HaEventSink
  /** Called synchronously with every event, before it is queued (local observation, tests). */
  readonly onEvent?: (event: HaEvent) => void
  /** Called when an event could not be queued (refused for good, or abandoned at close). */
  readonly onEventError?: (event: HaEvent, error: unknown) => void
  /** Timers. @default systemClock */
  readonly clock?: Clock
  /** Wall-clock ms for events' `at`. @default Date.now */
  readonly now?: () => number
  /** On close, how long unacknowledged events are still retried before they are abandoned, ms. @default 2000 */
  readonly eventFlushMs?: number
}

export const REPORTING_KEYS = ['events', 'onEvent', 'onEventError', 'clock', 'now', 'eventFlushMs'] as const
export const EVENT_FLUSH_MS = 2000

/** Validates the ReportingOptions part of `o`. */
export function checkReportingOptions (o: ReportingOptions, component: string): void {
  if (o.events !== undefined) checkMethods(o.events, component, 'events', 'an events sink', ['emit'])
  if (o.clock !== undefined) checkMethods(o.clock, component, 'clock', 'a Clock', ['now', 'setTimeout', 'clearTimeout'])
  checkFunction(o.onEvent, component, 'onEvent', true)
  checkFunction(o.onEventError, component, 'onEventError', true)
  checkFunction(o.now, component, 'now', true)
  if (o.eventFlushMs !== undefined) checkInt(o.eventFlushMs, component, 'eventFlushMs', 1)
}

export interface EventReporterOptions {
  readonly events?: HaEventSink
  readonly onEvent?: (event: HaEvent) => void
  readonly onEventError?: (event: HaEvent, error: unknown) => void
  readonly clock: Clock
  readonly flushMs: number
  /** Names the owner in the error abandoned events are reported with. */
  readonly owner: string
}

export class EventReporter {
  readonly #o: EventReporterOptions
  readonly #pending = new Set<Promise<unknown>>()
  /** Every pending event's emit listens on it: many deaths reported at once are expected. */
  #abort = sharedAbortController()

  constructor (options: EventReporterOptions) { this.#o = options }

  /** Starts (again) after a flush: new events are queued with a fresh signal. */
  reset (): void { this.#abort = sharedAbortController() }

  /**
   * Reports `event`. `id` is its queue id (the dedup key); give a deterministic one when
   * several producers report the same fact (every observer of one death), else a UUID is used.
   */
  report (event: HaEvent, id: string = randomUUID()): void {
    try { this.#o.onEvent?.(event) } catch {}
    const sink = this.#o.events
    if (sink === undefined) return
    let payload: Uint8Array
    try { payload = encodeHaEvent(event) } catch (err) { this.#o.onEventError?.(event, err); return }
    const pending = sink.emit({ id, payload }, { signal: this.#abort.signal })
      .catch((err: unknown) => { this.#o.onEventError?.(event, err) })
      .finally(() => { this.#pending.delete(pending) })
    this.#pending.add(pending)
  }

  /** Waits up to flushMs for every queued event to be acknowledged, then abandons the rest. */
  async flush (): Promise<void> {
    if (this.#pending.size > 0) {
      let timer: ReturnType<Clock['setTimeout']> | undefined
      const limit = new Promise<void>((resolve) => { timer = this.#o.clock.setTimeout(resolve, this.#o.flushMs) })
      await Promise.race([Promise.allSettled([...this.#pending]), limit])
      if (timer !== undefined) this.#o.clock.clearTimeout(timer)
    }
    this.#abort.abort(new QuorateError('NODE_CLOSED', `${this.#o.owner} closed before these events were acknowledged`))
    await Promise.allSettled([...this.#pending])
  }
}

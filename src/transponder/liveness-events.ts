/**
 * The tracking station's liveness view into the graph: an agent the station stops seeing
 * alive (its transponder reported it left, or its transponder went silent and the agent did
 * not re-home within the grace; station.ts) becomes a 'node-dead' HaEvent in the events
 * queue, which the coordinator's node rules react to; an agent reported dead that is seen
 * again becomes 'node-alive'.
 *
 * The failure detector's rules (quorate/agent failure-detector.ts) carry over:
 * - a node is declared dead at most once per silence: after a death, only an alive ends it;
 * - the death's queue id is `node-dead:<node>:<run>.<n>`, the same across emit retries, so the
 *   queue holds one event per death: n counts this node's deaths in this run of the station,
 *   and run is the wall-clock ms of open(), so a restarted station never reuses an id an
 *   earlier run's death left in the queue's dedup window;
 * - after the station (re)starts — a failover: its view is built again from the transponders'
 *   reports — no death is declared for `failoverGraceMs`; one seen then is re-checked when
 *   the grace ends and declared only if the node is still not alive.
 *
 * Invariant: events are emitted through the EventReporter (EventsQueue.emit retries until
 * committed); close() flushes them for a bounded time.
 */
import type { Clock, Timer } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import { Lifecycle } from '../util/lifecycle.js'
import type { ComponentStatus } from '../util/lifecycle.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { FAILURE_DETECTOR_DEFAULTS } from '../agent/failure-detector.js'
import { EVENT_FLUSH_MS, EventReporter, checkReportingOptions } from '../agent/event-reporter.js'
import type { ReportingOptions } from '../agent/event-reporter.js'
import type { LivenessChange } from './station.js'

export interface LivenessEventsOptions extends ReportingOptions {
  /** The observer named in the events (the station's id). */
  readonly observer: string
  /** No death is declared for this long after open(), ms. @default 5000 (the failure detector's failoverGraceMs) */
  readonly failoverGraceMs?: number
}

const KEYS = ['observer', 'failoverGraceMs', 'events', 'onEvent', 'onEventError', 'clock', 'now', 'eventFlushMs'] as const

export class LivenessEvents {
  readonly #o: LivenessEventsOptions
  readonly #clock: Clock
  readonly #reporter: EventReporter
  readonly #life = new Lifecycle('liveness events')
  readonly #graceMs: number
  #graceUntil = 0
  #run = 0
  #graceTimer: Timer | undefined
  /** Nodes declared dead (until seen alive), with how many deaths each had. */
  readonly #dead = new Set<string>()
  readonly #incarnation = new Map<string, number>()
  /** Deaths seen during the grace, re-checked when it ends. */
  readonly #held = new Map<string, LivenessChange>()
  readonly #alive = new Set<string>()

  /** Pass as the TrackingStation's `onLiveness`. */
  readonly onLiveness = (change: LivenessChange): void => { this.#change(change) }

  constructor (options: LivenessEventsOptions) {
    checkObject(options, 'LivenessEvents', '(options)')
    checkKnownKeys(options, 'LivenessEvents', KEYS)
    check(typeof options.observer === 'string' && options.observer.length > 0, 'LivenessEvents', 'observer', 'a non-empty string', options.observer)
    if (options.failoverGraceMs !== undefined) checkInt(options.failoverGraceMs, 'LivenessEvents', 'failoverGraceMs', 0)
    checkReportingOptions(options, 'LivenessEvents')
    this.#o = options
    this.#clock = options.clock ?? systemClock
    this.#graceMs = options.failoverGraceMs ?? FAILURE_DETECTOR_DEFAULTS.failoverGraceMs
    this.#reporter = new EventReporter({ ...options, clock: this.#clock, flushMs: options.eventFlushMs ?? EVENT_FLUSH_MS, owner: 'LivenessEvents' })
  }

  get status (): ComponentStatus { return this.#life.status }

  /** Nodes declared dead and not seen alive since. */
  get dead (): ReadonlySet<string> { return this.#dead }

  async open (options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#life.open(async () => {}, options.signal, () => {
      this.#reporter.reset()
      this.#run = (this.#o.now ?? Date.now)()
      this.#graceUntil = this.#clock.now() + this.#graceMs
      if (this.#graceMs > 0) this.#graceTimer = this.#clock.setTimeout(() => { this.#graceTimer = undefined; this.#endGrace() }, this.#graceMs)
    })
  }

  /** Stops declaring; waits up to eventFlushMs for the events not yet committed. Idempotent. */
  async close (): Promise<void> {
    await this.#life.close(async () => {
      if (this.#graceTimer !== undefined) this.#clock.clearTimeout(this.#graceTimer)
      this.#graceTimer = undefined
      this.#held.clear()
      await this.#reporter.flush()
    })
  }

  #change (c: LivenessChange): void {
    if (!this.#life.isOpen) return
    if (c.alive) {
      this.#alive.add(c.agent)
      this.#held.delete(c.agent)
      if (this.#dead.delete(c.agent)) this.#report('node-alive', c.agent)
      return
    }
    this.#alive.delete(c.agent)
    if (this.#dead.has(c.agent)) return // once per silence
    if (this.#clock.now() < this.#graceUntil) { this.#held.set(c.agent, c); return }
    this.#declare(c.agent)
  }

  #endGrace (): void {
    if (!this.#life.isOpen) return
    for (const agent of this.#held.keys()) if (!this.#alive.has(agent) && !this.#dead.has(agent)) this.#declare(agent)
    this.#held.clear()
  }

  #declare (agent: string): void {
    const incarnation = (this.#incarnation.get(agent) ?? 0) + 1
    this.#incarnation.set(agent, incarnation)
    this.#dead.add(agent)
    this.#report('node-dead', agent, `node-dead:${agent}:${this.#run}.${incarnation}`)
  }

  #report (type: 'node-dead' | 'node-alive', node: string, id?: string): void {
    const event = { type, node, observer: this.#o.observer, at: (this.#o.now ?? Date.now)() }
    if (id === undefined) this.#reporter.report(event)
    else this.#reporter.report(event, id)
  }
}

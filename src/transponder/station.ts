/**
 * The tracking station's end of the uplinks: verifies every relayed envelope, emits the
 * events into the events queue, acknowledges a batch only after every event in it is
 * committed, and keeps the liveness view the transponders' reports add up to — which agent
 * is alive and which transponder currently reaches it (the route commands take down).
 *
 * Liveness rules: a transponder's `joined` makes an agent alive via it; its `left` makes the
 * agent dead only if the agent is still routed via that transponder (an agent that re-homed
 * has already joined elsewhere); a full alive set reconciles both ways. A transponder silent
 * for transponderTimeoutMs is dead: its agents are orphaned, and an orphan that has not joined
 * through another transponder within rehomeGraceMs is dead.
 */
import { QuorateError, isQuorateError } from '../errors.js'
import type { GraphEvent } from '../graph/events-client.js'
import type { Clock, Timer } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import { Lifecycle } from '../util/lifecycle.js'
import type { ComponentStatus } from '../util/lifecycle.js'
import { check, checkFunction, checkInt, checkKnownKeys, checkMethods, checkObject } from '../util/validate.js'
import { fanOutSignal } from './deadline.js'
import { openEvent } from './envelope.js'
import type { OpenedEvent } from './envelope.js'
import { KeyRing } from './keys.js'
import { hiddenOption } from '../util/hidden-option.js'
import type { UplinkBatch } from './relay.js'

/** An agent became alive or dead in the station's view. */
export interface LivenessChange {
  readonly agent: string
  readonly alive: boolean
  /** The transponder that reported it (for a death by silence: the silent one). */
  readonly via: string
  readonly at: number
}

export interface TrackingStationOptions {
  /** The station's id: the target agents seal their events for. */
  id: string
  keys: KeyRing
  /** Commits one verified event (EventsQueue.emit); the batch is acknowledged when all resolved. */
  emit: (event: GraphEvent, options: { signal?: AbortSignal }) => Promise<unknown>
  /** @default systemClock */
  clock?: Clock
  /** A transponder not heard for this long is dead, ms. @default 2500 */
  transponderTimeoutMs?: number
  /** An orphaned agent (its transponder died) not re-joined elsewhere within this is dead, ms. @default 2500 */
  rehomeGraceMs?: number
  /** Period of the silence checks, ms. @default 250 */
  checkIntervalMs?: number
  /** Called for every liveness change, synchronously (emit a node-dead HaEvent from here). @default undefined */
  onLiveness?: (change: LivenessChange) => void
  /** Called when a live agent's route moves to another transponder (it re-homed). @default undefined */
  onRoute?: (change: { readonly agent: string, readonly from: string, readonly via: string, readonly at: number }) => void
  /** Called for an envelope refused (bad signature, unknown signer, wrong target). @default undefined */
  onRefused?: (error: QuorateError, transponder: string) => void
}

export const TRACKING_STATION_DEFAULTS = { transponderTimeoutMs: 2500, rehomeGraceMs: 2500, checkIntervalMs: 250 } as const

/** Test-only: the mutant station that acknowledges a batch before its events are committed (the simulator must catch it). */
export const stationAckBeforeCommit = hiddenOption<{ on: boolean }>('transponder.stationAckBeforeCommit', { on: false })

/** Producers whose last acknowledged seq is remembered (oldest forgotten first): far above the number of live transponders. */
const REMEMBERED_PRODUCERS = 4096

interface ProducerView { acked: number, readonly running: Map<number, Promise<void>> }

interface AgentView { via: string, alive: boolean, orphanedAt: number }

export class TrackingStation {
  readonly id: string
  readonly #o: TrackingStationOptions
  readonly #clock: Clock
  readonly #timeouts: { transponderTimeoutMs: number, rehomeGraceMs: number, checkIntervalMs: number }
  readonly #life = new Lifecycle('tracking station')
  readonly #agents = new Map<string, AgentView>()
  readonly #transponders = new Map<string, { lastHeard: number, agents: Set<string>, dead: boolean }>()
  readonly #producers = new Map<string, ProducerView>()
  readonly #ackEarly: boolean
  #timer: Timer | undefined
  #stats = { batches: 0, events: 0, refused: 0, duplicateBatches: 0 }

  constructor (options: TrackingStationOptions) {
    checkObject(options, 'TrackingStation', '(options)')
    checkKnownKeys(options, 'TrackingStation', ['id', 'keys', 'emit', 'clock', 'onLiveness', 'onRoute', 'onRefused', ...Object.keys(TRACKING_STATION_DEFAULTS)])
    check(typeof options.id === 'string' && options.id.length > 0, 'TrackingStation', 'id', 'a non-empty string', options.id)
    check(options.keys instanceof KeyRing, 'TrackingStation', 'keys', 'a KeyRing', options.keys)
    checkFunction(options.emit, 'TrackingStation', 'emit')
    checkFunction(options.onLiveness, 'TrackingStation', 'onLiveness', true)
    checkFunction(options.onRefused, 'TrackingStation', 'onRefused', true)
    checkFunction(options.onRoute, 'TrackingStation', 'onRoute', true)
    if (options.clock !== undefined) checkMethods(options.clock, 'TrackingStation', 'clock', 'a Clock', ['now', 'setTimeout', 'clearTimeout'])
    const t = { ...TRACKING_STATION_DEFAULTS } as { transponderTimeoutMs: number, rehomeGraceMs: number, checkIntervalMs: number }
    for (const k of Object.keys(TRACKING_STATION_DEFAULTS) as Array<keyof typeof t>) {
      if (options[k] !== undefined) { checkInt(options[k], 'TrackingStation', k, 1); t[k] = options[k] }
    }
    this.id = options.id
    this.#o = options
    this.#clock = options.clock ?? systemClock
    this.#timeouts = t
    this.#ackEarly = stationAckBeforeCommit.of(options).on
  }

  get status (): ComponentStatus { return this.#life.status }

  async open (options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#life.open(async () => {}, options.signal, () => { this.#arm() })
  }

  async close (): Promise<void> {
    await this.#life.close(async () => {
      if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
      this.#timer = undefined
    })
  }

  stats (): { batches: number, events: number, refused: number, duplicateBatches: number, aliveAgents: number } {
    let alive = 0
    for (const a of this.#agents.values()) if (a.alive) alive++
    return { ...this.#stats, aliveAgents: alive }
  }

  /** The transponder currently reaching `agent`, or undefined if it is not known alive. */
  routeOf (agent: string): string | undefined {
    const a = this.#agents.get(agent)
    return a?.alive === true && a.orphanedAt < 0 ? a.via : undefined
  }

  isAlive (agent: string): boolean { return this.#agents.get(agent)?.alive === true }

  /**
   * The uplink handler (a Transponder's `uplink`, over whatever carries it): applies the
   * liveness report, verifies and emits the events, resolves when all are committed. A refused
   * envelope is reported and skipped (no retry can make it valid); an emit failure rejects the
   * batch so the transponder retries it.
   *
   * A batch with a producer is applied once: a retry of one already acknowledged resolves at
   * once, a retry of one still committing waits for that attempt (and fails with it).
   */
  async receive (batch: UplinkBatch, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#life.assertOpen()
    if (batch.producer === undefined) { await this.#apply(batch, options); return }
    let p = this.#producers.get(batch.producer)
    if (p === undefined) {
      p = { acked: 0, running: new Map() }
      if (this.#producers.size >= REMEMBERED_PRODUCERS) this.#producers.delete(this.#producers.keys().next().value!)
    } else this.#producers.delete(batch.producer) // re-inserted below: most recently used last
    this.#producers.set(batch.producer, p)
    if (batch.seq <= p.acked) { this.#stats.duplicateBatches++; return }
    const running = p.running.get(batch.seq)
    if (running !== undefined) { this.#stats.duplicateBatches++; await running; return }
    const attempt = this.#apply(batch, options)
    p.running.set(batch.seq, attempt)
    try {
      await attempt
      if (batch.seq > p.acked) p.acked = batch.seq
    } finally { p.running.delete(batch.seq) }
  }

  async #apply (batch: UplinkBatch, options: { signal?: AbortSignal }): Promise<void> {
    const now = this.#clock.now()
    const t = this.#transponder(batch.transponder)
    t.lastHeard = now
    if (t.dead) {
      // It was only slow: its agents were never away, so they are no longer orphans.
      t.dead = false
      for (const agent of t.agents) this.#agents.get(agent)!.orphanedAt = -1
    }
    for (const agent of batch.joined) this.#join(agent, batch.transponder, now)
    for (const agent of batch.left) this.#leave(agent, batch.transponder, now)
    if (batch.alive !== null) {
      const set = new Set(batch.alive)
      for (const agent of [...t.agents]) if (!set.has(agent)) this.#leave(agent, batch.transponder, now)
      for (const agent of set) this.#join(agent, batch.transponder, now)
    }
    const events: OpenedEvent[] = []
    for (const bytes of batch.envelopes) {
      try {
        events.push(openEvent(bytes, this.#o.keys, this.id))
      } catch (err) {
        if (!isQuorateError(err)) throw err
        this.#stats.refused++
        this.#o.onRefused?.(err, batch.transponder)
      }
    }
    // One listener on the caller's signal per batch, not one per event; released once every
    // emit has settled (not at the first failure, so the rest stay cancellable).
    const fan = fanOutSignal(options.signal)
    const signal = fan.signal
    const emits = events.map(async (e) => await this.#o.emit(e.event, signal === undefined ? {} : { signal }))
    void Promise.allSettled(emits).then(fan.release)
    const committed = Promise.all(emits)
    if (this.#ackEarly) committed.catch(() => {}) // the mutant: acknowledged before the append is durable
    else await committed
    this.#stats.batches++
    this.#stats.events += events.length
  }

  /** Runs the silence checks now (also run every checkIntervalMs while open). */
  check (): void {
    const now = this.#clock.now()
    for (const t of this.#transponders.values()) {
      if (t.dead || now - t.lastHeard < this.#timeouts.transponderTimeoutMs) continue
      t.dead = true
      for (const agent of t.agents) {
        const a = this.#agents.get(agent)!
        if (a.orphanedAt < 0) a.orphanedAt = now
      }
    }
    for (const [agent, a] of this.#agents) {
      if (a.alive && a.orphanedAt >= 0 && now - a.orphanedAt >= this.#timeouts.rehomeGraceMs) {
        this.#setAlive(agent, a, false, a.via, now)
      }
    }
  }

  #arm (): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined
      if (!this.#life.isOpen) return
      this.check()
      this.#arm()
    }, this.#timeouts.checkIntervalMs)
  }

  #transponder (id: string): { lastHeard: number, agents: Set<string>, dead: boolean } {
    let t = this.#transponders.get(id)
    if (t === undefined) { t = { lastHeard: 0, agents: new Set(), dead: false }; this.#transponders.set(id, t) }
    return t
  }

  #join (agent: string, via: string, now: number): void {
    let a = this.#agents.get(agent)
    if (a === undefined) { a = { via, alive: false, orphanedAt: -1 }; this.#agents.set(agent, a) }
    const from = a.via
    if (from !== via) this.#transponders.get(from)?.agents.delete(agent)
    a.via = via
    if (from !== via && a.alive) this.#o.onRoute?.({ agent, from, via, at: now })
    a.orphanedAt = -1
    this.#transponder(via).agents.add(agent)
    if (!a.alive) this.#setAlive(agent, a, true, via, now)
  }

  #leave (agent: string, via: string, now: number): void {
    const a = this.#agents.get(agent)
    if (a === undefined || a.via !== via) return
    this.#transponders.get(via)?.agents.delete(agent)
    if (a.alive) this.#setAlive(agent, a, false, via, now)
  }

  #setAlive (agent: string, a: AgentView, alive: boolean, via: string, at: number): void {
    a.alive = alive
    this.#o.onLiveness?.({ agent, alive, via, at })
  }
}

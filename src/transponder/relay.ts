/**
 * The transponder: a stateless relay between many agents (downlinks) and the tracking
 * station (one uplink). It holds nothing the cluster needs to survive its death: an agent
 * keeps every event until the relay acknowledges it, and the relay acknowledges only after
 * the uplink did, so a dead relay loses nothing acknowledged — its agents re-home and resend.
 *
 * Upward, everything waits in one pending batch that is sent
 * - when it reaches maxBatchEnvelopes or maxBatchBytes,
 * - when the window (windowMs) that the batch's first envelope opened closes — one timer per
 *   window, never one per message —
 * - or on the report tick (reportIntervalMs), which carries the heartbeats coalesced into
 *   "alive set plus changes": agents heard for the first time (joined) and agents not heard
 *   for agentTimeoutMs (left), with the full alive set every fullReportEvery reports.
 * A duplicate of an envelope already pending or in flight (same sender and id) is not sent
 * again; it is acknowledged with the original. A user filter may drop an envelope (answered
 * 'filtered'). One batch is in flight at a time; a failed or timed-out uplink is retried with
 * the same batch (same seq) after a jittered backoff, so the station sees duplicates only as
 * retries, which it absorbs by event id.
 *
 * Downward, `deliver` takes a batch of per-target command envelopes, hands each to its agent
 * over the downlink and answers per target: the agent's signed reply, or undeliverable.
 *
 * Invariants: an envelope's waiters resolve only after the uplink acknowledged a batch that
 * contained it; nothing but `close()` and the uplink retry loop ends a pending submit, and
 * close rejects every pending one (NODE_CLOSED), so no promise stays pending forever.
 */
import { sharedAbortController } from '../util/abort.js'
import { QuorateError, isQuorateError } from '../errors.js'
import type { Clock, Timer } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import type { Random } from '../util/random.js'
import { systemRandom } from '../util/random.js'
import { Lifecycle } from '../util/lifecycle.js'
import type { ComponentStatus } from '../util/lifecycle.js'
import { hiddenOption } from '../util/hidden-option.js'
import { checkBool, checkFunction, checkInt, checkKnownKeys, checkMethods, checkObject, check } from '../util/validate.js'
import { peekEnvelope } from './envelope.js'
import type { Envelope } from './envelope.js'
import { boundedAttempt, fanOutSignal } from './deadline.js'

/** What a transponder sends up: its agents' envelopes (verbatim) and their liveness. */
export interface UplinkBatch {
  readonly transponder: string
  /**
   * Drawn when the transponder opens: (producer, seq) names one batch, so the station appends
   * a retried batch once, and a restarted transponder (seq from 1 again) is a new producer.
   * Absent: the station dedupes by event id only (the events queue).
   */
  readonly producer?: string
  /** Increases by one per batch; a retry of a batch carries the same seq. */
  readonly seq: number
  /** Agents heard for the first time since they were last reported alive. */
  readonly joined: readonly string[]
  /** Agents not heard for agentTimeoutMs. */
  readonly left: readonly string[]
  /** Every agent this transponder currently reports alive, in every fullReportEvery'th batch; else null. */
  readonly alive: readonly string[] | null
  /** Signed envelopes (events) as the agents sent them. */
  readonly envelopes: readonly Uint8Array[]
}

/** Sends a batch to the tracking station; resolves once the station committed all of it. */
export type Uplink = (batch: UplinkBatch, options: { signal: AbortSignal }) => Promise<void>

/** Reaches one agent: resolves with its signed reply envelope to `command`. */
export type Downlink = (agent: string, command: Uint8Array, options: { signal: AbortSignal }) => Promise<Uint8Array>

/** The user filter: false drops the envelope (its sender is answered 'filtered'). */
export type EnvelopeFilter = (envelope: Envelope) => boolean

/** One target's outcome of a downward batch. */
export type DeliveryResult =
  | { readonly target: string, readonly id: string, readonly ok: true, readonly reply: Uint8Array }
  | { readonly target: string, readonly id: string, readonly ok: false, readonly code: string, readonly message: string }

export interface TransponderOptions {
  /** This transponder's node id (its certificate identity on the uplink). */
  id: string
  uplink: Uplink
  downlink: Downlink
  /** @default systemClock */
  clock?: Clock
  /** Jitter of the uplink retry backoff. @default systemRandom */
  random?: Random
  /** How long the first envelope of a batch waits for company, ms. @default 20 */
  windowMs?: number
  /** A batch is sent at once when it holds this many envelopes. @default 512 */
  maxBatchEnvelopes?: number
  /** ... or this many envelope bytes. @default 1048576 */
  maxBatchBytes?: number
  /** Liveness report period (the transponder's own heartbeat to the station), ms. @default 1000 */
  reportIntervalMs?: number
  /** An agent not heard for this long is reported left, ms. @default 3000 */
  agentTimeoutMs?: number
  /** Every this many reports carry the full alive set. @default 10 */
  fullReportEvery?: number
  /** An uplink attempt is abandoned (and retried) after this long, ms. @default 2000 */
  uplinkTimeoutMs?: number
  /** First retry delay, ms (doubles per attempt, full jitter). @default 20 */
  backoffInitialMs?: number
  /** @default 1000 */
  backoffMaxMs?: number
  /** Envelopes waiting (pending or in flight) beyond which submit refuses TRANSPONDER_OVERLOADED. @default 20000 */
  maxPendingEnvelopes?: number
  /** A command not answered by its agent within this long is undeliverable, ms. @default 1500 */
  deliveryTimeoutMs?: number
  /** Drop a duplicate (same sender and id) of an envelope pending or in flight. @default true */
  dropDuplicates?: boolean
  /** A user policy applied to every envelope before it is batched. @default undefined (keep all) */
  filter?: EnvelopeFilter
}

export const TRANSPONDER_DEFAULTS = {
  windowMs: 20,
  maxBatchEnvelopes: 512,
  maxBatchBytes: 1_048_576,
  reportIntervalMs: 1000,
  agentTimeoutMs: 3000,
  fullReportEvery: 10,
  uplinkTimeoutMs: 2000,
  backoffInitialMs: 20,
  backoffMaxMs: 1000,
  maxPendingEnvelopes: 20_000,
  deliveryTimeoutMs: 1500,
  dropDuplicates: true
} as const

const OPTION_KEYS = ['id', 'uplink', 'downlink', 'clock', 'random', 'filter', ...Object.keys(TRANSPONDER_DEFAULTS)] as const

/** Test-only: the mutant that acknowledges an agent before the uplink did (the simulator must catch it). */
export const ackBeforeUplink = hiddenOption<{ on: boolean }>('transponder.ackBeforeUplink', { on: false })

export interface TransponderStats {
  readonly submitted: number
  readonly duplicatesDropped: number
  readonly filtered: number
  readonly batchesSent: number
  readonly uplinkRetries: number
  readonly commandsDelivered: number
  readonly commandsUndeliverable: number
  readonly aliveAgents: number
}

interface Waiter { resolve: (v: 'acknowledged' | 'filtered') => void, reject: (e: unknown) => void }

interface Pending {
  readonly key: string
  readonly bytes: Uint8Array
  readonly waiters: Waiter[]
}

type Numeric = { -readonly [K in keyof typeof TRANSPONDER_DEFAULTS]: (typeof TRANSPONDER_DEFAULTS)[K] extends boolean ? boolean : number }

/** 32 random bits as 8 hex digits. */
function randomHex (random: Random): string {
  return Math.floor(random.next() * 0x1_0000_0000).toString(16).padStart(8, '0')
}

export class Transponder {
  readonly id: string
  readonly #o: Numeric
  readonly #uplink: Uplink
  readonly #downlink: Downlink
  readonly #clock: Clock
  readonly #random: Random
  readonly #filter: EnvelopeFilter | undefined
  readonly #ackEarly: boolean
  readonly #life = new Lifecycle('transponder')

  // upward state
  #pending = new Map<string, Pending>()
  #pendingBytes = 0
  #inFlight = new Map<string, Pending>()
  #windowTimer: Timer | undefined
  #reportTimer: Timer | undefined
  #flushWanted = false
  #seq = 0
  #producer = ''
  #reports = 0
  #sending = false
  /** Aborts the in-flight attempt and any backoff when the transponder closes. */
  #closing = new AbortController()

  // liveness
  readonly #lastHeard = new Map<string, number>()
  readonly #alive = new Set<string>()
  #joined = new Set<string>()
  #left = new Set<string>()

  #stats = { submitted: 0, duplicatesDropped: 0, filtered: 0, batchesSent: 0, uplinkRetries: 0, commandsDelivered: 0, commandsUndeliverable: 0 }

  constructor (options: TransponderOptions) {
    checkObject(options, 'Transponder', '(options)')
    checkKnownKeys(options, 'Transponder', OPTION_KEYS)
    check(typeof options.id === 'string' && options.id.length > 0, 'Transponder', 'id', 'a non-empty string', options.id)
    checkFunction(options.uplink, 'Transponder', 'uplink')
    checkFunction(options.downlink, 'Transponder', 'downlink')
    checkFunction(options.filter, 'Transponder', 'filter', true)
    if (options.clock !== undefined) checkMethods(options.clock, 'Transponder', 'clock', 'a Clock', ['now', 'setTimeout', 'clearTimeout'])
    if (options.random !== undefined) checkMethods(options.random, 'Transponder', 'random', 'a Random', ['next'])
    const o = { ...TRANSPONDER_DEFAULTS } as Numeric
    for (const [k, def] of Object.entries(TRANSPONDER_DEFAULTS) as Array<[keyof Numeric, number | boolean]>) {
      const v = (options as unknown as Record<string, unknown>)[k]
      if (v === undefined) continue
      if (typeof def === 'boolean') checkBool(v, 'Transponder', k)
      else checkInt(v as number, 'Transponder', k, k === 'windowMs' ? 0 : 1)
      ;(o as Record<string, unknown>)[k] = v
    }
    this.id = options.id
    this.#o = o
    this.#uplink = options.uplink
    this.#downlink = options.downlink
    this.#clock = options.clock ?? systemClock
    this.#random = options.random ?? systemRandom
    this.#filter = options.filter
    this.#ackEarly = ackBeforeUplink.of(options).on
  }

  get status (): ComponentStatus { return this.#life.status }

  async open (options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#life.open(async () => {}, options.signal, () => {
      // Every concurrent delivery or submit listens on it: no leak, just many waiters.
      this.#closing = sharedAbortController()
      this.#producer = `${this.id}/${randomHex(this.#random)}${randomHex(this.#random)}`
      this.#seq = 0
      this.#armReport()
    })
  }

  /** Stops timers, abandons the in-flight uplink and rejects every pending submit with NODE_CLOSED. Idempotent. */
  async close (): Promise<void> {
    await this.#life.close(async () => {
      this.#closing.abort()
      if (this.#windowTimer !== undefined) this.#clock.clearTimeout(this.#windowTimer)
      if (this.#reportTimer !== undefined) this.#clock.clearTimeout(this.#reportTimer)
      this.#windowTimer = this.#reportTimer = undefined
      const err = new QuorateError('NODE_CLOSED', `Transponder ${this.id} closed before the uplink acknowledged`)
      for (const p of [...this.#pending.values(), ...this.#inFlight.values()]) for (const w of p.waiters) w.reject(err)
      this.#pending.clear(); this.#inFlight.clear(); this.#pendingBytes = 0
      this.#lastHeard.clear(); this.#alive.clear(); this.#joined.clear(); this.#left.clear()
    })
  }

  stats (): TransponderStats { return { ...this.#stats, aliveAgents: this.#alive.size } }

  /** An agent's heartbeat, from a downlink whose identity is `agent`. Cheap: a map write. */
  heartbeat (agent: string): void {
    if (!this.#life.isOpen) return
    this.#lastHeard.set(agent, this.#clock.now())
    if (!this.#alive.has(agent)) {
      this.#alive.add(agent)
      if (!this.#left.delete(agent)) this.#joined.add(agent)
      this.#armWindow()
    }
  }

  /**
   * Relays an agent's signed event envelope. `agent` is the downlink's authenticated identity
   * and must be the envelope's sender (TRANSPONDER_SENDER_MISMATCH). Resolves 'acknowledged'
   * once the station committed it, 'filtered' if the policy dropped it; rejects
   * TRANSPONDER_ENVELOPE_MALFORMED, TRANSPONDER_OVERLOADED, or NODE_CLOSED.
   */
  submit (agent: string, envelope: Uint8Array): Promise<'acknowledged' | 'filtered'> {
    try {
      this.#life.assertOpen()
      const e = peekEnvelope(envelope)
      if (e.sender !== agent) {
        throw new QuorateError('TRANSPONDER_SENDER_MISMATCH', `Transponder ${this.id}: agent "${agent}" sent an envelope signed by "${e.sender}"`, { details: { agent, sender: e.sender } })
      }
      this.heartbeat(agent)
      this.#stats.submitted++
      if (this.#filter !== undefined && !this.#filter(e)) { this.#stats.filtered++; return Promise.resolve('filtered') }
      const key = `${e.kind}\0${e.sender}\0${e.id}`
      if (this.#o.dropDuplicates) {
        const same = this.#pending.get(key) ?? this.#inFlight.get(key)
        if (same !== undefined) {
          this.#stats.duplicatesDropped++
          return new Promise((resolve, reject) => { same.waiters.push({ resolve, reject }) })
        }
      }
      if (this.#pending.size + this.#inFlight.size >= this.#o.maxPendingEnvelopes) {
        throw new QuorateError('TRANSPONDER_OVERLOADED', `Transponder ${this.id} holds ${this.#o.maxPendingEnvelopes} envelopes waiting for the uplink`)
      }
      // With dropDuplicates off a second copy needs its own slot: make its key unique.
      const slot = this.#pending.has(key) || this.#inFlight.has(key) ? `${key}\0${this.#stats.submitted}` : key
      const promise = new Promise<'acknowledged' | 'filtered'>((resolve, reject) => {
        this.#pending.set(slot, { key: slot, bytes: envelope, waiters: this.#ackEarly ? [] : [{ resolve, reject }] })
        if (this.#ackEarly) resolve('acknowledged')
      })
      this.#pendingBytes += envelope.byteLength
      if (this.#pending.size >= this.#o.maxBatchEnvelopes || this.#pendingBytes >= this.#o.maxBatchBytes) this.#flush()
      else this.#armWindow()
      return promise
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * Delivers a downward batch: each envelope to the agent it is addressed to (its signed
   * target), concurrently, each bounded by deliveryTimeoutMs (and `signal`). Never rejects
   * for one target's failure: that target's result says undeliverable.
   */
  async deliver (commands: readonly Uint8Array[], options: { signal?: AbortSignal } = {}): Promise<DeliveryResult[]> {
    this.#life.assertOpen()
    const batch = fanOutSignal(options.signal)
    try {
      return await Promise.all(commands.map(async (bytes) => await this.#deliverOne(bytes, batch.signal)))
    } finally { batch.release() }
  }

  async #deliverOne (bytes: Uint8Array, outer: AbortSignal | undefined): Promise<DeliveryResult> {
    let e: Envelope
    try { e = peekEnvelope(bytes) } catch (err) {
      this.#stats.commandsUndeliverable++
      return { target: '', id: '', ok: false, code: (err as QuorateError).code, message: (err as Error).message }
    }
    try {
      const reply = await boundedAttempt(this.#clock, this.#o.deliveryTimeoutMs, [outer, this.#closing.signal],
        () => new QuorateError('TRANSPONDER_UNDELIVERABLE', `No reply from ${e.target} within ${this.#o.deliveryTimeoutMs} ms`),
        async (signal) => await this.#downlink(e.target, bytes, { signal }))
      this.#stats.commandsDelivered++
      return { target: e.target, id: e.id, ok: true, reply }
    } catch (err) {
      this.#stats.commandsUndeliverable++
      const code = isQuorateError(err) ? err.code : 'TRANSPONDER_UNDELIVERABLE'
      return { target: e.target, id: e.id, ok: false, code, message: err instanceof Error ? err.message : String(err) }
    }
  }

  #armWindow (): void {
    if (this.#windowTimer !== undefined) return
    this.#windowTimer = this.#clock.setTimeout(() => { this.#windowTimer = undefined; this.#flush() }, this.#o.windowMs)
  }

  #armReport (): void {
    this.#reportTimer = this.#clock.setTimeout(() => {
      this.#reportTimer = undefined
      if (!this.#life.isOpen) return
      this.#expireAgents()
      this.#flush(true)
      this.#armReport()
    }, this.#o.reportIntervalMs)
  }

  #expireAgents (): void {
    const deadline = this.#clock.now() - this.#o.agentTimeoutMs
    for (const [agent, at] of this.#lastHeard) {
      if (at >= deadline) continue
      this.#lastHeard.delete(agent)
      if (this.#alive.delete(agent) && !this.#joined.delete(agent)) this.#left.add(agent)
    }
  }

  /** Sends the pending batch now (or as soon as the one in flight is acknowledged). `report`: send even if empty. */
  #flush (report = false): void {
    if (!this.#life.isOpen) return
    if (this.#sending) { this.#flushWanted = true; return }
    if (this.#windowTimer !== undefined) { this.#clock.clearTimeout(this.#windowTimer); this.#windowTimer = undefined }
    const full = report && this.#reports++ % this.#o.fullReportEvery === 0
    if (!report && this.#pending.size === 0 && this.#joined.size === 0 && this.#left.size === 0) return
    const batch: UplinkBatch = {
      transponder: this.id,
      producer: this.#producer,
      seq: ++this.#seq,
      joined: [...this.#joined],
      left: [...this.#left],
      alive: full ? [...this.#alive] : null,
      envelopes: [...this.#pending.values()].map((p) => p.bytes)
    }
    this.#joined = new Set(); this.#left = new Set()
    this.#inFlight = this.#pending
    this.#pending = new Map()
    this.#pendingBytes = 0
    this.#sending = true
    void this.#send(batch)
  }

  async #send (batch: UplinkBatch): Promise<void> {
    const closing = this.#closing.signal
    for (let attempt = 0; !closing.aborted; attempt++) {
      let sent = false
      try {
        await boundedAttempt(this.#clock, this.#o.uplinkTimeoutMs, [closing], () => new QuorateError('ABORTED', 'uplink attempt timed out'),
          async (signal) => { await this.#uplink(batch, { signal }) })
        sent = true
      } catch {
        // retried below with the same batch: the station dedupes events by id
      }
      if (sent) {
        this.#stats.batchesSent++
        this.#acknowledged()
        return
      }
      if (closing.aborted) return
      this.#stats.uplinkRetries++
      const ceiling = Math.min(this.#o.backoffMaxMs, this.#o.backoffInitialMs * 2 ** Math.min(attempt, 20))
      await new Promise<void>((resolve) => {
        const wake = (): void => { this.#clock.clearTimeout(t); closing.removeEventListener('abort', wake); resolve() }
        const t = this.#clock.setTimeout(wake, Math.floor(this.#random.next() * ceiling) + 1)
        closing.addEventListener('abort', wake, { once: true })
      })
    }
  }

  #acknowledged (): void {
    const done = this.#inFlight
    this.#inFlight = new Map()
    this.#sending = false
    for (const p of done.values()) for (const w of p.waiters) w.resolve('acknowledged')
    if (this.#flushWanted) {
      this.#flushWanted = false
      this.#flush()
    } else if (this.#pending.size > 0) {
      this.#armWindow()
    }
  }
}

/**
 * TupleSyncDriver: runs the sync protocol of a mirrored TupleStore over any byte channel.
 * Every `intervalMs` (on the injected Clock) it sends a request to each neighbour; it
 * answers requests and applies responses as they arrive. The protocol is idempotent and
 * pull-based, so the channel may lose, duplicate and reorder messages: the next round
 * repairs whatever a lost message left out.
 *
 * Messages are handled one at a time, in arrival order, so a burst cannot pile up
 * concurrent store operations.
 */
import { QuorateError } from '../errors.js'
import { systemClock, type Clock, type Timer } from '../util/clock.js'
import { check, checkInt } from '../util/validate.js'
import type { TupleStore } from './store.js'
import { decodeSyncMessage, encodeSyncMessage } from './sync-codec.js'

/** A way to exchange bytes with the other mirrors (a socket per peer, a queue, a bus). */
export interface SyncChannel {
  /** Queues bytes for mirror `to`. Must not throw for a network problem (drop instead). */
  send (to: number, bytes: Uint8Array): void
  /** Registers the one receiver of bytes from other mirrors. */
  onReceive (handler: (from: number, bytes: Uint8Array) => void): void
}

export interface TupleSyncDriverOptions {
  /** An open, mirrored store. */
  store: TupleStore
  channel: SyncChannel
  /** Mirrors to send requests to (the links of the topology); a subset of `mirrors`. */
  neighbours: readonly number[]
  /** @default DEFAULT_SYNC_INTERVAL_MS (1000) */
  intervalMs?: number
  /** @default systemClock */
  clock?: Clock
  /** Called with each failure to handle a message (it is then dropped). @default ignore */
  onError?: (err: unknown) => void
}

export const DEFAULT_SYNC_INTERVAL_MS = 1000

/** Requests sent and answered, responses and transactions applied, snapshots loaded, failures. */
export interface TupleSyncDriverStats {
  readonly requestsSent: number
  readonly requestsAnswered: number
  readonly responsesApplied: number
  readonly transactionsApplied: number
  readonly resyncs: number
  readonly errors: number
}

const KNOWN = new Set(['store', 'channel', 'neighbours', 'intervalMs', 'clock', 'onError'])

export class TupleSyncDriver {
  readonly #store: TupleStore
  readonly #channel: SyncChannel
  readonly #neighbours: readonly number[]
  readonly #interval: number
  readonly #clock: Clock
  readonly #onError: (err: unknown) => void
  #timer: Timer | null = null
  #queue: Promise<void> = Promise.resolve()
  readonly #stats: { -readonly [K in keyof TupleSyncDriverStats]: number } = { requestsSent: 0, requestsAnswered: 0, responsesApplied: 0, transactionsApplied: 0, resyncs: 0, errors: 0 }

  constructor (options: TupleSyncDriverOptions) {
    const C = 'TupleSyncDriver'
    check(typeof options === 'object' && options !== null, C, 'options', 'an object', options)
    for (const key of Object.keys(options)) check(KNOWN.has(key), C, key, 'a known option', key)
    check(typeof options.store?.syncRequest === 'function', C, 'store', 'a TupleStore', typeof options.store)
    check(typeof options.channel?.send === 'function' && typeof options.channel?.onReceive === 'function', C, 'channel', 'a SyncChannel', typeof options.channel)
    check(Array.isArray(options.neighbours), C, 'neighbours', 'an array of node numbers', options.neighbours)
    for (const n of options.neighbours) checkInt(n, C, 'neighbours', 0, 0xffffffff)
    this.#interval = options.intervalMs ?? DEFAULT_SYNC_INTERVAL_MS
    checkInt(this.#interval, C, 'intervalMs', 1)
    this.#clock = options.clock ?? systemClock
    check(typeof this.#clock.setTimeout === 'function', C, 'clock', 'a Clock', typeof this.#clock)
    this.#onError = options.onError ?? (() => {})
    check(typeof this.#onError === 'function', C, 'onError', 'a function', typeof this.#onError)
    this.#store = options.store
    this.#channel = options.channel
    this.#neighbours = [...options.neighbours]
    this.#channel.onReceive((from, bytes) => { this.#enqueue(from, bytes) })
  }

  get stats (): TupleSyncDriverStats { return { ...this.#stats } }

  get running (): boolean { return this.#timer !== null }

  /** Starts the periodic rounds (the first one at once). Idempotent. */
  start (): void {
    if (this.#timer !== null) return
    const round = (): void => {
      this.syncNow()
      this.#timer = this.#clock.setTimeout(round, this.#interval)
    }
    this.#timer = this.#clock.setTimeout(round, 0)
  }

  /** Stops the rounds; messages still arriving are handled. Idempotent. */
  stop (): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer)
    this.#timer = null
  }

  /** Sends a request to each neighbour (or just `to`) now. */
  syncNow (to?: number): void {
    if (this.#store.status !== 'open') return
    const bytes = encodeSyncMessage(this.#store.syncRequest())
    for (const n of to === undefined ? this.#neighbours : [to]) {
      this.#stats.requestsSent++
      this.#channel.send(n, bytes)
    }
  }

  /** Resolves once every message received so far has been handled. */
  async idle (): Promise<void> {
    await this.#queue
  }

  #enqueue (from: number, bytes: Uint8Array): void {
    this.#queue = this.#queue.then(async () => { await this.#handle(from, bytes) }).catch((err) => {
      this.#stats.errors++
      this.#onError(err)
    })
  }

  async #handle (from: number, bytes: Uint8Array): Promise<void> {
    if (this.#store.status !== 'open') return
    const m = decodeSyncMessage(bytes)
    if (m.from !== from) throw new QuorateError('TUPLE_INVALID', `A sync message from node ${from} claims to come from node ${m.from}`)
    if (m.type === 'sync-request') {
      const response = await this.#store.syncResponse(m)
      this.#stats.requestsAnswered++
      this.#channel.send(from, encodeSyncMessage(response))
    } else {
      const r = await this.#store.applySync(m)
      this.#stats.responsesApplied++
      this.#stats.transactionsApplied += r.applied
      if (r.resynced) this.#stats.resyncs++
    }
  }
}

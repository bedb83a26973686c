/**
 * Real sockets for the uplinks (uplink-wire.ts): `StationServer` puts a TrackingStation
 * behind a listener, one connection per transponder, and `SocketUplink` is a transponder's
 * `Uplink` over one connection to the station.
 *
 * Identity: with `tls` both ends require a certificate from the cluster CA (TLS 1.3); the
 * transponder is its certificate's quorate://node/<id>, and a batch naming another transponder
 * is refused (TRANSPONDER_SENDER_MISMATCH); the station's certificate must name `stationId`.
 * With `insecure: true` (tests, benches on one machine) the transponder is who its hello says.
 *
 * Durability: the station answers BATCH_ACK only after TrackingStation.receive resolved, i.e.
 * after every event in the batch is committed to the events queue; a retried batch (same
 * producer and seq, after a reconnect) is appended once (TrackingStation.receive).
 *
 * Flow control: a connection has at most `maxInFlight` batches being committed; beyond that
 * the station stops reading it (TCP backpressure reaches the transponder, whose own batch is
 * one at a time), and a client's sends wait for a free slot (abortable).
 *
 * Invariants: every send settles — acknowledged, refused with the station's code, or
 * rejected TRANSPONDER_UPLINK_UNAVAILABLE (connection failed or closed), ABORTED (its
 * signal) or NODE_CLOSED (close); a malformed frame is answered with an ERROR frame carrying
 * its code (WIRE_MALFORMED, WIRE_UNKNOWN_TYPE) and closes that one connection, never the
 * station. A dial after a failure waits a jittered exponential backoff.
 */
import type * as net from 'node:net'
import { ERROR_CODES, QuorateError, abortError, isQuorateError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import { abortable, sharedAbortController } from '../util/abort.js'
import type { TcpAddress, TcpTlsOptions } from '../transport/tcp.js'
import type { Clock } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import type { Random } from '../util/random.js'
import { systemRandom } from '../util/random.js'
import { Lifecycle } from '../util/lifecycle.js'
import type { ComponentStatus } from '../util/lifecycle.js'
import { check, checkInt, checkKnownKeys, checkMethods, checkObject } from '../util/validate.js'
import { FramedConnection, closeFramed, dialFramed, listenFramed, listeningAddress } from './framed-connection.js'
import type { FrameCodec } from './framed-connection.js'
import type { DeliveryResult, UplinkBatch } from './relay.js'
import { TrackingStation } from './station.js'
import { DEFAULT_UPLINK_MAX_FRAME_BYTES, decodeUplinkFrame, encodeUplinkFrame } from './uplink-wire.js'
import type { UplinkFrame } from './uplink-wire.js'

const UPLINK_CODEC: FrameCodec<UplinkFrame> = { encode: encodeUplinkFrame, decode: decodeUplinkFrame }

function unavailable (why: string): QuorateError {
  return new QuorateError('TRANSPONDER_UPLINK_UNAVAILABLE', `Uplink: ${why}`)
}

interface SecurityOptions { tls?: TcpTlsOptions, insecure?: boolean, maxFrameBytes?: number, maxInFlight?: number }

function checkSecurity (options: SecurityOptions, component: string): void {
  check((options.tls !== undefined) !== (options.insecure === true), component, 'tls', 'given (mutual TLS), or absent with insecure: true', options.tls === undefined ? undefined : '(tls material)')
  if (options.tls !== undefined) checkObject(options.tls, component, 'tls')
  if (options.maxFrameBytes !== undefined) checkInt(options.maxFrameBytes, component, 'maxFrameBytes', 64)
  if (options.maxInFlight !== undefined) checkInt(options.maxInFlight, component, 'maxInFlight', 1)
}

export const STATION_SERVER_DEFAULTS = { maxFrameBytes: DEFAULT_UPLINK_MAX_FRAME_BYTES, maxInFlight: 4 } as const

export interface StationServerOptions {
  /** Where transponders connect; port 0 picks a free port (see address()). */
  listen: TcpAddress
  /** The station the batches go to (opened and closed by its owner, not by the server). */
  station: TrackingStation
  /** Mutual TLS material of the station. Required unless insecure. */
  tls?: TcpTlsOptions
  /** Plain TCP, transponders named by their hello. @default false */
  insecure?: boolean
  /** @default 4 MiB */
  maxFrameBytes?: number
  /** Batches being committed per connection before the server stops reading it. @default 4 */
  maxInFlight?: number
}

export class StationServer {
  readonly #o: StationServerOptions
  readonly #sockets = new Set<net.Socket>()
  /** The current connection of each transponder (a reconnect replaces the older one). */
  readonly #byTransponder = new Map<string, FramedConnection<UplinkFrame>>()
  readonly #life = new Lifecycle('station server')
  #server: net.Server | undefined
  #stats = { connections: 0, malformed: 0, refusedBatches: 0 }

  constructor (options: StationServerOptions) {
    checkObject(options, 'StationServer', '(options)')
    checkKnownKeys(options, 'StationServer', ['listen', 'station', 'tls', 'insecure', 'maxFrameBytes', 'maxInFlight'])
    checkObject(options.listen, 'StationServer', 'listen')
    check(options.station instanceof TrackingStation, 'StationServer', 'station', 'a TrackingStation', options.station)
    checkSecurity(options, 'StationServer')
    this.#o = options
  }

  get status (): ComponentStatus { return this.#life.status }

  /** Transponder connections now, and counts of malformed connections and refused batches. */
  stats (): { connections: number, malformed: number, refusedBatches: number } { return { ...this.#stats, connections: this.#sockets.size } }

  address (): TcpAddress { return listeningAddress(this.#server, 'station server') }

  /**
   * The downward path through a connected transponder (RelayedCommandChannel's `transponder`
   * option): sends a DELIVER over its uplink connection and resolves with its per-target
   * results. Undefined if that transponder is not connected; a connection that closes first
   * rejects TRANSPONDER_UPLINK_UNAVAILABLE (the channel reports those commands unreachable).
   */
  readonly deliverVia = (transponder: string): ((commands: readonly Uint8Array[], options: { signal?: AbortSignal }) => Promise<DeliveryResult[]>) | undefined => {
    const conn = this.#byTransponder.get(transponder)
    if (conn === undefined || conn.closed) return undefined
    return async (commands, options) => {
      const answer = await conn.request((request) => ({ kind: 'deliver', request, commands }), options.signal)
      if (answer.kind !== 'delivered') throw unavailable(`unexpected ${answer.kind} frame`)
      return [...answer.results]
    }
  }

  async open (options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#life.open(async () => {
      this.#server = await listenFramed(this.#o.listen, this.#o.tls, (s, identity) => { this.#accept(s, identity) })
    }, options.signal)
  }

  async close (): Promise<void> {
    await this.#life.close(async () => { await closeFramed(this.#server, this.#sockets); this.#server = undefined })
  }

  #accept (socket: net.Socket, identity: string | null): void {
    this.#sockets.add(socket)
    const gone = new AbortController() // aborts this connection's commits when it closes
    socket.on('close', () => { this.#sockets.delete(socket); gone.abort(unavailable('the connection closed')) })
    const conn = new FramedConnection(socket, this.#o.maxFrameBytes ?? STATION_SERVER_DEFAULTS.maxFrameBytes, UPLINK_CODEC, unavailable)
    const maxInFlight = this.#o.maxInFlight ?? STATION_SERVER_DEFAULTS.maxInFlight
    let inFlight = 0
    let transponder = identity
    conn.onMalformed = (err) => {
      this.#stats.malformed++
      conn.write({ kind: 'error', code: err.code, message: err.message })
    }
    const bind = (id: string): void => {
      transponder = id
      this.#byTransponder.set(id, conn)
      conn.onClose = () => { if (this.#byTransponder.get(id) === conn) this.#byTransponder.delete(id) }
    }
    if (identity !== null) bind(identity)
    conn.onFrame = (frame) => {
      if (transponder === null) {
        if (frame.kind === 'hello' && frame.id.length > 0) bind(frame.id)
        else this.#refuseConnection(conn, 'the first frame must be a hello in insecure mode')
        return
      }
      if (frame.kind === 'delivered') { conn.answer(frame.request, frame); return }
      if (frame.kind !== 'batch') { this.#refuseConnection(conn, `a transponder sends batches, not ${frame.kind}`); return }
      const id = transponder
      if (frame.batch.transponder !== id) {
        this.#stats.refusedBatches++
        conn.write({ kind: 'batch-ack', request: frame.request, ok: false, code: 'TRANSPONDER_SENDER_MISMATCH', message: `connection of "${id}" sent a batch of "${frame.batch.transponder}"` })
        return
      }
      if (++inFlight >= maxInFlight) socket.pause()
      this.#commit(frame.batch, gone.signal).then((answer) => {
        conn.write({ kind: 'batch-ack', request: frame.request, ...answer })
        if (inFlight-- >= maxInFlight) socket.resume()
      }, () => {})
    }
  }

  /** Commits a batch; answers what goes into its BATCH_ACK (never rejects). */
  async #commit (batch: UplinkBatch, signal: AbortSignal): Promise<{ ok: boolean, code: string, message: string }> {
    try {
      await this.#o.station.receive(batch, { signal })
      return { ok: true, code: '', message: '' }
    } catch (err) {
      this.#stats.refusedBatches++
      return { ok: false, code: isQuorateError(err) ? err.code : 'TRANSPONDER_UPLINK_UNAVAILABLE', message: err instanceof Error ? err.message : String(err) }
    }
  }

  #refuseConnection (conn: FramedConnection<UplinkFrame>, why: string): void {
    this.#stats.malformed++
    conn.write({ kind: 'error', code: 'WIRE_UNKNOWN_TYPE', message: `Station: ${why}` })
    conn.socket.end()
    conn.socket.destroySoon()
  }
}

export const SOCKET_UPLINK_DEFAULTS = { maxFrameBytes: DEFAULT_UPLINK_MAX_FRAME_BYTES, maxInFlight: 4, backoffInitialMs: 50, backoffMaxMs: 2000 } as const

export interface SocketUplinkOptions {
  /** The transponder's id (its hello in insecure mode; TLS names it by certificate otherwise). */
  id: string
  /** The station's address. */
  station: TcpAddress
  /** The identity the station's certificate must carry. @default 'station' */
  stationId?: string
  /** The transponder's mutual TLS material. Required unless insecure. */
  tls?: TcpTlsOptions
  /** @default false */
  insecure?: boolean
  /** @default 4 MiB */
  maxFrameBytes?: number
  /** Batches awaiting their acknowledgement at once; further sends wait. @default 4 */
  maxInFlight?: number
  /** First delay before re-dialing after a failed connection, ms (doubles, full jitter). @default 50 */
  backoffInitialMs?: number
  /** @default 2000 */
  backoffMaxMs?: number
  /** @default systemClock */
  clock?: Clock
  /** @default systemRandom */
  random?: Random
}

/** A transponder's uplink over one socket: pass `uplink` as the Transponder's `uplink` option. */
export class SocketUplink {
  readonly #o: SocketUplinkOptions
  readonly #clock: Clock
  readonly #random: Random
  readonly #life = new Lifecycle('socket uplink')
  readonly #limits: { maxFrameBytes: number, maxInFlight: number, backoffInitialMs: number, backoffMaxMs: number }
  #conn: FramedConnection<UplinkFrame> | undefined
  #connecting: Promise<FramedConnection<UplinkFrame>> | undefined
  #failures = 0
  #retryAt = 0
  #inFlight = 0
  readonly #slotWaiters: Array<() => void> = []
  /** Aborted by close(): every wait (slot, backoff, dial, answer) listens on it. */
  #closing = new AbortController()
  #stats = { batches: 0, dials: 0, failedDials: 0 }
  #deliver: (commands: readonly Uint8Array[]) => Promise<DeliveryResult[]> = async (commands) => undeliverableAll(commands, 'this uplink serves no downward path')

  /** The Transponder's `uplink` option. */
  readonly uplink = async (batch: UplinkBatch, options: { signal: AbortSignal }): Promise<void> => { await this.send(batch, options) }

  constructor (options: SocketUplinkOptions) {
    const C = 'SocketUplink'
    checkObject(options, C, '(options)')
    checkKnownKeys(options, C, ['id', 'station', 'stationId', 'tls', 'insecure', 'clock', 'random', ...Object.keys(SOCKET_UPLINK_DEFAULTS)])
    check(typeof options.id === 'string' && options.id.length > 0, C, 'id', 'a non-empty string', options.id)
    checkObject(options.station, C, 'station')
    check(options.stationId === undefined || (typeof options.stationId === 'string' && options.stationId.length > 0), C, 'stationId', 'a non-empty string', options.stationId)
    checkSecurity(options, C)
    for (const k of ['backoffInitialMs', 'backoffMaxMs'] as const) if (options[k] !== undefined) checkInt(options[k], C, k, 1)
    if (options.clock !== undefined) checkMethods(options.clock, C, 'clock', 'a Clock', ['now', 'setTimeout', 'clearTimeout'])
    if (options.random !== undefined) checkMethods(options.random, C, 'random', 'a Random', ['next'])
    this.#o = options
    this.#clock = options.clock ?? systemClock
    this.#random = options.random ?? systemRandom
    this.#limits = { ...SOCKET_UPLINK_DEFAULTS }
    for (const k of Object.keys(SOCKET_UPLINK_DEFAULTS) as Array<keyof typeof SOCKET_UPLINK_DEFAULTS>) if (options[k] !== undefined) this.#limits[k] = options[k]
  }

  get status (): ComponentStatus { return this.#life.status }

  /** Installs the handler for the station's downward batches (the relay's Transponder.deliver). */
  serve (deliver: (commands: readonly Uint8Array[]) => Promise<DeliveryResult[]>): void { this.#deliver = deliver }

  /** Whether a connection to the station is up now. */
  get connected (): boolean { return this.#conn !== undefined && !this.#conn.closed }

  stats (): { batches: number, dials: number, failedDials: number } { return { ...this.#stats } }

  async open (options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#life.open(async () => {}, options.signal, () => {
      this.#closing = sharedAbortController() // every concurrent send listens on it
    })
  }

  /** Closes the connection; every send still waiting rejects (NODE_CLOSED). Idempotent. */
  async close (): Promise<void> {
    await this.#life.close(async () => {
      this.#closing.abort(new QuorateError('NODE_CLOSED', `The uplink of ${this.#o.id} closed`))
      this.#conn?.destroy()
      this.#conn = undefined
      for (const wake of this.#slotWaiters.splice(0)) wake()
    })
  }

  /**
   * Sends one batch and resolves once the station acknowledged it (its events committed).
   * Rejects with the station's refusal code, TRANSPONDER_UPLINK_UNAVAILABLE, ABORTED or
   * NODE_CLOSED; the caller (the Transponder) retries the same batch.
   */
  async send (batch: UplinkBatch, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#life.assertOpen()
    const signal = options.signal === undefined ? this.#closing.signal : AbortSignal.any([options.signal, this.#closing.signal])
    await this.#slot(signal)
    try {
      const conn = await this.#connection(signal)
      const answer = await conn.request((request) => ({ kind: 'batch', request, batch }), signal)
      if (answer.kind !== 'batch-ack') throw unavailable(`unexpected ${answer.kind} frame`)
      if (!answer.ok) throw new QuorateError(knownCode(answer.code, 'TRANSPONDER_UPLINK_UNAVAILABLE'), `Station refused batch ${batch.seq} of ${batch.transponder}: ${answer.message}`, { details: { code: answer.code } })
      this.#stats.batches++
    } finally {
      this.#inFlight--
      this.#slotWaiters.shift()?.()
    }
  }

  async #slot (signal: AbortSignal): Promise<void> {
    while (this.#inFlight >= this.#limits.maxInFlight) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { const i = this.#slotWaiters.indexOf(wake); if (i >= 0) this.#slotWaiters.splice(i, 1); reject(reasonOf(signal)) }
        const wake = (): void => { signal.removeEventListener('abort', onAbort); resolve() }
        if (signal.aborted) { reject(reasonOf(signal)); return }
        signal.addEventListener('abort', onAbort, { once: true })
        this.#slotWaiters.push(wake)
      })
    }
    this.#inFlight++
  }

  /** The open connection, dialing (after the backoff a failure set) if there is none. */
  async #connection (signal: AbortSignal): Promise<FramedConnection<UplinkFrame>> {
    if (this.#conn !== undefined && !this.#conn.closed) return this.#conn
    this.#connecting ??= this.#dial().finally(() => { this.#connecting = undefined })
    return await raceSignal(this.#connecting, signal)
  }

  async #dial (): Promise<FramedConnection<UplinkFrame>> {
    const wait = this.#retryAt - this.#clock.now()
    if (wait > 0) await sleep(this.#clock, wait, this.#closing.signal)
    this.#stats.dials++
    const socket = dialFramed(this.#o.station, this.#o.tls, this.#o.stationId ?? 'station')
    const conn = new FramedConnection(socket, this.#limits.maxFrameBytes, UPLINK_CODEC, unavailable)
    conn.onFrame = (frame) => {
      if (frame.kind === 'batch-ack') conn.answer(frame.request, frame)
      else if (frame.kind === 'deliver') {
        this.#deliver(frame.commands).then((results) => { conn.write({ kind: 'delivered', request: frame.request, results }) }, (err: unknown) => {
          conn.write({ kind: 'delivered', request: frame.request, results: undeliverableAll(frame.commands, String(err)) })
        })
      }
      else if (frame.kind === 'error') conn.fail(new QuorateError(knownCode(frame.code, 'WIRE_MALFORMED'), `Station closed the uplink: ${frame.message}`))
      else conn.destroy()
    }
    try {
      await new Promise<void>((resolve, reject) => {
        const closing = this.#closing.signal
        const onAbort = (): void => { socket.destroy(); reject(reasonOf(closing)) }
        closing.addEventListener('abort', onAbort, { once: true })
        socket.once(this.#o.tls === undefined ? 'connect' : 'secureConnect', () => { closing.removeEventListener('abort', onAbort); resolve() })
        socket.once('close', () => { closing.removeEventListener('abort', onAbort); reject(unavailable(`cannot reach the station at ${this.#o.station.host}:${this.#o.station.port}`)) })
      })
    } catch (err) {
      this.#stats.failedDials++
      const ceiling = Math.min(this.#limits.backoffMaxMs, this.#limits.backoffInitialMs * 2 ** Math.min(this.#failures++, 20))
      this.#retryAt = this.#clock.now() + Math.floor(this.#random.next() * ceiling) + 1
      throw err
    }
    this.#failures = 0
    if (this.#o.insecure === true) conn.write({ kind: 'hello', id: this.#o.id })
    conn.onClose = () => { if (this.#conn === conn) this.#conn = undefined }
    this.#conn = conn
    return conn
  }
}

/** A code received from the peer, if it is one of ours (else `fallback`: a peer cannot invent codes). */
function knownCode (code: string, fallback: ErrorCode): ErrorCode {
  return Object.hasOwn(ERROR_CODES, code) ? code as ErrorCode : fallback
}

/** Why `signal` fired: its reason if that is a QuorateError (NODE_CLOSED, a timeout's ABORTED), else ABORTED. */
function reasonOf (signal: AbortSignal): QuorateError {
  return isQuorateError(signal.reason) ? signal.reason : abortError(signal)
}

/** `promise`, or its signal's reason first. */
async function raceSignal<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return await abortable<T>(signal, (resolve, reject) => { promise.then(resolve, reject) }).catch((err: unknown) => {
    throw signal.aborted ? reasonOf(signal) : err
  })
}

async function sleep (clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  await abortable<void>(signal, (resolve) => {
    const t = clock.setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clock.clearTimeout(t) }, { once: true })
  }).catch(() => { throw reasonOf(signal) })
}

/** One undeliverable result per command (the relay could not take the batch at all). */
function undeliverableAll (commands: readonly Uint8Array[], message: string): DeliveryResult[] {
  return commands.map(() => ({ target: '', id: '', ok: false as const, code: 'TRANSPONDER_UNDELIVERABLE', message }))
}

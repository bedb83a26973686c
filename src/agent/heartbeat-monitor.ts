/**
 * The node monitor: heartbeats between node agents over TCP (mutual TLS by default, the
 * sender's identity taken from its certificate; plain TCP only with `insecure: true`), fed
 * into the pure FailureDetector, whose verdicts are reported as 'node-suspect', 'node-dead'
 * and 'node-alive' events. A 'node-dead' event's queue id is `node-dead:<node>:<incarnation>`,
 * the same on every observer, so the queue holds one event per death however many observers
 * confirm it.
 *
 * Each node keeps one outgoing connection per peer and writes a heartbeat line on it every
 * heartbeatIntervalMs; a refused connect (ECONNREFUSED: the peer's process is gone, its
 * machine answers) is evidence for the detector. The detector ticks every tickMs on the same
 * event loop as everything else in the process, so a starved process sees its own ticks late
 * and accuses nobody.
 */
import type * as net from 'node:net'
import type { Clock } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import { Lifecycle } from '../util/lifecycle.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import type { TcpTlsOptions } from '../transport/tcp-options.js'
import { FAILURE_DETECTOR_DEFAULTS, FailureDetector } from './failure-detector.js'
import type { FailureDetectorOptions, Heartbeat, PeerStatus, Transition } from './failure-detector.js'
import { checkReportingOptions, EVENT_FLUSH_MS, EventReporter, REPORTING_KEYS } from './event-reporter.js'
import type { ReportingOptions } from './event-reporter.js'
import type { HaEvent } from './protocol.js'
import { checkTlsChoice, dialNode, listenServer, peerIdentity } from './agent-sockets.js'
import { LineFrames, parseJson } from './line-frames.js'

export interface HeartbeatMonitorOptions extends ReportingOptions {
  /** This node's id. */
  readonly self: string
  /** Every other node's heartbeat address. */
  readonly peers: Readonly<Record<string, { readonly host: string, readonly port: number }>>
  /** Where this node accepts heartbeats; port 0 picks a free one (see address()). */
  readonly listen: { readonly host?: string, readonly port: number }
  /** Mutual TLS material; required unless `insecure`. */
  readonly tls?: TcpTlsOptions
  /** Plain TCP: a heartbeat's sender is who it says it is. Must be explicit. @default false */
  readonly insecure?: boolean
  /** The detector's tuning (failure-detector.ts documents each default). */
  readonly detector?: Omit<FailureDetectorOptions, 'self' | 'peers'>
  /** Longest heartbeat line accepted, bytes. @default 65536 */
  readonly maxFrameBytes?: number
}

const KEYS = ['self', 'peers', 'listen', 'tls', 'insecure', 'detector', 'maxFrameBytes', ...REPORTING_KEYS] as const
const EVENT_OF: Record<PeerStatus, 'node-suspect' | 'node-dead' | 'node-alive'> = { suspect: 'node-suspect', dead: 'node-dead', alive: 'node-alive' }

interface Outgoing { socket: net.Socket | undefined, connected: boolean }

export class HeartbeatMonitor {
  readonly self: string
  readonly #o: HeartbeatMonitorOptions
  readonly #clock: Clock
  readonly #life = new Lifecycle('heartbeat monitor')
  readonly #reporter: EventReporter
  #detector: FailureDetector | undefined
  #server: net.Server | undefined
  readonly #incoming = new Set<net.Socket>()
  readonly #outgoing = new Map<string, Outgoing>()
  readonly #timers = new Set<ReturnType<Clock['setTimeout']>>()

  constructor (options: HeartbeatMonitorOptions) {
    checkObject(options, 'HeartbeatMonitor', '(options)')
    checkKnownKeys(options, 'HeartbeatMonitor', KEYS)
    check(typeof options.self === 'string' && options.self.length > 0, 'HeartbeatMonitor', 'self', 'a non-empty string', options.self)
    checkObject(options.peers, 'HeartbeatMonitor', 'peers')
    for (const [id, a] of Object.entries(options.peers)) {
      check(id !== options.self && typeof a === 'object' && a !== null && typeof a.host === 'string' && Number.isSafeInteger(a.port) && a.port > 0 && a.port < 65536, 'HeartbeatMonitor', `peers.${id}`, '{ host, port } of a node other than self', a)
    }
    checkObject(options.listen, 'HeartbeatMonitor', 'listen')
    checkInt(options.listen.port, 'HeartbeatMonitor', 'listen.port', 0, 65535)
    checkTlsChoice('HeartbeatMonitor', options.tls, options.insecure)
    checkReportingOptions(options, 'HeartbeatMonitor')
    if (options.maxFrameBytes !== undefined) checkInt(options.maxFrameBytes, 'HeartbeatMonitor', 'maxFrameBytes', 1)
    this.#o = options
    this.self = options.self
    this.#clock = options.clock ?? systemClock
    // Validates the detector options now rather than at open().
    void new FailureDetector({ ...options.detector, self: options.self, peers: Object.keys(options.peers) }, 0)
    this.#reporter = new EventReporter({ ...options, clock: this.#clock, flushMs: options.eventFlushMs ?? EVENT_FLUSH_MS, owner: `heartbeat monitor ${options.self}` })
  }

  address (): { host: string, port: number } {
    this.#life.assertOpen()
    const a = this.#server!.address() as net.AddressInfo
    return { host: a.address, port: a.port }
  }

  /** The detector's current verdict on `peer`. */
  status (peer: string): PeerStatus | undefined { return this.#detector?.status(peer) }

  /** A coordinator failover happened: no deaths for the detector's failoverGraceMs. */
  failover (): void { this.#detector?.failover(this.#clock.now()) }

  async open (signal?: AbortSignal): Promise<void> {
    await this.#life.open(async () => {
      this.#detector = new FailureDetector({ ...this.#o.detector, self: this.self, peers: Object.keys(this.#o.peers) }, this.#clock.now())
      this.#reporter.reset()
      this.#server = await listenServer(this.#o.listen, this.#o.tls, 5000, (socket) => { this.#accept(socket) })
    }, signal, () => {
      const d = { ...FAILURE_DETECTOR_DEFAULTS, ...this.#o.detector }
      this.#every(d.heartbeatIntervalMs, () => { this.#sendHeartbeats() })
      this.#every(d.tickMs, () => { this.#report(this.#detector!.tick(this.#clock.now())) })
    })
  }

  async close (): Promise<void> {
    await this.#life.close(async () => {
      for (const t of this.#timers) this.#clock.clearTimeout(t)
      this.#timers.clear()
      for (const o of this.#outgoing.values()) o.socket?.destroy()
      this.#outgoing.clear()
      for (const s of this.#incoming) s.destroy()
      this.#incoming.clear()
      const server = this.#server
      this.#server = undefined
      if (server !== undefined) await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
      await this.#reporter.flush()
    })
  }

  #every (ms: number, fn: () => void): void {
    const timer = this.#clock.setTimeout(() => {
      this.#timers.delete(timer)
      if (!this.#life.isOpen) return
      fn()
      this.#every(ms, fn)
    }, ms)
    this.#timers.add(timer)
  }

  #report (transitions: readonly Transition[]): void {
    for (const t of transitions) {
      const event: HaEvent = { type: EVENT_OF[t.status], node: t.node, observer: this.self, at: (this.#o.now ?? Date.now)() }
      if (t.status === 'dead') this.#reporter.report(event, `node-dead:${t.node}:${t.incarnation}`)
      else this.#reporter.report(event)
    }
  }

  #sendHeartbeats (): void {
    const line = JSON.stringify(this.#detector!.heartbeat(this.#clock.now())) + '\n'
    for (const peer of Object.keys(this.#o.peers)) {
      const out = this.#outgoing.get(peer)
      if (out?.connected === true) out.socket!.write(line)
      else if (out === undefined) this.#dial(peer)
    }
  }

  #dial (peer: string): void {
    const out: Outgoing = { socket: undefined, connected: false }
    const socket = dialNode(this.#o.peers[peer]!, peer, this.#o.tls, () => { out.connected = true })
    out.socket = socket
    this.#outgoing.set(peer, out)
    socket.setNoDelay(true)
    socket.on('data', () => {}) // heartbeats flow one way on a connection
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' && this.#life.isOpen) this.#detector!.refused(peer, this.#clock.now())
    })
    socket.once('close', () => { if (this.#outgoing.get(peer) === out) this.#outgoing.delete(peer) })
  }

  #accept (socket: net.Socket): void {
    this.#incoming.add(socket)
    socket.on('error', () => {})
    socket.once('close', () => { this.#incoming.delete(socket) })
    const identity = peerIdentity(socket, this.#o.tls !== undefined)
    const frames = new LineFrames(this.#o.maxFrameBytes ?? 65_536)
    socket.on('data', (chunk: Buffer) => {
      const ok = frames.push(chunk, (line) => {
        const hb = heartbeatOf(parseJson(line))
        // A heartbeat from an unknown node, or (with TLS) for another node than the certificate's, is ignored.
        if (hb === undefined || !Object.hasOwn(this.#o.peers, hb.from) || (identity !== undefined && identity !== hb.from) || !this.#life.isOpen) return
        const t = this.#detector!.receive(hb, this.#clock.now())
        if (t !== undefined) this.#report([t])
      })
      if (!ok) socket.destroy()
    })
  }
}

/** The value as a Heartbeat, or undefined if it is not one. */
export function heartbeatOf (v: unknown): Heartbeat | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const h = v as Record<string, unknown>
  const strings = (x: unknown): boolean => Array.isArray(x) && x.length <= 1024 && x.every((s) => typeof s === 'string')
  if (typeof h.from !== 'string' || !Number.isSafeInteger(h.incarnation) || !strings(h.suspects) || !strings(h.refused)) return undefined
  return { from: h.from, incarnation: h.incarnation as number, suspects: h.suspects as string[], refused: h.refused as string[] }
}

/**
 * Real sockets for the downlinks (wire.ts): `TransponderServer` runs a Transponder behind a
 * TLS listener, one connection per agent, and `SocketAgentLinks` is the agent's AgentLinks
 * over one connection per transponder it uses.
 *
 * Identity: with `tls`, the agent is its certificate's quorate://node/<id> (both sides
 * require a certificate from the cluster CA, TLS 1.3), and the relay refuses any envelope it
 * did not sign itself (TRANSPONDER_SENDER_MISMATCH); with `insecure: true` (tests, benches on
 * one machine) the agent is who its hello says. Either way the station and the agents verify
 * the envelopes' signatures, so the hop's authentication never replaces end-to-end checks.
 *
 * Liveness: the transponder answers every heartbeat, and an agent's connection that has heard
 * nothing for staleAfterMs after a heartbeat counts as dead, so an agent re-homes away from a
 * transponder that hangs with its sockets open, not only from one whose sockets were reset.
 *
 * Invariants: every request on a connection settles — with its answer, or rejected
 * (TRANSPONDER_UNDELIVERABLE) when the connection closes or the caller's signal fires; a
 * malformed frame closes that one connection, never the process.
 */
import * as net from 'node:net'
import * as tls from 'node:tls'
import { QuorateError, isQuorateError } from '../errors.js'
import { FrameDecoder } from '../transport/framing.js'
import { certificateIdentity } from '../transport/tcp.js'
import type { TcpAddress, TcpTlsOptions } from '../transport/tcp.js'
import { Lifecycle } from '../util/lifecycle.js'
import type { ComponentStatus } from '../util/lifecycle.js'
import { check, checkInt, checkKnownKeys, checkMethods, checkObject } from '../util/validate.js'
import type { Clock } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import type { AgentLinks } from './agent-client.js'
import { Transponder } from './relay.js'
import type { TransponderOptions } from './relay.js'
import { decodeDownlinkFrame, encodeDownlinkFrame } from './wire.js'
import type { DownlinkFrame } from './wire.js'

/** @default 1 MiB + 1 KiB: an envelope of the events queue's largest payload plus its header. */
export const DEFAULT_DOWNLINK_MAX_FRAME_BYTES = 1024 * 1024 + 1024

interface Waiting { resolve: (frame: DownlinkFrame) => void, reject: (err: unknown) => void }

/** One framed connection: decodes frames, matches answers to requests, rejects all on close. */
class FramedConnection {
  readonly socket: net.Socket
  readonly #decoder: FrameDecoder
  readonly #waiting = new Map<number, Waiting>()
  #nextRequest = 1
  closed = false
  /** When the oldest heartbeat not followed by any frame from the peer was sent, or -1. */
  unansweredSince = -1
  onFrame: (frame: DownlinkFrame) => void = () => {}
  onClose: () => void = () => {}

  constructor (socket: net.Socket, maxFrameBytes: number) {
    this.socket = socket
    this.#decoder = new FrameDecoder(maxFrameBytes)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => { this.#data(chunk) })
    socket.on('error', () => {}) // 'close' follows and settles everything
    socket.on('close', () => { this.#closed() })
  }

  write (frame: DownlinkFrame): void {
    if (!this.closed) this.socket.write(encodeDownlinkFrame(frame))
  }

  /** Sends a request frame built around a fresh request number; resolves with the matching answer. */
  request (build: (request: number) => DownlinkFrame, signal: AbortSignal | undefined): Promise<DownlinkFrame> {
    if (this.closed) return Promise.reject(undeliverable('the connection is closed'))
    const request = this.#nextRequest
    this.#nextRequest = this.#nextRequest >= 0xfffffffe ? 1 : this.#nextRequest + 1
    return new Promise((resolve, reject) => {
      const onAbort = (): void => { this.#waiting.delete(request); reject(signal!.reason ?? undeliverable('aborted')) }
      if (signal?.aborted === true) { onAbort(); return }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiting.set(request, {
        resolve: (f) => { signal?.removeEventListener('abort', onAbort); resolve(f) },
        reject: (e) => { signal?.removeEventListener('abort', onAbort); reject(e) }
      })
      this.write(build(request))
    })
  }

  /** Settles a request with its answer (unknown request numbers are late answers: ignored). */
  answer (request: number, frame: DownlinkFrame): void {
    const w = this.#waiting.get(request)
    if (w === undefined) return
    this.#waiting.delete(request)
    w.resolve(frame)
  }

  destroy (): void { this.socket.destroy() }

  #data (chunk: Buffer): void {
    try {
      this.#decoder.push(chunk)
      for (let body = this.#decoder.next(); body !== null; body = this.#decoder.next()) {
        this.unansweredSince = -1
        this.onFrame(decodeDownlinkFrame(body))
      }
    } catch (err) {
      if (!isQuorateError(err)) throw err
      this.destroy() // a malformed peer loses its connection, nothing else
    }
  }

  #closed (): void {
    if (this.closed) return
    this.closed = true
    const err = undeliverable('the connection closed')
    for (const w of this.#waiting.values()) w.reject(err)
    this.#waiting.clear()
    this.onClose()
  }
}

function undeliverable (why: string): QuorateError {
  return new QuorateError('TRANSPONDER_UNDELIVERABLE', `Downlink: ${why}`)
}

interface SecurityOptions { tls?: TcpTlsOptions, insecure?: boolean, maxFrameBytes?: number }

function checkSecurity (options: SecurityOptions, component: string): void {
  check((options.tls !== undefined) !== (options.insecure === true), component, 'tls', 'given (mutual TLS), or absent with insecure: true', options.tls === undefined ? undefined : '(tls material)')
  if (options.tls !== undefined) checkObject(options.tls, component, 'tls')
  if (options.maxFrameBytes !== undefined) checkInt(options.maxFrameBytes, component, 'maxFrameBytes', 64)
}

export interface TransponderServerOptions {
  /** Where agents connect; port 0 picks a free port (see address()). */
  listen: TcpAddress
  /** Mutual TLS material of this transponder (agents' certificates must chain to `ca`). Required unless insecure. */
  tls?: TcpTlsOptions
  /** Plain TCP, agents named by their hello. @default false */
  insecure?: boolean
  /** @default DEFAULT_DOWNLINK_MAX_FRAME_BYTES */
  maxFrameBytes?: number
  /** The relay's options; its downlink is this server's connections. */
  transponder: Omit<TransponderOptions, 'downlink'>
}

export class TransponderServer {
  readonly transponder: Transponder
  readonly #o: TransponderServerOptions
  readonly #agents = new Map<string, FramedConnection>()
  readonly #sockets = new Set<net.Socket>()
  readonly #life = new Lifecycle('transponder server')
  #server: net.Server | undefined

  constructor (options: TransponderServerOptions) {
    checkObject(options, 'TransponderServer', '(options)')
    checkKnownKeys(options, 'TransponderServer', ['listen', 'tls', 'insecure', 'maxFrameBytes', 'transponder'])
    checkObject(options.listen, 'TransponderServer', 'listen')
    checkSecurity(options, 'TransponderServer')
    checkObject(options.transponder, 'TransponderServer', 'transponder')
    this.#o = options
    this.transponder = new Transponder({ ...options.transponder, downlink: async (agent, bytes, { signal }) => await this.#command(agent, bytes, signal) })
  }

  get status (): ComponentStatus { return this.#life.status }

  /** Agents connected now. */
  get connections (): number { return this.#agents.size }

  address (): TcpAddress {
    const a = this.#server?.address()
    if (a === null || a === undefined || typeof a === 'string') throw new QuorateError('NODE_NOT_OPEN', 'The transponder server is not listening')
    return { host: a.address, port: a.port }
  }

  async open (options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#life.open(async () => {
      await this.transponder.open(options)
      const max = this.#o.maxFrameBytes ?? DEFAULT_DOWNLINK_MAX_FRAME_BYTES
      const server = this.#o.tls === undefined
        ? net.createServer((s) => { this.#accept(s, null, max) })
        : tls.createServer({
          key: this.#o.tls.key, cert: this.#o.tls.cert, ca: this.#o.tls.ca as tls.SecureContextOptions['ca'], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3'
        }, (s) => { this.#accept(s, certificateIdentity(s.getPeerCertificate()), max) })
      server.on('error', () => {})
      if (server instanceof tls.Server) server.on('tlsClientError', () => {})
      server.maxConnections = 1_000_000
      this.#server = server
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(this.#o.listen.port, this.#o.listen.host, () => { server.off('error', reject); resolve() })
      })
    }, options.signal)
  }

  async close (): Promise<void> {
    await this.#life.close(async () => {
      const server = this.#server
      this.#server = undefined
      for (const s of this.#sockets) s.destroy()
      if (server !== undefined) await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
      await this.transponder.close()
    })
  }

  #accept (socket: net.Socket, identity: string | null, max: number): void {
    if (this.#o.tls !== undefined && identity === null) { socket.destroy(); return }
    this.#sockets.add(socket)
    socket.on('close', () => { this.#sockets.delete(socket) })
    const conn = new FramedConnection(socket, max)
    let agent = identity
    const bind = (id: string): void => {
      agent = id
      this.#agents.get(id)?.destroy() // a reconnect replaces the older connection
      this.#agents.set(id, conn)
    }
    if (agent !== null) bind(agent)
    conn.onClose = () => { if (agent !== null && this.#agents.get(agent) === conn) this.#agents.delete(agent) }
    conn.onFrame = (frame) => {
      if (agent === null) {
        if (frame.kind === 'hello' && frame.id.length > 0) bind(frame.id)
        else conn.destroy()
        return
      }
      const id = agent
      switch (frame.kind) {
        case 'heartbeat': this.transponder.heartbeat(id); conn.write({ kind: 'heartbeat' }); break
        case 'submit':
          this.transponder.submit(id, frame.envelope).then(
            (status) => { conn.write({ kind: 'submit-result', request: frame.request, status, code: '' }) },
            (err: unknown) => { conn.write({ kind: 'submit-result', request: frame.request, status: 'refused', code: isQuorateError(err) ? err.code : 'TRANSPONDER_UNDELIVERABLE' }) })
          break
        case 'command-result': conn.answer(frame.request, frame); break
        default: conn.destroy() // an agent sends nothing else
      }
    }
  }

  async #command (agent: string, bytes: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    const conn = this.#agents.get(agent)
    if (conn === undefined) throw undeliverable(`agent "${agent}" is not connected`)
    const answer = await conn.request((request) => ({ kind: 'command', request, envelope: bytes }), signal)
    if (answer.kind !== 'command-result') throw undeliverable('unexpected answer')
    if (!answer.ok) throw new QuorateError('TRANSPONDER_UNDELIVERABLE', `Agent "${agent}" refused the command (${answer.code})`, { details: { code: answer.code } })
    return answer.reply
  }
}

export interface SocketAgentLinksOptions {
  /** The agent's id (sent in the hello in insecure mode; TLS names it by certificate otherwise). */
  id: string
  /** Address of every transponder the agent may use. */
  transponders: Readonly<Record<string, TcpAddress>>
  /** The agent's mutual TLS material. Required unless insecure. */
  tls?: TcpTlsOptions
  /** @default false */
  insecure?: boolean
  /** @default DEFAULT_DOWNLINK_MAX_FRAME_BYTES */
  maxFrameBytes?: number
  /**
   * A connection whose transponder has sent nothing (not even a heartbeat answer) for this long
   * after a heartbeat is dead: it is closed and `heartbeat` says false, so the agent re-homes
   * even when a hung transponder keeps its sockets open, ms. @default 3000
   */
  staleAfterMs?: number
  /** @default systemClock */
  clock?: Clock
}

/** AgentLinks over one socket per transponder; `serve` installs the handler for relayed commands (AgentRelayClient.handleCommand). */
export class SocketAgentLinks implements AgentLinks {
  readonly #o: SocketAgentLinksOptions
  readonly #conns = new Map<string, FramedConnection>()
  #handler: (bytes: Uint8Array) => Promise<Uint8Array> = async () => { throw undeliverable('no command handler') }
  #closed = false
  readonly #clock: Clock
  readonly #staleAfterMs: number

  constructor (options: SocketAgentLinksOptions) {
    checkObject(options, 'SocketAgentLinks', '(options)')
    checkKnownKeys(options, 'SocketAgentLinks', ['id', 'transponders', 'tls', 'insecure', 'maxFrameBytes', 'staleAfterMs', 'clock'])
    if (options.staleAfterMs !== undefined) checkInt(options.staleAfterMs, 'SocketAgentLinks', 'staleAfterMs', 1)
    if (options.clock !== undefined) checkMethods(options.clock, 'SocketAgentLinks', 'clock', 'a Clock', ['now', 'setTimeout', 'clearTimeout'])
    check(typeof options.id === 'string' && options.id.length > 0, 'SocketAgentLinks', 'id', 'a non-empty string', options.id)
    checkObject(options.transponders, 'SocketAgentLinks', 'transponders')
    checkSecurity(options, 'SocketAgentLinks')
    this.#o = options
    this.#clock = options.clock ?? systemClock
    this.#staleAfterMs = options.staleAfterMs ?? 3000
  }

  serve (handler: (bytes: Uint8Array) => Promise<Uint8Array>): void { this.#handler = handler }

  heartbeat (transponder: string): boolean {
    const conn = this.#connection(transponder)
    if (conn === undefined) return false
    const now = this.#clock.now()
    if (conn.unansweredSince >= 0 && now - conn.unansweredSince > this.#staleAfterMs) {
      conn.destroy() // hung: its requests reject, and the next call dials again
      this.#conns.delete(transponder)
      return false
    }
    if (conn.unansweredSince < 0) conn.unansweredSince = now
    conn.write({ kind: 'heartbeat' })
    return true
  }

  async submit (transponder: string, envelope: Uint8Array, options: { signal: AbortSignal }): Promise<'acknowledged' | 'filtered'> {
    const conn = this.#connection(transponder)
    if (conn === undefined) throw undeliverable(`transponder "${transponder}" is unreachable`)
    const answer = await conn.request((request) => ({ kind: 'submit', request, envelope }), options.signal)
    if (answer.kind !== 'submit-result') throw undeliverable('unexpected answer')
    if (answer.status === 'refused') throw new QuorateError('TRANSPONDER_UNDELIVERABLE', `Transponder "${transponder}" refused the event (${answer.code})`, { details: { code: answer.code } })
    return answer.status
  }

  /** Closes every connection (their requests reject). */
  close (): void {
    this.#closed = true
    for (const c of this.#conns.values()) c.destroy()
    this.#conns.clear()
  }

  /** The open (or opening) connection, or undefined after one failed — the next call dials again. */
  #connection (transponder: string): FramedConnection | undefined {
    if (this.#closed) return undefined
    const known = this.#conns.get(transponder)
    if (known !== undefined) {
      if (!known.closed) return known
      this.#conns.delete(transponder)
      return undefined
    }
    const address = this.#o.transponders[transponder]
    if (address === undefined) return undefined
    const socket = this.#o.tls === undefined
      ? net.connect({ host: address.host, port: address.port })
      : tls.connect({
        host: address.host, port: address.port, key: this.#o.tls.key, cert: this.#o.tls.cert, ca: this.#o.tls.ca as tls.SecureContextOptions['ca'],
        minVersion: 'TLSv1.3', servername: undefined, checkServerIdentity: (_host, cert) => certificateIdentity(cert) === transponder ? undefined : new Error(`not ${transponder}`)
      })
    const conn = new FramedConnection(socket, this.#o.maxFrameBytes ?? DEFAULT_DOWNLINK_MAX_FRAME_BYTES)
    if (this.#o.insecure === true) conn.write({ kind: 'hello', id: this.#o.id })
    conn.onFrame = (frame) => {
      if (frame.kind === 'heartbeat') return // the answer to ours: receiving it was the point
      if (frame.kind === 'submit-result') conn.answer(frame.request, frame)
      else if (frame.kind === 'command') {
        this.#handler(frame.envelope).then(
          (reply) => { conn.write({ kind: 'command-result', request: frame.request, ok: true, reply, code: '' }) },
          (err: unknown) => { conn.write({ kind: 'command-result', request: frame.request, ok: false, reply: new Uint8Array(0), code: isQuorateError(err) ? err.code : 'AGENT_COMMAND_INVALID' }) })
      } else conn.destroy()
    }
    this.#conns.set(transponder, conn)
    return conn
  }
}

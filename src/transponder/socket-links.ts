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
import { QuorateError, isQuorateError } from '../errors.js'
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
import { FramedConnection, closeFramed, dialFramed, listenFramed, listeningAddress } from './framed-connection.js'
import type { FrameCodec } from './framed-connection.js'
import type { DownlinkFrame } from './wire.js'

/** @default 1 MiB + 1 KiB: an envelope of the events queue's largest payload plus its header. */
export const DEFAULT_DOWNLINK_MAX_FRAME_BYTES = 1024 * 1024 + 1024

const DOWNLINK_CODEC: FrameCodec<DownlinkFrame> = { encode: encodeDownlinkFrame, decode: decodeDownlinkFrame }

/** A downlink connection: its requests fail TRANSPONDER_UNDELIVERABLE when it closes. */
function downlinkConnection (socket: net.Socket, maxFrameBytes: number): FramedConnection<DownlinkFrame> {
  return new FramedConnection(socket, maxFrameBytes, DOWNLINK_CODEC, undeliverable)
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
  readonly #agents = new Map<string, FramedConnection<DownlinkFrame>>()
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

  address (): TcpAddress { return listeningAddress(this.#server, 'transponder server') }

  async open (options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#life.open(async () => {
      await this.transponder.open(options)
      const max = this.#o.maxFrameBytes ?? DEFAULT_DOWNLINK_MAX_FRAME_BYTES
      this.#server = await listenFramed(this.#o.listen, this.#o.tls, (s, identity) => { this.#accept(s, identity, max) })
    }, options.signal)
  }

  async close (): Promise<void> {
    await this.#life.close(async () => {
      const server = this.#server
      this.#server = undefined
      await closeFramed(server, this.#sockets)
      await this.transponder.close()
    })
  }

  #accept (socket: net.Socket, identity: string | null, max: number): void {
    this.#sockets.add(socket)
    socket.on('close', () => { this.#sockets.delete(socket) })
    const conn = downlinkConnection(socket, max)
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
  readonly #conns = new Map<string, FramedConnection<DownlinkFrame>>()
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
  #connection (transponder: string): FramedConnection<DownlinkFrame> | undefined {
    if (this.#closed) return undefined
    const known = this.#conns.get(transponder)
    if (known !== undefined) {
      if (!known.closed) return known
      this.#conns.delete(transponder)
      return undefined
    }
    const address = this.#o.transponders[transponder]
    if (address === undefined) return undefined
    const socket = dialFramed(address, this.#o.tls, transponder)
    const conn = downlinkConnection(socket, this.#o.maxFrameBytes ?? DEFAULT_DOWNLINK_MAX_FRAME_BYTES)
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

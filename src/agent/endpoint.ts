/**
 * The agent's network endpoint: the coordinator's commands arrive here, over mutual TLS by
 * default (both sides present a certificate from the cluster CA, as tcpTransport's nodes do;
 * createDevCertificates in quorate/transport makes development ones) or plain TCP only with an
 * explicit `insecure: true`.
 *
 * Wire format (line-frames.ts): the client sends `{"seq":n,"command":{...}}` lines, the agent
 * answers `{"seq":n,"reply":{...}}` lines, in completion order (seq matches them). A line that
 * is not such an envelope is answered with an AGENT_COMMAND_INVALID reply (seq null when it
 * could not be read) and the connection carries on; a line over maxFrameBytes closes the
 * connection. Nothing a peer sends can throw out of the endpoint.
 */
import type * as net from 'node:net'
import { QuorateError } from '../errors.js'
import { Lifecycle } from '../util/lifecycle.js'
import { checkInt, checkKnownKeys, checkMethods, checkObject } from '../util/validate.js'
import type { TcpTlsOptions } from '../transport/tcp-options.js'
import { checkTlsChoice, listenServer } from './agent-sockets.js'
import type { AgentReply } from './protocol.js'
import type { CommandHandler } from './in-process-channel.js'
import { LineFrames, parseJson } from './line-frames.js'

export interface AgentEndpointOptions {
  /** Who answers the commands: the NodeAgent. */
  readonly agent: CommandHandler
  /** Where to listen; port 0 picks a free port (see `address()`). */
  readonly listen: { readonly host?: string, readonly port: number }
  /** Mutual TLS material ({ key, cert, ca }). Required unless `insecure` is true. */
  readonly tls?: TcpTlsOptions
  /** Plain TCP, no authentication: anyone who can connect can command the agent. Must be explicit. @default false */
  readonly insecure?: boolean
  /** Longest accepted line, bytes; a longer one closes the connection. @default 1048576 (1 MiB) */
  readonly maxFrameBytes?: number
  /** Connections at once; further ones are closed at accept. @default 64 */
  readonly maxConnections?: number
  /** The TLS handshake must finish within this, ms. @default 5000 */
  readonly handshakeTimeoutMs?: number
}

export const AGENT_ENDPOINT_DEFAULTS = { maxFrameBytes: 1 << 20, maxConnections: 64, handshakeTimeoutMs: 5000 } as const

const KEYS = ['agent', 'listen', 'tls', 'insecure', 'maxFrameBytes', 'maxConnections', 'handshakeTimeoutMs'] as const

export class AgentEndpoint {
  readonly #o: AgentEndpointOptions
  readonly #life = new Lifecycle('agent endpoint')
  #server: net.Server | undefined
  readonly #sockets = new Set<net.Socket>()

  constructor (options: AgentEndpointOptions) {
    checkObject(options, 'AgentEndpoint', '(options)')
    checkKnownKeys(options, 'AgentEndpoint', KEYS)
    checkMethods(options.agent, 'AgentEndpoint', 'agent', 'a command handler', ['handle'])
    checkObject(options.listen, 'AgentEndpoint', 'listen')
    checkInt(options.listen.port, 'AgentEndpoint', 'listen.port', 0, 65535)
    checkTlsChoice('AgentEndpoint', options.tls, options.insecure)
    if (options.maxFrameBytes !== undefined) checkInt(options.maxFrameBytes, 'AgentEndpoint', 'maxFrameBytes', 64)
    if (options.maxConnections !== undefined) checkInt(options.maxConnections, 'AgentEndpoint', 'maxConnections', 1)
    if (options.handshakeTimeoutMs !== undefined) checkInt(options.handshakeTimeoutMs, 'AgentEndpoint', 'handshakeTimeoutMs', 1)
    this.#o = options
  }

  /** The bound address (after open). */
  address (): { host: string, port: number } {
    this.#life.assertOpen()
    const a = this.#server!.address() as net.AddressInfo
    return { host: a.address, port: a.port }
  }

  async open (signal?: AbortSignal): Promise<void> {
    await this.#life.open(async () => {
      this.#server = await listenServer(this.#o.listen, this.#o.tls, this.#o.handshakeTimeoutMs ?? AGENT_ENDPOINT_DEFAULTS.handshakeTimeoutMs, (socket) => { this.#accept(socket) })
    }, signal)
  }

  /** Stops accepting and closes every connection (commands in flight still finish in the agent). */
  async close (): Promise<void> {
    await this.#life.close(async () => {
      const server = this.#server
      this.#server = undefined
      for (const s of this.#sockets) s.destroy()
      this.#sockets.clear()
      if (server !== undefined) await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    })
  }

  #accept (socket: net.Socket): void {
    if (this.#sockets.size >= (this.#o.maxConnections ?? AGENT_ENDPOINT_DEFAULTS.maxConnections)) { socket.destroy(); return }
    this.#sockets.add(socket)
    socket.on('error', () => {})
    socket.once('close', () => { this.#sockets.delete(socket) })
    const frames = new LineFrames(this.#o.maxFrameBytes ?? AGENT_ENDPOINT_DEFAULTS.maxFrameBytes)
    socket.on('data', (chunk: Buffer) => {
      const ok = frames.push(chunk, (line) => { void this.#answer(socket, line) })
      if (!ok) {
        const notice = new QuorateError('AGENT_CHANNEL_INVALID', `frame longer than ${this.#o.maxFrameBytes ?? AGENT_ENDPOINT_DEFAULTS.maxFrameBytes} bytes; closing`)
        socket.end(JSON.stringify({ seq: null, reply: { id: '', ok: false, code: notice.code, message: notice.message } }) + '\n')
        socket.destroy()
      }
    })
  }

  async #answer (socket: net.Socket, line: string): Promise<void> {
    if (line.trim() === '') return
    const envelope = parseJson(line) as { seq?: unknown, command?: unknown } | undefined
    const seq = typeof envelope === 'object' && envelope !== null && Number.isSafeInteger(envelope.seq) ? envelope.seq as number : null
    let reply: AgentReply
    if (seq === null || !Object.hasOwn(envelope!, 'command')) {
      reply = { id: '', ok: false, code: 'AGENT_COMMAND_INVALID', message: 'a frame is one line {"seq": integer, "command": {...}}' }
    } else {
      try {
        reply = await this.#o.agent.handle(envelope!.command)
      } catch (err) {
        reply = { id: '', ok: false, code: 'AGENT_COMMAND_INVALID', message: err instanceof Error ? err.message : String(err) }
      }
    }
    if (!socket.destroyed) socket.write(JSON.stringify({ seq, reply }) + '\n')
  }
}

/**
 * The coordinator's side of the agent network channel: a CommandChannel that sends each
 * command to its node's AgentEndpoint over one reused connection per node (mutual TLS unless
 * `insecure: true`; the agent's certificate must name the node it is sent to).
 *
 * `send` always settles: with the reply; with AGENT_UNREACHABLE when the node cannot be
 * reached, the connection breaks, the reply is malformed, or no reply came within
 * `requestTimeoutMs` (whether the command took effect is then unknown: resend it with the
 * same id, the agent answers its first reply); with ABORTED when the signal fires.
 */
import type * as net from 'node:net'
import { QuorateError, abortError } from '../errors.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import type { TcpTlsOptions } from '../transport/tcp-options.js'
import type { AgentCommand, AgentReply, CommandChannel } from './protocol.js'
import { checkTlsChoice, dialNode } from './agent-sockets.js'
import { LineFrames, parseJson } from './line-frames.js'

export interface AgentClientOptions {
  /** Where each node's agent endpoint listens. */
  readonly agents: Readonly<Record<string, { readonly host: string, readonly port: number }>>
  /** This side's mutual TLS material ({ key, cert, ca }). Required unless `insecure` is true. */
  readonly tls?: TcpTlsOptions
  /** Plain TCP, no authentication. Must be explicit. @default false */
  readonly insecure?: boolean
  /** A connection not established (TLS included) within this fails the commands waiting on it, ms. @default 2000 */
  readonly connectTimeoutMs?: number
  /** A command without a reply within this fails with AGENT_UNREACHABLE, ms (a stop waits for the grace period). @default 30000 */
  readonly requestTimeoutMs?: number
  /** Longest reply line accepted, bytes. @default 1048576 */
  readonly maxFrameBytes?: number
}

export const AGENT_CLIENT_DEFAULTS = { connectTimeoutMs: 2000, requestTimeoutMs: 30_000, maxFrameBytes: 1 << 20 } as const

const KEYS = ['agents', 'tls', 'insecure', 'connectTimeoutMs', 'requestTimeoutMs', 'maxFrameBytes'] as const

interface Waiter { readonly id: string, resolve: (r: AgentReply) => void, reject: (e: unknown) => void }

class Connection {
  readonly socket: net.Socket
  readonly waiters = new Map<number, Waiter>()
  ready: Promise<void>
  closed = false

  /** `onConnected` is handed the function to call once the socket is usable. */
  constructor (socket: net.Socket, onConnected: (resolve: () => void) => void, connectTimeoutMs: number, onFail: (err: QuorateError) => void) {
    this.socket = socket
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { const e = new QuorateError('AGENT_UNREACHABLE', `no connection within ${connectTimeoutMs} ms`); reject(e); onFail(e) }, connectTimeoutMs)
      onConnected(() => { clearTimeout(timer); resolve() })
      socket.once('close', () => { clearTimeout(timer); reject(new QuorateError('AGENT_UNREACHABLE', 'connection closed before it was established')) })
    })
    this.ready.catch(() => {})
  }
}

export class AgentClient implements CommandChannel {
  readonly #o: AgentClientOptions
  readonly #connections = new Map<string, Connection>()
  #seq = 0
  #closed = false

  constructor (options: AgentClientOptions) {
    checkObject(options, 'AgentClient', '(options)')
    checkKnownKeys(options, 'AgentClient', KEYS)
    checkObject(options.agents, 'AgentClient', 'agents')
    for (const [node, a] of Object.entries(options.agents)) {
      check(typeof a === 'object' && a !== null && typeof a.host === 'string' && Number.isSafeInteger(a.port) && a.port > 0 && a.port < 65536, 'AgentClient', `agents.${node}`, '{ host, port }', a)
    }
    checkTlsChoice('AgentClient', options.tls, options.insecure)
    for (const f of ['connectTimeoutMs', 'requestTimeoutMs'] as const) if (options[f] !== undefined) checkInt(options[f], 'AgentClient', f, 1)
    if (options.maxFrameBytes !== undefined) checkInt(options.maxFrameBytes, 'AgentClient', 'maxFrameBytes', 64)
    this.#o = options
  }

  async send (node: string, command: AgentCommand, options: { signal?: AbortSignal } = {}): Promise<AgentReply> {
    const { signal } = options
    if (signal?.aborted === true) throw abortError(signal)
    if (this.#closed) throw new QuorateError('NODE_CLOSED', 'The agent client is closed')
    const conn = this.#connection(node)
    const seq = ++this.#seq
    return await new Promise<AgentReply>((resolve, reject) => {
      const timeoutMs = this.#o.requestTimeoutMs ?? AGENT_CLIENT_DEFAULTS.requestTimeoutMs
      const cleanup = (): void => { clearTimeout(timer); conn.waiters.delete(seq); signal?.removeEventListener('abort', onAbort) }
      const timer = setTimeout(() => { cleanup(); reject(new QuorateError('AGENT_UNREACHABLE', `node ${node}: no reply to ${command.id} within ${timeoutMs} ms`)) }, timeoutMs)
      const onAbort = (): void => { cleanup(); reject(abortError(signal!)) }
      signal?.addEventListener('abort', onAbort, { once: true })
      conn.waiters.set(seq, { id: command.id, resolve: (r) => { cleanup(); resolve(r) }, reject: (e) => { cleanup(); reject(e) } })
      conn.ready.then(() => {
        if (!conn.closed) conn.socket.write(JSON.stringify({ seq, command }) + '\n')
      }, (err: unknown) => { conn.waiters.get(seq)?.reject(err) })
    })
  }

  /** Closes every connection; commands waiting fail with AGENT_UNREACHABLE. Idempotent. */
  close (): void {
    this.#closed = true
    for (const [node, conn] of this.#connections) this.#fail(node, conn, new QuorateError('AGENT_UNREACHABLE', 'the agent client was closed'))
  }

  #connection (node: string): Connection {
    const existing = this.#connections.get(node)
    if (existing !== undefined && !existing.closed) return existing
    const address = this.#o.agents[node]
    if (address === undefined) throw new QuorateError('AGENT_UNREACHABLE', `no agent address for node ${JSON.stringify(node)}`)
    let connected = (): void => {}
    const socket = dialNode(address, node, this.#o.tls, () => { connected() })
    const conn: Connection = new Connection(socket, (resolve) => { connected = resolve }, this.#o.connectTimeoutMs ?? AGENT_CLIENT_DEFAULTS.connectTimeoutMs, (err) => { this.#fail(node, conn, err) })
    this.#connections.set(node, conn)
    const frames = new LineFrames(this.#o.maxFrameBytes ?? AGENT_CLIENT_DEFAULTS.maxFrameBytes)
    socket.on('data', (chunk: Buffer) => {
      const ok = frames.push(chunk, (line) => { this.#onReply(node, conn, line) })
      if (!ok) this.#fail(node, conn, new QuorateError('AGENT_CHANNEL_INVALID', `node ${node}: a reply longer than maxFrameBytes`))
    })
    socket.on('error', (err) => { this.#fail(node, conn, new QuorateError('AGENT_UNREACHABLE', `node ${node}: ${err.message}`, { cause: err })) })
    socket.once('close', () => { this.#fail(node, conn, new QuorateError('AGENT_UNREACHABLE', `node ${node}: connection closed`)) })
    return conn
  }

  #onReply (node: string, conn: Connection, line: string): void {
    const msg = parseJson(line) as { seq?: unknown, reply?: { id?: unknown, ok?: unknown } } | undefined
    const seq = msg?.seq
    const waiter = typeof seq === 'number' ? conn.waiters.get(seq) : undefined
    const reply = msg?.reply
    // A late reply to a command that timed out or was aborted: nobody waits for it any more.
    if (waiter === undefined && Number.isSafeInteger(seq) && (seq as number) > 0 && (seq as number) <= this.#seq && typeof reply === 'object') return
    if (waiter === undefined || typeof reply !== 'object' || reply === null || typeof reply.ok !== 'boolean' || (reply.ok && reply.id !== waiter.id)) {
      // Not an answer to anything we asked: the peer is not an agent speaking this protocol.
      this.#fail(node, conn, new QuorateError('AGENT_UNREACHABLE', `node ${node}: reply does not match a command`, { cause: new QuorateError('AGENT_CHANNEL_INVALID', line.slice(0, 200)) }))
      return
    }
    waiter.resolve(reply as AgentReply)
  }

  #fail (node: string, conn: Connection, err: QuorateError): void {
    if (conn.closed) return
    conn.closed = true
    if (this.#connections.get(node) === conn) this.#connections.delete(node)
    const failure = err.code === 'AGENT_UNREACHABLE' ? err : new QuorateError('AGENT_UNREACHABLE', err.message, { cause: err })
    for (const w of [...conn.waiters.values()]) w.reject(failure)
    conn.socket.destroy()
  }
}

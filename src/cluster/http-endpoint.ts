/**
 * A node's client endpoint: HTTPS (HTTP/1.1) with client authentication by default, plaintext
 * only with `insecure: true`. Routes:
 *
 * - `GET /health` (no credentials needed): 200 if the node is open and knows a leader, else
 *   503; a JSON body `{ ok, id, role, term, leader, lifecycle }`.
 * - `GET /metrics` (any role): the node's metrics in Prometheus text format (prometheus.ts).
 * - `GET /status` (any role): the node's NodeReport, as `{ "type": "status" }` answers.
 * - `POST /` (the JSON protocol, protocol.ts): `kv` needs the read-write role; `read` and
 *   `status` any role.
 * - `GET /view`, `/graph`, `/events` (any role) and, when enabled, `GET /dashboard` (no
 *   credentials: the page holds no data) and `/dashboard/stream` (any role): the operator
 *   views (views/routes.ts), mounted when `views` is given.
 * - `GET /` with `Upgrade: quorate-client/1` (the role's rights as above): switches the
 *   connection to the pipelined binary protocol (wire.ts, stream-server.ts).
 * - anything else: 404 CLUSTER_ROUTE_UNKNOWN.
 *
 * Credentials (auth.ts): a client certificate from the cluster CA with a `quorate://client/`
 * URI SAN, or `Authorization: Bearer <token>`. Refusals, each counted and logged
 * (rejections.ts): 401 CLUSTER_AUTH_REQUIRED (none given), 401 CLUSTER_AUTH_FAILED (a
 * certificate from another CA or without a client identity, an unknown token), 403
 * CLUSTER_FORBIDDEN (a read-only role writing), 413 CLUSTER_REQUEST_TOO_LARGE, 404
 * CLUSTER_ROUTE_UNKNOWN, 400 CLUSTER_REQUEST_INVALID; a connection that does not complete a
 * TLS handshake (plaintext to the TLS port) is closed and counted as CLUSTER_TLS_REQUIRED.
 * Every refusal body is a ClientFailure `{ ok: false, code, message, leader: null }`.
 */
import * as http from 'node:http'
import * as https from 'node:https'
import type { Duplex } from 'node:stream'
import { QuorateError } from '../errors.js'
import type { TcpAddress } from '../transport/tcp.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { ClientAuthenticator, validateClientTokens } from './auth.js'
import type { ClientToken, Principal } from './auth.js'
import type { KvService } from './kv-service.js'
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from './prometheus.js'
import { failureResponse, parseClientRequest } from './protocol.js'
import type { ClientRequest, ClientResponse } from './protocol.js'
import { EndpointRejections } from './rejections.js'
import type { RejectionCode, RejectionLogger } from './rejections.js'
import { serveStream } from './stream-server.js'
import { STREAM_PROTOCOL } from './wire.js'
import { ViewRoutes } from './views/routes.js'

/** Largest request body (or binary frame) accepted by default. */
export const MAX_REQUEST_BYTES = 8 * 1024 * 1024

/** PEM material of the endpoint: its own key and certificate, and the CA its clients' certificates must chain to. */
export interface EndpointTls {
  readonly key: string | Buffer
  readonly cert: string | Buffer
  readonly ca: string | Buffer
}

export interface ClientEndpointOptions {
  /** Where to listen (port 0: any free port; see `address`). */
  readonly listen: TcpAddress
  /** TLS with client authentication. Exactly one of `tls` and `insecure: true` is required. */
  readonly tls?: EndpointTls
  /** Plaintext HTTP, every caller treated as read-write (bearer tokens are still checked if sent). @default false */
  readonly insecure?: boolean
  /** Accepted bearer tokens (hashed). @default [] */
  readonly tokens?: readonly ClientToken[]
  /** Largest request body or binary frame. @default MAX_REQUEST_BYTES (8 MiB) */
  readonly maxRequestBytes?: number
  /** Told every refusal (rate-limited per code). @default none (refusals are only counted) */
  readonly log?: RejectionLogger
  /** The operator views to mount (views/routes.ts: /view, /graph, /events and, if enabled, the dashboard). @default none */
  readonly views?: ViewRoutes
}

const ENDPOINT_KEYS = Object.keys({ listen: true, tls: true, insecure: true, tokens: true, maxRequestBytes: true, log: true, views: true } satisfies Record<keyof ClientEndpointOptions, true>)

export function validateClientEndpointOptions (options: ClientEndpointOptions): void {
  const C = 'ClientEndpoint'
  checkObject(options as unknown, C, '(options)')
  checkKnownKeys(options, C, ENDPOINT_KEYS)
  check(typeof options.listen?.host === 'string' && Number.isInteger(options.listen.port), C, 'listen', 'an address { host, port }', options.listen)
  check(options.insecure === undefined || typeof options.insecure === 'boolean', C, 'insecure', 'a boolean', options.insecure)
  if (options.insecure === true) check(options.tls === undefined, C, 'tls', 'absent when insecure: true', 'set')
  else check(typeof options.tls === 'object' && options.tls !== null && options.tls.key !== undefined && options.tls.cert !== undefined && options.tls.ca !== undefined, C, 'tls', '{ key, cert, ca } (or insecure: true for plaintext without authentication)', options.tls)
  if (options.tokens !== undefined) validateClientTokens(options.tokens, C, 'tokens')
  checkInt(options.maxRequestBytes ?? MAX_REQUEST_BYTES, C, 'maxRequestBytes', 1, 0xfffffff0)
  check(options.log === undefined || typeof options.log === 'function', C, 'log', 'a function', typeof options.log)
  check(options.views === undefined || options.views instanceof ViewRoutes, C, 'views', 'a ViewRoutes', typeof options.views)
}

export interface ClientEndpoint {
  /** The bound address (the real port when `listen.port` was 0). */
  readonly address: TcpAddress
  /** Refusals so far, by code. */
  rejections (): Readonly<Record<RejectionCode, number>>
  close (): Promise<void>
}

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  CLUSTER_REQUEST_INVALID: 400,
  CLUSTER_AUTH_REQUIRED: 401,
  CLUSTER_AUTH_FAILED: 401,
  CLUSTER_FORBIDDEN: 403,
  CLUSTER_ROUTE_UNKNOWN: 404,
  CLUSTER_REQUEST_TOO_LARGE: 413,
  RAFT_NOT_LEADER: 421,
  ABORTED: 504,
  RAFT_TIMEOUT: 504
}

function sendJson (res: http.ServerResponse, status: number, body: unknown): void {
  if (res.destroyed || res.headersSent) return
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function send (res: http.ServerResponse, response: ClientResponse): void {
  sendJson(res, response.ok ? 200 : STATUS_BY_CODE[response.code] ?? 503, response)
}

/** The body as a Buffer, or null (reading stopped, request paused) once it exceeds `max` bytes. */
async function readBody (req: http.IncomingMessage, max: number): Promise<Buffer | null> {
  return await new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size <= max) { parts.push(chunk); return }
      req.off('data', onData)
      req.pause()
      resolve(null)
    }
    req.on('data', onData)
    req.once('end', () => { resolve(Buffer.concat(parts)) })
    req.once('error', reject)
  })
}

function remoteOf (socket: { remoteAddress?: string, remotePort?: number } | null | undefined): string {
  return `${String(socket?.remoteAddress)}:${String(socket?.remotePort)}`
}

/** A JSON request's need: does it write? (A kv proposal does, even a get: it goes through the log.) */
function writes (request: ClientRequest): boolean { return request.type === 'kv' }

class EndpointHandler {
  readonly #service: KvService
  readonly #auth: ClientAuthenticator
  readonly #max: number
  readonly #views: ViewRoutes | undefined
  readonly rejections: EndpointRejections

  constructor (service: KvService, options: ClientEndpointOptions) {
    this.#service = service
    this.#views = options.views
    this.#auth = new ClientAuthenticator({ insecure: options.insecure === true, tokens: options.tokens ?? [] })
    this.#max = options.maxRequestBytes ?? MAX_REQUEST_BYTES
    this.rejections = new EndpointRejections(options.log)
  }

  #refuse (res: http.ServerResponse, code: RejectionCode, message: string): void {
    this.rejections.record(code, message, remoteOf(res.req?.socket))
    send(res, failureResponse(new QuorateError(code, message)))
  }

  #authenticate (req: http.IncomingMessage): Principal | { code: RejectionCode, message: string } {
    const result = this.#auth.authenticate(req.socket, req.headers.authorization)
    return result.ok ? result.principal : { code: result.code, message: result.message }
  }

  async answer (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method === 'GET' && path === '/health') { this.#health(res); return }
    const view = this.#views?.kind(req.method, path) ?? null
    if (view === 'public') { await this.#answerView(req, res, path); return }
    const who = this.#authenticate(req)
    if ('code' in who) { this.#refuse(res, who.code, who.message); return }
    if (view === 'private') { await this.#answerView(req, res, path); return }
    if (req.method === 'GET' && path === '/status') { send(res, await this.#service.handle({ type: 'status' })); return }
    if (req.method === 'GET' && path === '/metrics') { this.#metrics(res); return }
    if (req.method !== 'POST' || path !== '/') {
      this.#refuse(res, 'CLUSTER_ROUTE_UNKNOWN', `unknown route ${String(req.method)} ${String(req.url)} (POST /, GET /status, /metrics, /health, /view, /graph, /events${this.#views?.kind('GET', '/dashboard') === 'public' ? ', /dashboard' : ''})`)
      return
    }
    const declared = Number(req.headers['content-length'] ?? 0)
    const body = declared > this.#max ? null : await readBody(req, this.#max)
    if (body === null) {
      // Answer first, then drop the connection instead of reading the rest.
      res.setHeader('connection', 'close')
      res.once('finish', () => { req.destroy() })
      this.#refuse(res, 'CLUSTER_REQUEST_TOO_LARGE', `request body larger than ${this.#max} bytes`)
      return
    }
    let request: ClientRequest
    try {
      request = parseClientRequest(JSON.parse(body.toString('utf8')))
    } catch (err) {
      this.#refuse(res, 'CLUSTER_REQUEST_INVALID', err instanceof QuorateError ? err.message : `request body is not JSON: ${(err as Error).message}`)
      return
    }
    if (writes(request) && who.role !== 'read-write') {
      this.#refuse(res, 'CLUSTER_FORBIDDEN', `${who.name} (${who.role}) may not send ${request.type} requests`)
      return
    }
    // A client that gives up (deadline, disconnect) aborts its proposal or read here too.
    const gone = new AbortController()
    res.on('close', () => { if (!res.writableFinished) gone.abort() })
    send(res, await this.#service.handle(request, gone.signal))
  }

  async #answerView (req: http.IncomingMessage, res: http.ServerResponse, path: string | undefined): Promise<void> {
    try {
      await this.#views!.answer(req, res, path)
    } catch (err) {
      if (err instanceof QuorateError && (err.code === 'CLUSTER_REQUEST_INVALID' || err.code === 'CLUSTER_ROUTE_UNKNOWN')) this.#refuse(res, err.code, err.message)
      else send(res, failureResponse(err))
    }
  }

  #health (res: http.ServerResponse): void {
    const s = this.#service.node.status()
    const ok = s.lifecycle === 'open' && s.failure === null && s.leader !== null
    sendJson(res, ok ? 200 : 503, { ok, id: s.id, role: s.role, term: s.term, leader: s.leader, lifecycle: s.lifecycle })
  }

  #metrics (res: http.ServerResponse): void {
    const node = this.#service.node
    const report = this.#service.report(false)
    const text = prometheusText({ status: node.status(), metrics: node.metrics(), transport: report.transport, rejections: this.rejections.counts() })
    res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }

  /** An `Upgrade` request: authenticate, then hand the socket to the binary protocol. */
  upgrade (req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {})
    const reject = (code: RejectionCode, message: string): void => {
      this.rejections.record(code, message, remoteOf(req.socket))
      const body = JSON.stringify(failureResponse(new QuorateError(code, message)))
      socket.end(`HTTP/1.1 ${STATUS_BY_CODE[code] ?? 400} ${http.STATUS_CODES[STATUS_BY_CODE[code] ?? 400] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
    }
    const who = this.#authenticate(req)
    if ('code' in who) { reject(who.code, who.message); return }
    if (req.headers.upgrade?.toLowerCase() !== STREAM_PROTOCOL || (req.url ?? '/') !== '/') {
      reject('CLUSTER_ROUTE_UNKNOWN', `unknown upgrade ${String(req.headers.upgrade)} to ${String(req.url)} (use GET / with Upgrade: ${STREAM_PROTOCOL})`)
      return
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${STREAM_PROTOCOL}\r\nconnection: Upgrade\r\n\r\n`)
    serveStream(this.#service, socket as import('node:net').Socket, head, who, this.#max, this.rejections)
  }
}

/** Serves `service` as the module comment describes. */
export async function serveClientEndpoint (service: KvService, options: ClientEndpointOptions): Promise<ClientEndpoint> {
  validateClientEndpointOptions(options)
  const handler = new EndpointHandler(service, options)
  const serverOptions = { keepAliveTimeout: 30_000 }
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handler.answer(req, res).catch((err: unknown) => { send(res, failureResponse(err)) })
  }
  const server = options.tls === undefined
    ? http.createServer(serverOptions, onRequest)
    // Certificates are asked for, not required: a token holder has none, and a refusal is
    // then an HTTP answer with a code rather than a failed handshake.
    : https.createServer({ ...serverOptions, key: options.tls.key, cert: options.tls.cert, ca: options.tls.ca, requestCert: true, rejectUnauthorized: false }, onRequest)
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => { handler.upgrade(req, socket, head) })
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    // A failed TLS handshake reaches here too, after tlsClientError counted it; a reset is a client leaving.
    if (!String(err.code).startsWith('ERR_SSL') && err.code !== 'ECONNRESET') handler.rejections.record('CLUSTER_REQUEST_INVALID', `malformed HTTP (${String(err.code)})`, remoteOf(socket as never))
    socket.destroy()
  })
  server.on('tlsClientError', (err: Error & { code?: string }, socket: Duplex) => {
    handler.rejections.record('CLUSTER_TLS_REQUIRED', `no TLS handshake (${String(err.code ?? err.message)})`, remoteOf(socket as never))
    socket.destroy()
  })
  service.rejections = () => handler.rejections.counts()
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      reject(new QuorateError('OPTIONS_INVALID', `client endpoint: cannot listen on ${options.listen.host}:${options.listen.port}: ${err.message}`, { cause: err }))
    })
    server.listen(options.listen.port, options.listen.host, () => { resolve() })
  })
  const bound = server.address() as { address: string, port: number }
  let closing: Promise<void> | null = null
  const upgraded = new Set<Duplex>()
  server.on('upgrade', (_req: unknown, socket: Duplex) => { upgraded.add(socket); socket.once('close', () => upgraded.delete(socket)) })
  return {
    address: { host: options.listen.host, port: bound.port },
    rejections: () => handler.rejections.counts(),
    close: async () => {
      closing ??= new Promise<void>((resolve) => {
        options.views?.close()
        server.close(() => { resolve() })
        server.closeAllConnections()
        for (const s of upgraded) s.destroy()
      })
      await closing
    }
  }
}

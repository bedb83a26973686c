/**
 * The client protocol (protocol.ts) over HTTP/1.1: `POST /` with a JSON request body, a JSON
 * response body. `GET /status` is a shortcut for `{ "type": "status" }` (handy with curl).
 * HTTP status: 200 ok, 400 CLUSTER_REQUEST_INVALID, 421 RAFT_NOT_LEADER, 504 ABORTED or
 * RAFT_TIMEOUT, 503 anything else; the body always holds the full ClientResponse.
 */
import * as http from 'node:http'
import { QuorateError } from '../errors.js'
import type { TcpAddress } from '../transport/tcp.js'
import type { KvService } from './kv-service.js'
import { failureResponse } from './protocol.js'
import type { ClientRequest, ClientResponse } from './protocol.js'

/** Largest request body accepted; a larger one is answered CLUSTER_REQUEST_INVALID and the connection closed. */
export const MAX_REQUEST_BYTES = 8 * 1024 * 1024

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  CLUSTER_REQUEST_INVALID: 400,
  RAFT_NOT_LEADER: 421,
  ABORTED: 504,
  RAFT_TIMEOUT: 504
}

export interface ClientEndpoint {
  /** The bound address (the real port when `listen.port` was 0). */
  readonly address: TcpAddress
  close (): Promise<void>
}

function send (res: http.ServerResponse, response: ClientResponse): void {
  if (res.destroyed) return
  const status = response.ok ? 200 : STATUS_BY_CODE[response.code] ?? 503
  const body = JSON.stringify(response)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

function invalidRequest (message: string): ClientResponse {
  return failureResponse(new QuorateError('CLUSTER_REQUEST_INVALID', message))
}

/** The body as text, or null (reading stopped, request paused) once it exceeds MAX_REQUEST_BYTES. */
async function readBody (req: http.IncomingMessage): Promise<string | null> {
  return await new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size <= MAX_REQUEST_BYTES) { parts.push(chunk); return }
      req.off('data', onData)
      req.pause()
      resolve(null)
    }
    req.on('data', onData)
    req.once('end', () => { resolve(Buffer.concat(parts).toString('utf8')) })
    req.once('error', reject)
  })
}

async function answer (service: KvService, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (req.method === 'GET' && req.url === '/status') {
    send(res, await service.handle({ type: 'status' }))
    return
  }
  if (req.method !== 'POST' || req.url !== '/') {
    send(res, invalidRequest(`unknown route ${String(req.method)} ${String(req.url)} (use POST / or GET /status)`))
    return
  }
  const body = await readBody(req)
  if (body === null) {
    // Answer first, then drop the connection instead of reading the rest.
    res.setHeader('connection', 'close')
    res.once('finish', () => { req.destroy() })
    send(res, invalidRequest(`request body larger than ${MAX_REQUEST_BYTES} bytes`))
    return
  }
  let raw: unknown
  try {
    raw = JSON.parse(body)
  } catch (err) {
    send(res, invalidRequest(`request body is not JSON: ${(err as Error).message}`))
    return
  }
  // A client that gives up (deadline, disconnect) aborts its proposal or read here too.
  const gone = new AbortController()
  res.on('close', () => { if (!res.writableFinished) gone.abort() })
  send(res, await service.handle(raw, gone.signal))
}

/** Serves `service` on `listen` (use a loopback host: the endpoint has no authentication). */
export async function serveClientEndpoint (service: KvService, listen: TcpAddress): Promise<ClientEndpoint> {
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    answer(service, req, res).catch((err: unknown) => { send(res, failureResponse(err)) })
  })
  server.on('clientError', (_err, socket) => { socket.destroy() })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      reject(new QuorateError('OPTIONS_INVALID', `client endpoint: cannot listen on ${listen.host}:${listen.port}: ${err.message}`, { cause: err }))
    })
    server.listen(listen.port, listen.host, () => { resolve() })
  })
  const bound = server.address() as { address: string, port: number }
  let closing: Promise<void> | null = null
  return {
    address: { host: listen.host, port: bound.port },
    close: async () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => { resolve() })
        server.closeAllConnections()
      })
      await closing
    }
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

/**
 * Sends one request to a node's endpoint. Resolves with its response (also for failures the
 * node reports); rejects if the node cannot be reached, answers garbage, or `signal` fires.
 */
export async function httpClientCall (address: TcpAddress, request: ClientRequest, signal?: AbortSignal): Promise<ClientResponse> {
  const body = JSON.stringify(request)
  return await new Promise<ClientResponse>((resolve, reject) => {
    const req = http.request({
      host: address.host,
      port: address.port,
      method: 'POST',
      path: '/',
      agent,
      signal,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => { parts.push(d) })
      res.on('error', reject)
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(parts).toString('utf8')) as ClientResponse)
        } catch (err) {
          reject(err)
        }
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * The client half of the binary protocol (wire.ts): one TLS (or, if insecure, TCP) connection
 * to a node's client endpoint, upgraded with `Upgrade: quorate-client/1`, carrying any number
 * of requests at once. Requests pushed in one event-loop turn leave in one socket write.
 *
 * Invariants: every request settles — with its answer, with ABORTED when its signal fires,
 * or with TRANSPORT_CLOSED when the connection fails or closes (retryable: the request may or
 * may not have reached the node). A refused upgrade rejects `connect` with the node's code
 * (CLUSTER_AUTH_REQUIRED, CLUSTER_AUTH_FAILED, ...).
 */
import * as net from 'node:net'
import * as tls from 'node:tls'
import { QuorateError, abortError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import { ERROR_CODES } from '../errors.js'
import { jsonResultCodec } from '../sessions/codec.js'
import { certificateIdentity } from '../transport/tcp-identity.js'
import type { TcpAddress } from '../transport/tcp.js'
import type { NodeId } from '../raft/types.js'
import { CorkedWriter, encodeFrame, frameReader, STATUS_ERROR_VALUE, STATUS_FAILED, STATUS_OK, STREAM_PROTOCOL } from './wire.js'

/** How a client proves who it is and checks the nodes (see auth.ts). */
export interface ClientCredentials {
  /** PEM certificate of the cluster CA: the nodes' certificates must chain to it. Required unless insecure. */
  readonly ca?: string | Buffer
  /** PEM client certificate (URI SAN `quorate://client/<name>?role=<role>`) and its key. */
  readonly cert?: string | Buffer
  readonly key?: string | Buffer
  /** A bearer token, sent instead of (or besides) a certificate. */
  readonly token?: string
  /** Plaintext to an `insecure: true` endpoint. @default false */
  readonly insecure?: boolean
}

interface Waiter {
  resolve (value: unknown): void
  reject (err: unknown): void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

const MAX_RESPONSE_HEAD_BYTES = 64 * 1024

function toQuorateError (raw: { code?: unknown, message?: unknown, leader?: unknown }, fallback: ErrorCode): QuorateError {
  const code = typeof raw.code === 'string' && Object.hasOwn(ERROR_CODES, raw.code) ? raw.code as ErrorCode : fallback
  return new QuorateError(code, String(raw.message ?? code), { details: { leader: typeof raw.leader === 'string' ? raw.leader : null } })
}

/** TLS options that verify the node's certificate names node `id` (`quorate://node/<id>`), not a host name. */
export function nodeTlsOptions (credentials: ClientCredentials, id: NodeId | null): tls.ConnectionOptions {
  return {
    ca: credentials.ca,
    cert: credentials.cert,
    key: credentials.key,
    checkServerIdentity: (_host, cert) => {
      const named = certificateIdentity(cert)
      if (named === null) return new Error('the endpoint\'s certificate is not a quorate node certificate')
      if (id !== null && named !== id) return new Error(`the endpoint's certificate names node ${named}, not ${id}`)
      return undefined
    }
  }
}

export class StreamConnection {
  readonly #socket: net.Socket
  readonly #writer: CorkedWriter
  readonly #waiters = new Map<number, Waiter>()
  #nextId = 1
  #closed: QuorateError | null = null
  readonly ready: Promise<void>

  constructor (address: TcpAddress, node: NodeId, credentials: ClientCredentials, maxFrameBytes: number) {
    const socket = credentials.insecure === true
      ? net.connect({ host: address.host, port: address.port, noDelay: true })
      : tls.connect({ host: address.host, port: address.port, ...nodeTlsOptions(credentials, node) })
    socket.setNoDelay(true)
    this.#socket = socket
    this.#writer = new CorkedWriter(socket)
    socket.on('error', (err) => { this.#fail(new QuorateError('TRANSPORT_CLOSED', `connection to ${node} at ${address.host}:${address.port} failed: ${err.message}`, { cause: err })) })
    socket.once('close', () => { this.#fail(new QuorateError('TRANSPORT_CLOSED', `connection to ${node} closed`)) })
    this.ready = new Promise<void>((resolve, reject) => {
      let head = Buffer.alloc(0)
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk])
        const end = head.indexOf('\r\n\r\n')
        if (end < 0) {
          if (head.length > MAX_RESPONSE_HEAD_BYTES) socket.destroy()
          return
        }
        const lines = head.subarray(0, end).toString('latin1').split('\r\n')
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0)
        if (status === 101) {
          socket.off('data', onData)
          const read = frameReader(maxFrameBytes, (id, kind, body) => { this.#settle(id, kind, body) }, () => { socket.destroy() })
          socket.on('data', read)
          resolve()
          if (head.length > end + 4) read(head.subarray(end + 4))
          return
        }
        // A refusal: the body is a ClientFailure; wait for all of it (the node closes after it).
        const length = Number(lines.find((l) => /^content-length:/i.test(l))?.split(':')[1] ?? -1)
        const body = head.subarray(end + 4)
        if (length >= 0 && body.length < length) return
        socket.off('data', onData)
        let failure: QuorateError
        try {
          failure = toQuorateError(JSON.parse(body.toString('utf8')) as Record<string, unknown>, 'CLUSTER_REQUEST_INVALID')
        } catch {
          failure = new QuorateError('CLUSTER_REQUEST_INVALID', `node ${node} refused the upgrade: ${lines[0] ?? ''}`)
        }
        this.#closed = failure
        reject(failure)
        socket.destroy()
      }
      socket.on('data', onData)
      socket.once('close', () => { reject(this.#closed ?? new QuorateError('TRANSPORT_CLOSED', `connection to ${node} closed before the upgrade`)) })
      const auth = credentials.token === undefined ? '' : `authorization: Bearer ${credentials.token}\r\n`
      socket.write(`GET / HTTP/1.1\r\nhost: ${address.host}\r\nconnection: Upgrade\r\nupgrade: ${STREAM_PROTOCOL}\r\n${auth}\r\n`)
    })
    this.ready.catch(() => {})
  }

  /** True once the connection failed or closed (a pool replaces it). */
  get closed (): boolean { return this.#closed !== null }

  /** In-flight requests. */
  get pending (): number { return this.#waiters.size }

  /**
   * Sends one request (`prefix` + `body`); resolves with the decoded result (a QuorateError
   * value for STATUS_ERROR_VALUE). `settleOnAbort: false` skips listening on `signal` when the
   * caller gives up by itself (ClientSession settles an attempt at its own timeout): the
   * waiter then lives until the node answers (within its request timeout) or the connection
   * closes, and the listener's cost is saved on every proposal.
   */
  async request (op: number, body: Uint8Array, signal?: AbortSignal, prefix?: Uint8Array, settleOnAbort = true): Promise<unknown> {
    if (this.#closed !== null) throw this.#closed
    if (signal?.aborted === true) throw abortError(signal)
    const id = this.#nextId
    this.#nextId = this.#nextId === 0xffffffff ? 1 : this.#nextId + 1
    return await new Promise<unknown>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined }
      if (signal !== undefined && settleOnAbort) {
        waiter.onAbort = () => { if (this.#waiters.delete(id)) reject(abortError(signal)) }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      this.#waiters.set(id, waiter)
      this.#writer.push(encodeFrame(id, op, body, prefix))
    })
  }

  close (): void { this.#socket.destroy() }

  #settle (id: number, status: number, body: Buffer): void {
    const w = this.#waiters.get(id)
    if (w === undefined) {
      // Id 0 answers a frame the node could not read (too large): the stream is now unusable.
      if (id === 0 && status === STATUS_FAILED) this.#fail(toQuorateError(JSON.parse(body.toString('utf8')) as Record<string, unknown>, 'CLUSTER_REQUEST_INVALID'))
      return
    }
    this.#waiters.delete(id)
    if (w.onAbort !== undefined) w.signal!.removeEventListener('abort', w.onAbort)
    try {
      if (status === STATUS_OK) w.resolve(jsonResultCodec.decode(body))
      else if (status === STATUS_ERROR_VALUE) w.resolve(toQuorateError(JSON.parse(body.toString('utf8')) as Record<string, unknown>, 'NODE_FAILED'))
      else w.reject(toQuorateError(JSON.parse(body.toString('utf8')) as Record<string, unknown>, 'NODE_FAILED'))
    } catch (err) {
      w.reject(new QuorateError('CLUSTER_REQUEST_INVALID', `undecodable answer from the node: ${(err as Error).message}`, { cause: err }))
    }
  }

  #fail (err: QuorateError): void {
    if (this.#closed === null) this.#closed = err
    const failure = this.#closed
    for (const [id, w] of this.#waiters) {
      this.#waiters.delete(id)
      if (w.onAbort !== undefined) w.signal!.removeEventListener('abort', w.onAbort)
      w.reject(failure)
    }
    this.#socket.destroy()
  }
}

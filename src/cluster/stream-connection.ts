/**
 * The client half of the binary protocol (wire.ts): one TLS (or, if insecure, TCP) connection
 * to a node's client endpoint, upgraded with `Upgrade: quorate-client/1`, carrying any number
 * of requests at once. Requests pushed in one event-loop turn are encoded into one buffer and
 * leave in one socket write (FrameBatch).
 *
 * Invariants: every request settles — with its answer, with ABORTED when its signal fires,
 * with RAFT_TIMEOUT once it waited `requestTimeoutMs` (swept per connection: deadlines.ts, no
 * timer per request), or with TRANSPORT_CLOSED when the connection fails, closes or is not
 * upgraded within `requestTimeoutMs` (all retryable: the request may or may not have reached
 * the node). A refused upgrade rejects `connect` with the node's code
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
import { PendingDeadlines } from './deadlines.js'
import { FrameBatch, frameReader, OP_PROPOSE, STATUS_ERROR_VALUE, STATUS_FAILED, STATUS_OK, STREAM_PROTOCOL } from './wire.js'

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
  readonly op: number
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
  readonly #batch: FrameBatch
  readonly #waiters = new Map<number, Waiter>()
  readonly #deadlines: PendingDeadlines<number>
  readonly #onProposed: (() => void) | undefined
  #nextId = 1
  #closed: QuorateError | null = null
  #upgraded = false
  readonly ready: Promise<void>

  /**
   * `requestTimeoutMs` bounds the upgrade and every request (a request then rejects
   * RAFT_TIMEOUT); `onProposed` runs whenever the node answers a proposal (so it leads).
   */
  constructor (address: TcpAddress, node: NodeId, credentials: ClientCredentials, maxFrameBytes: number, requestTimeoutMs: number, onProposed?: () => void) {
    this.#onProposed = onProposed
    this.#deadlines = new PendingDeadlines<number>(requestTimeoutMs, (id) => {
      const w = this.#waiters.get(id)
      if (w === undefined) return
      this.#forget(id, w)
      w.reject(new QuorateError('RAFT_TIMEOUT', `no answer from ${node} within ${requestTimeoutMs} ms (a proposal may still commit; a retry is deduplicated)`))
    }, { sweepMs: Math.max(1, Math.min(1000, Math.ceil(requestTimeoutMs / 4))) })
    const socket = credentials.insecure === true
      ? net.connect({ host: address.host, port: address.port, noDelay: true })
      : tls.connect({ host: address.host, port: address.port, ...nodeTlsOptions(credentials, node) })
    socket.setNoDelay(true)
    this.#socket = socket
    this.#batch = new FrameBatch(socket)
    socket.on('error', (err) => { this.#fail(new QuorateError('TRANSPORT_CLOSED', `connection to ${node} at ${address.host}:${address.port} failed: ${err.message}`, { cause: err })) })
    socket.once('close', () => { this.#fail(new QuorateError('TRANSPORT_CLOSED', `connection to ${node} closed`)) })
    // One timer per connection: a node that accepts but never upgrades (or a black-holed
    // handshake) fails the connection, so a request waiting for `ready` still settles.
    const upgradeTimer = setTimeout(() => { if (!this.#upgraded) socket.destroy() }, requestTimeoutMs)
    upgradeTimer.unref()
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
          clearTimeout(upgradeTimer)
          this.#upgraded = true
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
      socket.once('close', () => { clearTimeout(upgradeTimer); reject(this.#closed ?? new QuorateError('TRANSPORT_CLOSED', `connection to ${node} closed before the upgrade`)) })
      const auth = credentials.token === undefined ? '' : `authorization: Bearer ${credentials.token}\r\n`
      socket.write(`GET / HTTP/1.1\r\nhost: ${address.host}\r\nconnection: Upgrade\r\nupgrade: ${STREAM_PROTOCOL}\r\n${auth}\r\n`)
    })
    this.ready.catch(() => {})
  }

  /** True once the connection failed or closed (a pool replaces it). */
  get closed (): boolean { return this.#closed !== null }

  /** True once upgraded (requests may be sent) and not closed: `ready` need not be awaited. */
  get usable (): boolean { return this.#upgraded && this.#closed === null }

  /** In-flight requests. */
  get pending (): number { return this.#waiters.size }

  /**
   * Sends one request (`prefix` + `body`) once `ready` resolved; resolves with the decoded
   * result (a QuorateError value for STATUS_ERROR_VALUE). Not async, and no timer: one
   * promise, one waiter and (only with a signal) one listener per request.
   */
  request (op: number, body: Uint8Array, signal?: AbortSignal, prefix?: Uint8Array): Promise<unknown> {
    if (this.#closed !== null) return Promise.reject(this.#closed)
    if (signal?.aborted === true) return Promise.reject(abortError(signal))
    const id = this.#nextId
    this.#nextId = this.#nextId === 0xffffffff ? 1 : this.#nextId + 1
    return new Promise<unknown>((resolve, reject) => {
      const waiter: Waiter = { op, resolve, reject, signal, onAbort: undefined }
      if (signal !== undefined) {
        waiter.onAbort = () => {
          if (this.#waiters.get(id) !== waiter) return
          this.#forget(id, waiter)
          reject(abortError(signal))
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      this.#waiters.set(id, waiter)
      this.#deadlines.start(id)
      this.#batch.push(id, op, body, prefix)
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
    this.#forget(id, w)
    if (w.op === OP_PROPOSE && status !== STATUS_FAILED) this.#onProposed?.()
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
      this.#forget(id, w)
      w.reject(failure)
    }
    this.#deadlines.expireAll(failure)
    this.#socket.destroy()
  }

  /** Drops a settled request's waiter, deadline and abort listener. */
  #forget (id: number, w: Waiter): void {
    this.#waiters.delete(id)
    this.#deadlines.done(id)
    if (w.onAbort !== undefined) w.signal!.removeEventListener('abort', w.onAbort)
  }
}

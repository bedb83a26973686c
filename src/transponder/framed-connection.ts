/**
 * One framed connection, shared by the downlink (wire.ts) and the uplink (uplink-wire.ts):
 * length-prefixed frames (the transport's FrameDecoder) decoded by the wire's codec, answers
 * matched to requests by their request number.
 *
 * Invariants: every request settles — with its answer, or rejected with the connection's
 * `failure` error when the connection closes or the caller's signal fires; a frame that does
 * not decode (a QuorateError from the codec or the decoder) is reported to `onMalformed` and
 * closes this one connection, never the process.
 */
import * as net from 'node:net'
import * as tls from 'node:tls'
import { QuorateError, isQuorateError } from '../errors.js'
import { FrameDecoder } from '../transport/framing.js'
import { certificateIdentity } from '../transport/tcp.js'
import type { TcpAddress, TcpTlsOptions } from '../transport/tcp.js'

export interface FrameCodec<F> {
  encode: (frame: F) => Uint8Array
  decode: (body: Uint8Array) => F
}

interface Waiting<F> { resolve: (frame: F) => void, reject: (err: unknown) => void }

export class FramedConnection<F> {
  readonly socket: net.Socket
  readonly #codec: FrameCodec<F>
  readonly #failure: (why: string) => QuorateError
  readonly #decoder: FrameDecoder
  readonly #waiting = new Map<number, Waiting<F>>()
  #nextRequest = 1
  closed = false
  #broken = false
  /** When the oldest heartbeat not followed by any frame from the peer was sent, or -1. */
  unansweredSince = -1
  onFrame: (frame: F) => void = () => {}
  onClose: () => void = () => {}
  /** Called with the decode error before a malformed peer's connection is destroyed (to tell it why). */
  onMalformed: (err: QuorateError) => void = () => {}

  constructor (socket: net.Socket, maxFrameBytes: number, codec: FrameCodec<F>, failure: (why: string) => QuorateError) {
    this.socket = socket
    this.#codec = codec
    this.#failure = failure
    this.#decoder = new FrameDecoder(maxFrameBytes)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => { this.#data(chunk) })
    socket.on('error', () => {}) // 'close' follows and settles everything
    socket.on('close', () => { this.#closed() })
  }

  /** Requests waiting for their answer. */
  get waiting (): number { return this.#waiting.size }

  write (frame: F): void {
    if (!this.closed) this.socket.write(this.#codec.encode(frame))
  }

  /** Sends a request frame built around a fresh request number; resolves with the matching answer. */
  request (build: (request: number) => F, signal: AbortSignal | undefined): Promise<F> {
    if (this.closed) return Promise.reject(this.#failure('the connection is closed'))
    const request = this.#nextRequest
    this.#nextRequest = this.#nextRequest >= 0xfffffffe ? 1 : this.#nextRequest + 1
    return new Promise((resolve, reject) => {
      const onAbort = (): void => { this.#waiting.delete(request); reject(signal!.reason ?? this.#failure('aborted')) }
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
  answer (request: number, frame: F): void {
    const w = this.#waiting.get(request)
    if (w === undefined) return
    this.#waiting.delete(request)
    w.resolve(frame)
  }

  /** Rejects every waiting request with `err` (a peer that said why it gives up), then closes. */
  fail (err: unknown): void {
    for (const w of this.#waiting.values()) w.reject(err)
    this.#waiting.clear()
    this.destroy()
  }

  destroy (): void { this.socket.destroy() }

  #data (chunk: Buffer): void {
    if (this.#broken) return
    try {
      this.#decoder.push(chunk)
      for (let body = this.#decoder.next(); body !== null; body = this.#decoder.next()) {
        this.unansweredSince = -1
        this.onFrame(this.#codec.decode(body))
      }
    } catch (err) {
      if (!isQuorateError(err)) throw err
      this.#broken = true
      this.onMalformed(err)
      this.socket.end() // flushes what onMalformed wrote, then closes
      this.socket.destroySoon()
    }
  }

  #closed (): void {
    if (this.closed) return
    this.closed = true
    const err = this.#failure('the connection closed')
    for (const w of this.#waiting.values()) w.reject(err)
    this.#waiting.clear()
    this.onClose()
  }
}

/**
 * Listens for framed peers: with `tls` a mutual-TLS 1.3 server whose peers are named by their
 * certificate (quorate://node/<id>; a certificate without one is refused), otherwise plain TCP
 * (`identity` null: the peer names itself in a hello). Resolves once listening.
 */
export async function listenFramed (
  listen: TcpAddress, tlsOptions: TcpTlsOptions | undefined, accept: (socket: net.Socket, identity: string | null) => void
): Promise<net.Server> {
  const server = tlsOptions === undefined
    ? net.createServer((s) => { accept(s, null) })
    : tls.createServer({
      key: tlsOptions.key, cert: tlsOptions.cert, ca: tlsOptions.ca as tls.SecureContextOptions['ca'], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3'
    }, (s) => {
      const identity = certificateIdentity(s.getPeerCertificate())
      if (identity === null) s.destroy()
      else accept(s, identity)
    })
  server.on('error', () => {})
  if (server instanceof tls.Server) server.on('tlsClientError', () => {})
  server.maxConnections = 1_000_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(listen.port, listen.host, () => { server.off('error', reject); resolve() })
  })
  return server
}

/** The address a framed server listens on (NODE_NOT_OPEN if it does not). */
export function listeningAddress (server: net.Server | undefined, what: string): TcpAddress {
  const a = server?.address()
  if (a === null || a === undefined || typeof a === 'string') throw new QuorateError('NODE_NOT_OPEN', `The ${what} is not listening`)
  return { host: a.address, port: a.port }
}

/** Closes a framed server and every socket it accepted. */
export async function closeFramed (server: net.Server | undefined, sockets: Iterable<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy()
  if (server !== undefined) await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
}

/** Dials a framed peer: with `tls`, mutual TLS 1.3 and the peer's certificate must name `peer`. */
export function dialFramed (address: TcpAddress, tlsOptions: TcpTlsOptions | undefined, peer: string): net.Socket {
  return tlsOptions === undefined
    ? net.connect({ host: address.host, port: address.port })
    : tls.connect({
      host: address.host, port: address.port, key: tlsOptions.key, cert: tlsOptions.cert, ca: tlsOptions.ca as tls.SecureContextOptions['ca'],
      minVersion: 'TLSv1.3', servername: undefined, checkServerIdentity: (_host, cert) => certificateIdentity(cert) === peer ? undefined : new Error(`not ${peer}`)
    })
}

/**
 * Options of `tcpTransport`: the interface, the defaults as named constants, and validation
 * (OPTIONS_INVALID naming the first bad field).
 */
import { QuorateError } from '../errors.js'
import type { Message, NodeId } from '../raft/types.js'
import type { Clock } from '../util/clock.js'
import type { Random } from '../util/random.js'
import { DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT } from './framing.js'

export interface TcpAddress {
  readonly host: string
  /** 1..65535 for a peer; 0 in `listen` picks a free port (see `address()`). */
  readonly port: number
}

export interface TcpTlsOptions {
  /** This node's PEM private key. */
  readonly key: string | Buffer
  /** This node's PEM certificate, signed by the cluster CA, with SAN URI quorate://node/<id>. */
  readonly cert: string | Buffer
  /** The cluster CA certificate(s) that peers' certificates must chain to. */
  readonly ca: string | Buffer | ReadonlyArray<string | Buffer>
}

/** Default per-peer limit on bytes waiting in the socket: 8 MiB. */
export const DEFAULT_MAX_QUEUE_BYTES = 8 * 1024 * 1024
/** Default time allowed for connect + TLS + hello exchange. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000
/** Default delay before the first redial after a failed dial. */
export const DEFAULT_RECONNECT_MIN_MS = 50
/** Default cap on the redial delay. */
export const DEFAULT_RECONNECT_MAX_MS = 5000
/**
 * Default cap on inbound connections not yet authenticated (TLS handshake and hello not both
 * done). Beyond it new sockets are destroyed at once, so idle or slow unauthenticated
 * clients cannot exhaust sockets and memory; members reconnect with backoff.
 */
export const DEFAULT_MAX_UNAUTHENTICATED_CONNECTIONS = 64
/** Largest hello frame accepted before the handshake completes (unauthenticated input stays small). */
export const MAX_HELLO_BYTES = 4096

export interface TcpTransportOptions {
  /** This node's id. */
  readonly id: NodeId
  /** Cluster id; a peer with another one is refused (WIRE_CLUSTER_MISMATCH). */
  readonly clusterId: string
  /** Where to accept connections; port 0 picks a free port. */
  readonly listen: TcpAddress
  /** Addresses of the other members. Only these may connect. Changeable with setPeers/addPeer/removePeer. @default {} */
  readonly peers?: Readonly<Record<NodeId, TcpAddress>>
  /** Mutual TLS material. Required unless `insecure` is true. @default undefined */
  readonly tls?: TcpTlsOptions
  /** Plain TCP without authentication: peers are who their hello says. Must be explicit. @default false */
  readonly insecure?: boolean
  /** Largest frame body sent or accepted; larger incoming frames close the connection. @default DEFAULT_MAX_FRAME_BYTES (16 MiB) */
  readonly maxFrameBytes?: number
  /** Per peer: once this many bytes wait to be written, further messages are dropped. @default DEFAULT_MAX_QUEUE_BYTES (8 MiB) */
  readonly maxQueueBytes?: number
  /**
   * Time allowed for TCP connect, TLS and the hello exchange, in both directions: an inbound
   * socket that has not completed TLS and sent a valid hello this long after it was accepted
   * is destroyed (counted in `rejectedHandshakeTimeout`). @default DEFAULT_CONNECT_TIMEOUT_MS (5000)
   */
  readonly connectTimeoutMs?: number
  /**
   * Inbound connections accepted but not yet authenticated (TLS + hello) that may exist at
   * once; further sockets are destroyed on accept (counted in `rejectedTooManyPending`).
   * @default DEFAULT_MAX_UNAUTHENTICATED_CONNECTIONS (64)
   */
  readonly maxUnauthenticatedConnections?: number
  /** Redial delay after the first failed dial; doubles per failure, with jitter. @default DEFAULT_RECONNECT_MIN_MS (50) */
  readonly reconnectMinMs?: number
  /** Cap on the redial delay. @default DEFAULT_RECONNECT_MAX_MS (5000) */
  readonly reconnectMaxMs?: number
  /** @default systemClock */
  readonly clock?: Clock
  /** Jitter for redial delays. @default systemRandom */
  readonly random?: Random
  /** Told about every refused connection, bad frame and dropped message that indicates a fault. @default undefined (only counted) */
  readonly onError?: (error: QuorateError) => void
  /** Told about every exception the message handler throws (the message still counts as received). @default undefined (only counted) */
  readonly onHandlerError?: (error: unknown, message: Message) => void
}

function invalid (field: string, expectation: string, value: unknown): QuorateError {
  let shown: string
  try { shown = JSON.stringify(value) ?? String(value) } catch { shown = String(value) }
  return new QuorateError('OPTIONS_INVALID', `tcpTransport: option "${field}" must be ${expectation} (got ${shown})`, { details: { field } })
}

function checkAddress (address: TcpAddress | undefined, field: string, minPort: number): void {
  if (typeof address !== 'object' || address === null || typeof address.host !== 'string' || address.host.length === 0) {
    throw invalid(field, 'an object { host, port } with a non-empty host', address)
  }
  if (!Number.isSafeInteger(address.port) || address.port < minPort || address.port > 65535) {
    throw invalid(`${field}.port`, `an integer in [${minPort}, 65535]`, address.port)
  }
}

function checkInteger (value: number, field: string, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw invalid(field, `an integer in [${min}, ${max}]`, value)
}

/** Throws OPTIONS_INVALID naming the first bad field. */
export function validateTcpTransportOptions (options: TcpTransportOptions): void {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options)
  if (typeof options.id !== 'string' || options.id.length === 0) throw invalid('id', 'a non-empty string', options.id)
  if (typeof options.clusterId !== 'string' || options.clusterId.length === 0) throw invalid('clusterId', 'a non-empty string', options.clusterId)
  checkAddress(options.listen, 'listen', 0)
  for (const [id, address] of Object.entries(options.peers ?? {})) checkPeer(id, address)
  if (options.insecure !== undefined && typeof options.insecure !== 'boolean') throw invalid('insecure', 'a boolean', options.insecure)
  if (options.tls === undefined) {
    if (options.insecure !== true) throw invalid('tls', 'set (mutual TLS) unless insecure: true is given explicitly', undefined)
  } else {
    const t = options.tls
    if (typeof t !== 'object' || t === null || t.key === undefined || t.cert === undefined || t.ca === undefined) {
      throw invalid('tls', 'an object { key, cert, ca }', t === undefined ? undefined : Object.keys(t))
    }
    if (options.insecure === true) throw invalid('insecure', 'false or absent when tls is set', true)
  }
  checkInteger(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes', 1024, MAX_FRAME_BYTES_LIMIT)
  checkInteger(options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES, 'maxQueueBytes', 1, Number.MAX_SAFE_INTEGER)
  checkInteger(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs', 1, 2 ** 31 - 1)
  checkInteger(options.maxUnauthenticatedConnections ?? DEFAULT_MAX_UNAUTHENTICATED_CONNECTIONS, 'maxUnauthenticatedConnections', 1, 2 ** 31 - 1)
  const min = options.reconnectMinMs ?? DEFAULT_RECONNECT_MIN_MS
  checkInteger(min, 'reconnectMinMs', 0, 2 ** 31 - 1)
  checkInteger(options.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS, 'reconnectMaxMs', min, 2 ** 31 - 1)
  if (options.onError !== undefined && typeof options.onError !== 'function') throw invalid('onError', 'a function', typeof options.onError)
  if (options.onHandlerError !== undefined && typeof options.onHandlerError !== 'function') {
    throw invalid('onHandlerError', 'a function', typeof options.onHandlerError)
  }
}

/** Throws OPTIONS_INVALID unless `address` is a usable peer address. */
export function checkPeer (id: NodeId, address: TcpAddress): void {
  if (id.length === 0) throw invalid('peers', 'keyed by non-empty node ids', '')
  checkAddress(address, `peers.${id}`, 1)
}

/**
 * `tcpTransport`: Raft messages over TCP, with mutual TLS by default, in length-prefixed
 * protobuf frames (proto/quorate.proto, framing.ts, codec.ts).
 *
 * Connections. There is one connection per pair of nodes, used in both directions. A node
 * dials a peer lazily, when it has a message for it and no connection. If both sides dial
 * at once, the connection dialed by the node with the lower id (JavaScript string order)
 * wins: the higher node drops its own dial when the lower node's hello arrives, and the
 * lower node refuses the higher node's hello while its own dial is in progress or open.
 *
 * Handshake. The dialer sends a `hello` (version, cluster id, its id, the id it wants to
 * reach); the acceptor checks it and answers with its own hello, which the dialer checks
 * the same way. With TLS both sides present certificates signed by the cluster CA, and a
 * certificate's identity is its URI SAN `quorate://node/<id>` (tls-certs.ts): the hello's
 * sender and the `from` of every message on the connection must equal it.
 *
 * Sending never blocks and never queues without bound: messages queued in one turn of the
 * event loop go out in one frame and one `socket.write` (flushed with setImmediate); a
 * message for a peer whose socket buffer already holds `maxQueueBytes` is dropped and
 * counted, as is one for a peer that is unreachable (Raft retries on its own schedule).
 */
import * as net from 'node:net'
import * as tls from 'node:tls'
import { QuorateError, type ErrorCode } from '../errors.js'
import type { ComponentStatus } from '../util/lifecycle.js'
import { Lifecycle } from '../util/lifecycle.js'
import type { Message, NodeId } from '../raft/types.js'
import { systemClock, type Clock, type Timer } from '../util/clock.js'
import { systemRandom, type Random } from '../util/random.js'
import { decodeFrame, WIRE_VERSION, type WireFrame } from './codec.js'
import { DEFAULT_MAX_FRAME_BYTES, encodeLengthPrefixed, FRAME_HEADER_BYTES } from './framing.js'
import type { MessageHandler, Transport, TransportStats } from './transport.js'
import {
  checkPeer, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_QUEUE_BYTES, DEFAULT_MAX_UNAUTHENTICATED_CONNECTIONS, DEFAULT_RECONNECT_MAX_MS, DEFAULT_RECONNECT_MIN_MS,
  validateTcpTransportOptions, type TcpAddress, type TcpTlsOptions, type TcpTransportOptions
} from './tcp-options.js'
import { certificateIdentity, serverTlsOptions } from './tcp-identity.js'
import { backoffMs, Connection, estimatedSize, Peer, type Socket } from './tcp-connection.js'

/** Names an inbound socket in the unauthenticated set and in log messages: its remote address and port. */
function socketKey (socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
}

/**
 * Node's own TLS handshakeTimeout is set this much beyond connectTimeoutMs: a backstop only,
 * so the admission deadline (which also covers the hello) fires first and counts the rejection.
 */
const TLS_HANDSHAKE_BACKSTOP_MS = 1000

/** Counters kept by `tcpTransport`; `stats()` returns a snapshot. */
export interface TcpTransportStats extends TransportStats {
  /** Messages written to a socket. */
  readonly sent: number
  /** Messages delivered to the handler. */
  readonly received: number
  /** Messages dropped for any reason (the reasons below are counted too). */
  readonly dropped: number
  readonly bytesSent: number
  readonly bytesReceived: number
  readonly framesSent: number
  readonly framesReceived: number
  /** Connections open (handshake complete) now. */
  readonly connections: number
  /** Handshakes completed since open. */
  readonly connectionsOpened: number
  /** Dials to a peer after its first dial. */
  readonly reconnects: number
  /** Dials that ended before their handshake completed. */
  readonly connectFailures: number
  /** Connections refused by this node: TLS failure, bad hello, cluster/version/identity mismatch, non-member, lost dial race. */
  readonly rejected: number
  /** Connections closed because a frame could not be decoded (or was too large). */
  readonly malformed: number
  readonly clusterMismatches: number
  readonly versionMismatches: number
  /** Connections refused and messages dropped whose sender did not match the certificate or hello. */
  readonly identityMismatches: number
  readonly tlsFailures: number
  /** Inbound connections not authenticated (TLS + hello) within connectTimeoutMs of being accepted. */
  readonly rejectedHandshakeTimeout: number
  /** Inbound sockets destroyed on accept because maxUnauthenticatedConnections were already pending. */
  readonly rejectedTooManyPending: number
  /** TLS handshakes refused for the certificate (not from the cluster CA, none, or naming another node when dialing) or other TLS errors. */
  readonly rejectedBadCertificate: number
  /** Inbound connections whose first frame was not an acceptable hello (malformed, other cluster or version, non-member, identity mismatch). */
  readonly rejectedBadHello: number
  /** Inbound connections accepted and not yet authenticated, now. */
  readonly unauthenticatedConnections: number
  /** Connections from nodes that are not in `peers`. */
  readonly nonMembers: number
  readonly backpressureDrops: number
  /** Messages for a node with no known address. */
  readonly unknownPeerDrops: number
  /** Messages dropped because the peer could not be reached (dial failed or backing off). */
  readonly unreachableDrops: number
  /** Messages received whose `to` is not this node. */
  readonly misdirected: number
  /** Messages whose handler threw (also counted in `received`). */
  readonly handlerErrors: number
  /** Bytes waiting now, over all peers: queued for the next flush plus unwritten socket buffers. Each peer's share stays within maxQueueBytes (or one message). */
  readonly queuedBytes: number
}

type Counters = { -readonly [K in keyof TcpTransportStats]: number }

function zeroCounters (): Counters {
  return {
    sent: 0, received: 0, dropped: 0, bytesSent: 0, bytesReceived: 0, framesSent: 0, framesReceived: 0,
    connections: 0, connectionsOpened: 0, reconnects: 0, connectFailures: 0, rejected: 0, malformed: 0,
    clusterMismatches: 0, versionMismatches: 0, identityMismatches: 0, tlsFailures: 0, nonMembers: 0,
    rejectedHandshakeTimeout: 0, rejectedTooManyPending: 0, rejectedBadCertificate: 0, rejectedBadHello: 0, unauthenticatedConnections: 0,
    backpressureDrops: 0, unknownPeerDrops: 0, unreachableDrops: 0, misdirected: 0, handlerErrors: 0, queuedBytes: 0
  }
}

class TcpTransport implements Transport {
  readonly id: NodeId
  readonly #clusterId: string
  readonly #listen: TcpAddress
  readonly #tls: TcpTlsOptions | undefined
  readonly #maxFrameBytes: number
  readonly #maxQueueBytes: number
  readonly #connectTimeoutMs: number
  readonly #reconnectMinMs: number
  readonly #reconnectMaxMs: number
  readonly #clock: Clock
  readonly #random: Random
  readonly #onError: ((error: QuorateError) => void) | undefined
  readonly #onHandlerError: ((error: unknown, message: Message) => void) | undefined

  readonly #peers = new Map<NodeId, Peer>()
  /** Inbound connections still in their handshake (not yet bound to a peer). */
  readonly #handshaking = new Set<Connection>()
  /**
   * Inbound sockets accepted and not yet authenticated, by remote address:port, each with its
   * deadline. Entered on TCP accept (before TLS), left when the hello is accepted or the socket
   * closes; its size never exceeds #maxUnauthenticated.
   */
  readonly #unauthenticated = new Map<string, { readonly socket: net.Socket, readonly timer: Timer }>()
  readonly #maxUnauthenticated: number
  readonly #dirty = new Set<Peer>()
  readonly #counters = zeroCounters()
  /** One-shot: a closed transport's sockets and listener are gone for good. */
  readonly #lifecycle = new Lifecycle('tcpTransport', {
    once: () => new QuorateError('TRANSPORT_CLOSED', 'A closed tcpTransport cannot be reopened; create a new one')
  })
  #server: net.Server | null = null
  #handler: MessageHandler = () => {}
  #flushImmediate: NodeJS.Immediate | null = null

  constructor (options: TcpTransportOptions) {
    validateTcpTransportOptions(options)
    this.id = options.id
    this.#clusterId = options.clusterId
    this.#listen = { host: options.listen.host, port: options.listen.port }
    this.#tls = options.tls
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.#maxQueueBytes = options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    this.#maxUnauthenticated = options.maxUnauthenticatedConnections ?? DEFAULT_MAX_UNAUTHENTICATED_CONNECTIONS
    this.#reconnectMinMs = options.reconnectMinMs ?? DEFAULT_RECONNECT_MIN_MS
    this.#reconnectMaxMs = options.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS
    this.#clock = options.clock ?? systemClock
    this.#random = options.random ?? systemRandom
    this.#onError = options.onError
    this.#onHandlerError = options.onHandlerError
    this.setPeers(options.peers ?? {})
  }

  get status (): ComponentStatus { return this.#status }

  get #status (): ComponentStatus { return this.#lifecycle.status }

  /** The address the listener is bound to (the real port when `listen.port` was 0), or null before open. */
  address (): TcpAddress | null {
    const a = this.#server?.address()
    return a !== null && typeof a === 'object' ? { host: a.address, port: a.port } : null
  }

  /** Replaces the peer set. Connections to removed peers are closed; a changed address closes the old connection. */
  setPeers (peers: Readonly<Record<NodeId, TcpAddress>>): void {
    for (const [id, address] of Object.entries(peers)) checkPeer(id, address)
    for (const id of [...this.#peers.keys()]) if (!Object.hasOwn(peers, id)) this.removePeer(id)
    for (const [id, address] of Object.entries(peers)) this.addPeer(id, address)
  }

  /** Adds a peer or changes its address. */
  addPeer (id: NodeId, address: TcpAddress): void {
    checkPeer(id, address)
    if (id === this.id) return
    const copy = { host: address.host, port: address.port }
    const peer = this.#peers.get(id)
    if (peer === undefined) { this.#peers.set(id, new Peer(id, copy)); return }
    if (peer.address.host === copy.host && peer.address.port === copy.port) return
    peer.address = copy
    peer.failures = 0
    peer.nextDialAt = 0
    if (peer.dialing !== null) this.#destroy(peer.dialing)
    if (peer.conn !== null) this.#destroy(peer.conn)
  }

  /** Forgets a peer: its connection is closed and its messages from then on are refused. */
  removePeer (id: NodeId): void {
    const peer = this.#peers.get(id)
    if (peer === undefined) return
    this.#peers.delete(id)
    this.#dirty.delete(peer)
    this.#clearRaceGrace(peer)
    this.#dropPending(peer, 'unreachableDrops')
    if (peer.dialing !== null) this.#destroy(peer.dialing)
    if (peer.conn !== null) this.#destroy(peer.conn)
  }

  /** Starts listening. Idempotent while open (the first handler stays); rejects with TRANSPORT_CLOSED once closed. */
  open (handler: MessageHandler, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#lifecycle.open(async () => {
      this.#handler = handler
      await this.#startServer(options.signal)
    })
  }

  async #startServer (signal: AbortSignal | undefined): Promise<void> {
    const server = this.#tls === undefined
      ? net.createServer()
      : tls.createServer(serverTlsOptions(this.#tls, this.#connectTimeoutMs + TLS_HANDSHAKE_BACKSTOP_MS), (socket) => this.#accept(socket))
    // Every raw TCP socket passes admission first (for TLS, before the handshake starts; the
    // TLS server's own listener was registered by its constructor, so destroying here ends it).
    server.on('connection', (socket: net.Socket) => {
      if (!this.#admit(socket)) return
      if (this.#tls === undefined) this.#accept(socket)
    })
    server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      const key = socketKey(socket)
      socket.destroy()
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
        // Normally the admission deadline fired first and counted it; count only if it did not.
        if (!this.#unauthenticated.has(key)) return
        this.#authenticated(key, null)
        this.#countRefusal('rejectedHandshakeTimeout', 'WIRE_HANDSHAKE_TIMEOUT', `Closed a connection whose TLS handshake did not finish: ${err.message}`, err)
        return
      }
      this.#counters.tlsFailures++
      this.#countRefusal('rejectedBadCertificate', 'WIRE_TLS_FAILED', `Refused a TLS connection: ${err.message}`, err)
    })
    this.#server = server
    try {
      await new Promise<void>((resolve, reject) => {
        if (signal?.aborted === true) { reject(signal.reason); return }
        const onAbort = (): void => { reject(signal?.reason) }
        signal?.addEventListener('abort', onAbort, { once: true })
        server.once('error', reject)
        server.listen(this.#listen.port, this.#listen.host, () => {
          signal?.removeEventListener('abort', onAbort)
          server.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      if (signal?.aborted === true) throw new QuorateError('ABORTED', 'tcpTransport.open was aborted', { cause: signal.reason })
      throw new QuorateError('OPTIONS_INVALID', `tcpTransport: cannot listen on ${this.#listen.host}:${this.#listen.port}: ${(err as Error).message}`, {
        cause: err, details: { field: 'listen' }
      })
    }
    server.on('error', (err) => this.#report('TRANSPORT_CLOSED', `Listener error: ${err.message}`, err))
  }

  /** Closes every connection and the listener. Idempotent; after it, open() is refused. */
  close (): Promise<void> {
    return this.#lifecycle.close(async () => { await this.#shutDown() })
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  async #shutDown (): Promise<void> {
    this.#handler = () => {}
    if (this.#flushImmediate !== null) clearImmediate(this.#flushImmediate)
    this.#flushImmediate = null
    for (const peer of this.#peers.values()) {
      this.#clearRaceGrace(peer)
      this.#dropPending(peer, 'unreachableDrops')
      if (peer.dialing !== null) this.#destroy(peer.dialing)
      if (peer.conn !== null) this.#destroy(peer.conn)
    }
    for (const conn of [...this.#handshaking]) this.#destroy(conn)
    for (const { socket, timer } of this.#unauthenticated.values()) { this.#clock.clearTimeout(timer); socket.destroy() }
    this.#unauthenticated.clear()
    const server = this.#server
    if (server !== null && server.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  stats (): TcpTransportStats {
    let queuedBytes = 0
    for (const peer of this.#peers.values()) queuedBytes += this.#queuedBytes(peer)
    return { ...this.#counters, queuedBytes, unauthenticatedConnections: this.#unauthenticated.size }
  }

  #queuedBytes (peer: Peer): number {
    return peer.pendingBytes + (peer.conn?.socket.writableLength ?? 0)
  }

  send (messages: readonly Message[]): void {
    const c = this.#counters
    if (this.#status !== 'open') {
      c.dropped += messages.length
      return
    }
    const now = this.#clock.now()
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!
      const peer = this.#peers.get(m.to)
      if (peer === undefined) {
        c.dropped++
        c.unknownPeerDrops++
        continue
      }
      if (peer.conn === null && peer.dialing === null && now < peer.nextDialAt && peer.raceGrace === null) {
        c.dropped++
        c.unreachableDrops++
        continue
      }
      const size = estimatedSize(m)
      const queued = this.#queuedBytes(peer)
      if (queued > 0 && queued + size > this.#maxQueueBytes) {
        c.dropped++
        c.backpressureDrops++
        continue
      }
      peer.pending.push(m)
      peer.pendingBytes += size
      this.#dirty.add(peer)
    }
    this.#scheduleFlush()
  }

  /** One flush per turn of the event loop: everything sent in the turn shares frames and writes. */
  #scheduleFlush (): void {
    if (this.#dirty.size > 0 && this.#flushImmediate === null && this.#status === 'open') {
      this.#flushImmediate = setImmediate(() => this.#flush())
    }
  }

  #flush (): void {
    this.#flushImmediate = null
    for (const peer of this.#dirty) {
      if (peer.conn !== null) {
        const messages = peer.pending
        peer.pending = []
        peer.pendingBytes = 0
        this.#write(peer.conn, messages)
      } else if (peer.dialing === null && peer.raceGrace === null) {
        this.#dial(peer)
      }
      // else: the dial in progress (or the peer's own dial, during a race grace) flushes
      // `pending` when its handshake completes.
    }
    this.#dirty.clear()
  }

  /** Encodes `messages` into as few frames as maxFrameBytes allows and writes them at once. */
  #write (conn: Connection, messages: readonly Message[]): void {
    const frames: Buffer[] = []
    this.#encodeInto(frames, messages)
    if (frames.length === 0) return
    const socket = conn.socket
    if (frames.length > 1) socket.cork()
    for (const frame of frames) socket.write(frame)
    if (frames.length > 1) socket.uncork()
  }

  #encodeInto (frames: Buffer[], messages: readonly Message[]): void {
    const c = this.#counters
    let frame: Buffer
    try {
      frame = encodeLengthPrefixed({ kind: 'raft', version: WIRE_VERSION, clusterId: '', sender: '', messages })
    } catch (err) {
      if (messages.length > 1) { this.#split(frames, messages); return }
      c.dropped++
      if (err instanceof QuorateError) this.#onErrorSafe(err)
      return
    }
    if (frame.length - FRAME_HEADER_BYTES > this.#maxFrameBytes) {
      if (messages.length > 1) { this.#split(frames, messages); return }
      c.dropped++
      this.#report('WIRE_FRAME_TOO_LARGE', `Dropped a ${messages[0]!.type} message of ${frame.length} bytes: above maxFrameBytes (${this.#maxFrameBytes})`)
      return
    }
    frames.push(frame)
    c.sent += messages.length
    c.framesSent++
    c.bytesSent += frame.length
  }

  #split (frames: Buffer[], messages: readonly Message[]): void {
    const half = messages.length >>> 1
    this.#encodeInto(frames, messages.slice(0, half))
    this.#encodeInto(frames, messages.slice(half))
  }

  #dropPending (peer: Peer, reason: 'unreachableDrops' | 'backpressureDrops'): void {
    const n = peer.pending.length
    if (n === 0) return
    this.#counters.dropped += n
    this.#counters[reason] += n
    peer.pending = []
    peer.pendingBytes = 0
  }

  #dial (peer: Peer): void {
    peer.dials++
    if (peer.dials > 1) this.#counters.reconnects++
    const { host, port } = peer.address
    let conn: Connection | null = null
    const socket = this.#tls === undefined
      ? net.connect({ host, port })
      : tls.connect({
        host,
        port,
        key: this.#tls.key,
        cert: this.#tls.cert,
        ca: this.#tls.ca as tls.SecureContextOptions['ca'],
        minVersion: 'TLSv1.3',
        checkServerIdentity: (_host, cert) => {
          if (certificateIdentity(cert) === peer.id) return undefined
          if (conn !== null) conn.identityRefused = true
          return new Error(`server certificate does not name node ${peer.id}`)
        }
      })
    conn = new Connection(socket, true, peer.id)
    peer.dialing = conn
    const dialed = conn
    this.#attach(dialed)
    socket.once(this.#tls === undefined ? 'connect' : 'secureConnect', () => {
      if (dialed.state === 'handshaking') this.#sendHello(dialed)
    })
  }

  /**
   * Admits a freshly accepted TCP socket as unauthenticated, or destroys it if the cap is
   * reached. The deadline runs from accept, so TLS and the hello together get connectTimeoutMs.
   */
  #admit (socket: net.Socket): boolean {
    const key = socketKey(socket)
    if (this.#status !== 'open' || socket.remotePort === undefined || this.#unauthenticated.has(key)) { socket.destroy(); return false }
    if (this.#unauthenticated.size >= this.#maxUnauthenticated) {
      socket.destroy()
      this.#countRefusal('rejectedTooManyPending', 'WIRE_TOO_MANY_PENDING', `Closed a connection from ${key}: ${this.#maxUnauthenticated} connections are already waiting to authenticate`)
      return false
    }
    const timer = this.#clock.setTimeout(() => {
      if (this.#unauthenticated.get(key)?.socket !== socket) return
      this.#unauthenticated.delete(key)
      this.#countRefusal('rejectedHandshakeTimeout', 'WIRE_HANDSHAKE_TIMEOUT', `Closed a connection from ${key}: not authenticated within ${this.#connectTimeoutMs} ms`)
      socket.destroy()
    }, this.#connectTimeoutMs)
    this.#unauthenticated.set(key, { socket, timer })
    socket.once('close', () => this.#authenticated(key, socket))
    return true
  }

  /** Removes an inbound socket from the unauthenticated set (hello accepted, or closed). */
  #authenticated (key: string | null, socket: net.Socket | null): void {
    if (key === null) return
    const entry = this.#unauthenticated.get(key)
    if (entry === undefined || (socket !== null && entry.socket !== socket)) return
    this.#clock.clearTimeout(entry.timer)
    this.#unauthenticated.delete(key)
  }

  #accept (socket: Socket): void {
    if (this.#status !== 'open') { socket.destroy(); return }
    const conn = new Connection(socket, false, null)
    conn.pendingKey = socketKey(socket)
    this.#handshaking.add(conn)
    this.#attach(conn)
  }

  #attach (conn: Connection): void {
    const socket = conn.socket
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 10_000)
    // Inbound connections run on the admission deadline (#admit), which started at accept.
    if (conn.outbound) {
      conn.timer = this.#clock.setTimeout(() => {
        conn.timer = null
        if (conn.state === 'handshaking') this.#destroy(conn)
      }, this.#connectTimeoutMs)
    }
    socket.on('data', (chunk: Buffer) => this.#onData(conn, chunk))
    socket.on('error', (err: Error & { code?: string }) => this.#onSocketError(conn, err))
    socket.on('close', () => this.#onClose(conn))
  }

  #onSocketError (conn: Connection, err: Error & { code?: string }): void {
    if (conn.state !== 'handshaking' || !conn.outbound) return
    if (conn.identityRefused) {
      this.#counters.identityMismatches++
      this.#countRefusal('rejectedBadCertificate', 'WIRE_IDENTITY_MISMATCH', `Node ${conn.peerId ?? '?'} presented a certificate for another node`, err)
    } else if (conn.socket instanceof tls.TLSSocket && (err.code?.startsWith('ERR_SSL') === true || /certificate|alert/i.test(err.message))) {
      this.#counters.tlsFailures++
      this.#countRefusal('rejectedBadCertificate', 'WIRE_TLS_FAILED', `TLS handshake with ${conn.peerId ?? '?'} failed: ${err.message}`, err)
    }
  }

  #onData (conn: Connection, chunk: Buffer): void {
    if (conn.state === 'closed') return
    this.#counters.bytesReceived += chunk.length
    try {
      conn.decoder.push(chunk)
      let bytes: Uint8Array | null
      // The handler or a refusal may close the connection mid-chunk; stop reading then.
      while (!conn.closed && (bytes = conn.decoder.next()) !== null) {
        this.#counters.framesReceived++
        const frame = decodeFrame(bytes)
        if (conn.state === 'handshaking') this.#onHello(conn, frame)
        else this.#onFrame(conn, frame)
      }
    } catch (err) {
      this.#refuse(conn, err as QuorateError)
    }
  }

  /** Checks a hello (first frame in each direction) and, if it is acceptable, opens the connection. */
  #onHello (conn: Connection, frame: WireFrame): void {
    if (frame.kind !== 'hello') throw new QuorateError('WIRE_MALFORMED', 'Expected a hello as the first frame')
    if (frame.clusterId !== this.#clusterId) {
      throw new QuorateError('WIRE_CLUSTER_MISMATCH', `Peer ${frame.sender} belongs to cluster ${frame.clusterId}, not ${this.#clusterId}`, {
        details: { clusterId: frame.clusterId }
      })
    }
    const sender = frame.sender
    if (conn.outbound ? sender !== conn.peerId : !this.#peers.has(sender)) {
      if (!conn.outbound) {
        this.#counters.nonMembers++
        throw new QuorateError('WIRE_IDENTITY_MISMATCH', `Refused a connection from ${sender}: not a member`, { details: { sender } })
      }
      throw new QuorateError('WIRE_IDENTITY_MISMATCH', `Dialed ${conn.peerId ?? '?'} but ${sender} answered`, { details: { sender } })
    }
    if (frame.to !== this.id) {
      throw new QuorateError('WIRE_IDENTITY_MISMATCH', `Hello from ${sender} is meant for ${frame.to}, not ${this.id}`, { details: { sender, to: frame.to } })
    }
    if (conn.socket instanceof tls.TLSSocket) {
      const identity = certificateIdentity(conn.socket.getPeerCertificate())
      if (identity !== sender) {
        throw new QuorateError('WIRE_IDENTITY_MISMATCH', `Hello names ${sender} but the certificate names ${identity ?? 'no node'}`, {
          details: { sender, identity }
        })
      }
    }
    const peer = this.#peers.get(sender)
    if (peer === undefined) throw new QuorateError('WIRE_IDENTITY_MISMATCH', `${sender} is no longer a member`)
    conn.peerId = sender
    this.#handshaking.delete(conn)
    this.#authenticated(conn.pendingKey, null)
    conn.pendingKey = null
    if (!this.#winsOver(conn, peer.dialing) || !this.#winsOver(conn, peer.conn)) {
      // Lost the simultaneous-dial race: the connection dialed by the lower id stays.
      this.#counters.rejected++
      this.#destroy(conn)
      return
    }
    if (!conn.outbound) this.#sendHello(conn)
    this.#promote(peer, conn)
  }

  /** The simultaneous-dial rule: the connection dialed by the lower id wins; between two dialed by the same node, the newer. */
  #winsOver (candidate: Connection, other: Connection | null): boolean {
    if (other === null || other === candidate) return true
    const a = candidate.dialer(this.id)
    const b = other.dialer(this.id)
    return a === b || a < b
  }

  #promote (peer: Peer, conn: Connection): void {
    if (conn.timer !== null) { this.#clock.clearTimeout(conn.timer); conn.timer = null }
    conn.state = 'open'
    conn.decoder.maxFrameBytes = this.#maxFrameBytes
    const losers = [peer.dialing, peer.conn]
    // Bind first, so that closing the losers below is not mistaken for a failed dial.
    peer.dialing = null
    peer.conn = conn
    for (const loser of losers) if (loser !== null && loser !== conn) this.#destroy(loser)
    peer.failures = 0
    peer.nextDialAt = 0
    this.#clearRaceGrace(peer)
    this.#counters.connections++
    this.#counters.connectionsOpened++
    if (peer.pending.length > 0) {
      const messages = peer.pending
      peer.pending = []
      peer.pendingBytes = 0
      this.#write(conn, messages)
    }
  }

  #clearRaceGrace (peer: Peer): void {
    if (peer.raceGrace !== null) this.#clock.clearTimeout(peer.raceGrace)
    peer.raceGrace = null
  }

  #sendHello (conn: Connection): void {
    conn.helloSent = true
    const hello = encodeLengthPrefixed({ kind: 'hello', version: WIRE_VERSION, clusterId: this.#clusterId, sender: this.id, to: conn.peerId ?? '' })
    this.#counters.framesSent++
    this.#counters.bytesSent += hello.length
    conn.socket.write(hello)
  }

  #onFrame (conn: Connection, frame: WireFrame): void {
    if (frame.kind !== 'raft') throw new QuorateError('WIRE_MALFORMED', 'Unexpected hello after the handshake')
    if (frame.clusterId !== '' && frame.clusterId !== this.#clusterId) {
      throw new QuorateError('WIRE_CLUSTER_MISMATCH', `Frame for cluster ${frame.clusterId}, not ${this.#clusterId}`)
    }
    const peerId = conn.peerId
    if (frame.sender !== '' && frame.sender !== peerId) {
      throw new QuorateError('WIRE_IDENTITY_MISMATCH', `Frame names sender ${frame.sender} on the connection of ${peerId ?? '?'}`)
    }
    const c = this.#counters
    const messages = frame.messages
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!
      if (m.from !== peerId) {
        c.dropped++
        c.identityMismatches++
        this.#report('WIRE_IDENTITY_MISMATCH', `Dropped a message from ${m.from} received on the connection of ${peerId ?? '?'}`)
      } else if (m.to !== this.id) {
        c.dropped++
        c.misdirected++
      } else {
        c.received++
        this.#deliver(m)
      }
    }
  }

  #deliver (m: Message): void {
    try {
      this.#handler(m)
    } catch (err) {
      this.#counters.handlerErrors++
      try { this.#onHandlerError?.(err, m) } catch { /* a faulty listener must not break the transport */ }
    }
  }

  /** Closes a connection because of bad input or a refused handshake, and counts why. */
  #refuse (conn: Connection, err: QuorateError): void {
    const c = this.#counters
    const error = err instanceof QuorateError ? err : new QuorateError('WIRE_MALFORMED', 'Malformed frame', { cause: err })
    if (conn.state === 'handshaking' && !conn.outbound) c.rejectedBadHello++
    switch (error.code) {
      case 'WIRE_CLUSTER_MISMATCH': c.clusterMismatches++; c.rejected++; break
      case 'WIRE_VERSION_UNSUPPORTED': c.versionMismatches++; c.rejected++; break
      case 'WIRE_IDENTITY_MISMATCH': c.identityMismatches++; c.rejected++; break
      default: c.malformed++; if (conn.state === 'handshaking') c.rejected++
    }
    this.#onErrorSafe(error)
    this.#destroy(conn)
  }

  #destroy (conn: Connection): void {
    if (conn.state === 'closed') return
    conn.socket.destroy()
    this.#detach(conn)
  }

  #onClose (conn: Connection): void {
    if (conn.state !== 'closed') this.#detach(conn)
  }

  /** Unbinds a closed connection from its peer; a dial that never opened counts as a failure. */
  #detach (conn: Connection): void {
    const wasOpen = conn.state === 'open'
    conn.state = 'closed'
    if (conn.timer !== null) { this.#clock.clearTimeout(conn.timer); conn.timer = null }
    this.#handshaking.delete(conn)
    const peer = conn.peerId === null ? undefined : this.#peers.get(conn.peerId)
    if (wasOpen) this.#counters.connections--
    if (peer === undefined) return
    if (peer.conn === conn) peer.conn = null
    if (peer.dialing !== conn) return
    peer.dialing = null
    if (peer.conn !== null) {
      // Lost the dial race to the peer's own connection: send what waited over that one.
      if (peer.pending.length > 0) this.#dirty.add(peer)
      this.#scheduleFlush()
      return
    }
    this.#counters.connectFailures++
    peer.failures++
    peer.nextDialAt = this.#clock.now() + backoffMs(peer.failures, this.#reconnectMinMs, this.#reconnectMaxMs, this.#random)
    if (conn.helloSent && peer.id < this.id && this.#status === 'open') {
      // Our hello was refused by a lower id: most likely it is dialing us right now. Keep
      // what waits for its connection, but not for longer than a dial may take.
      this.#clearRaceGrace(peer)
      peer.raceGrace = this.#clock.setTimeout(() => {
        peer.raceGrace = null
        if (peer.conn === null) this.#dropPending(peer, 'unreachableDrops')
      }, this.#connectTimeoutMs)
    } else {
      this.#dropPending(peer, 'unreachableDrops')
    }
  }

  /** Counts a refused connection under `reason` (and in `rejected`) and reports it. */
  #countRefusal (reason: 'rejectedHandshakeTimeout' | 'rejectedTooManyPending' | 'rejectedBadCertificate', code: ErrorCode, message: string, cause?: unknown): void {
    this.#counters.rejected++
    this.#counters[reason]++
    this.#report(code, message, cause)
  }

  #report (code: ErrorCode, message: string, cause?: unknown): void {
    if (this.#onError === undefined) return
    this.#onErrorSafe(new QuorateError(code, message, cause === undefined ? {} : { cause }))
  }

  #onErrorSafe (error: QuorateError): void {
    try { this.#onError?.(error) } catch { /* onError must not throw; a faulty callback must not break the transport */ }
  }
}

export type { TcpTransport }

/**
 * Creates a TCP transport (mutual TLS unless `insecure: true`). Throws OPTIONS_INVALID
 * for bad options. Call `open(handler)` to start listening.
 *
 * @example
 * const transport = tcpTransport({ id: 'n1', clusterId: 'prod', listen: { host: '0.0.0.0', port: 7001 },
 *   peers: { n2: { host: '10.0.0.2', port: 7001 } }, tls: { key, cert, ca } })
 * // A RaftNode opens it with its own handler: pass it as RaftNodeOptions.transport.
 * const node = new RaftNode({ id: 'n1', voters: ['n1', 'n2', 'n3'], transport, storage, stateMachine })
 * // Alone: await transport.open((message) => { ... }); transport.send([message])
 */
export function tcpTransport (options: TcpTransportOptions): TcpTransport {
  return new TcpTransport(options)
}

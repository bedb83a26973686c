/**
 * One peer connection of `tcpTransport`: a socket with its handshake state and frame
 * decoder (Connection), the per-peer state of dialing, batching and backoff (Peer), and the
 * helpers for sizing batches and spacing redials.
 */
import type * as net from 'node:net'
import type * as tls from 'node:tls'
import { entrySize, type Message, type NodeId } from '../raft/types.js'
import type { Timer } from '../util/clock.js'
import type { Random } from '../util/random.js'
import { FrameDecoder } from './framing.js'
import { MAX_HELLO_BYTES, type TcpAddress } from './tcp-options.js'

/** Estimated encoded size, for queue limits before a message is encoded. */
export function estimatedSize (m: Message): number {
  let size = 64 + m.from.length + m.to.length
  for (const e of m.entries) size += entrySize(e)
  if (m.snapshot !== null) size += 64 + m.snapshot.data.byteLength
  return size
}

export type Socket = net.Socket | tls.TLSSocket

/** One socket and its handshake state. */
export class Connection {
  readonly socket: Socket
  /** True if this node dialed. */
  readonly outbound: boolean
  /** The peer: known up front when dialing, from the hello when accepting. */
  peerId: NodeId | null
  state: 'handshaking' | 'open' | 'closed' = 'handshaking'
  readonly decoder: FrameDecoder
  timer: Timer | null = null
  /** Set when the dial was refused because the server certificate named another node. */
  identityRefused = false
  /** Set once this side's hello is written. */
  helloSent = false
  /** Inbound only: the key of this socket's entry among the unauthenticated connections, until its hello is accepted. */
  pendingKey: string | null = null

  constructor (socket: Socket, outbound: boolean, peerId: NodeId | null) {
    this.socket = socket
    this.outbound = outbound
    this.peerId = peerId
    this.decoder = new FrameDecoder(MAX_HELLO_BYTES)
  }

  get closed (): boolean { return this.state === 'closed' }

  /** The node that dialed this connection. */
  dialer (self: NodeId): NodeId { return this.outbound ? self : this.peerId ?? '' }
}

export class Peer {
  readonly id: NodeId
  address: TcpAddress
  /** The connection in use (handshake complete), or null. */
  conn: Connection | null = null
  /** Our dial in progress, or null. */
  dialing: Connection | null = null
  /** Messages waiting for the next flush or for the dial to complete. */
  pending: Message[] = []
  pendingBytes = 0
  failures = 0
  dials = 0
  nextDialAt = 0
  /**
   * Running while `pending` waits for the peer's own dial after ours was refused, which is
   * how a lost simultaneous-dial race looks from the losing (higher-id) side.
   */
  raceGrace: Timer | null = null

  constructor (id: NodeId, address: TcpAddress) {
    this.id = id
    this.address = address
  }
}

/** Redial delay after `failures` failed dials: doubles per failure up to `maxMs`, with jitter in [base/2, base). */
export function backoffMs (failures: number, minMs: number, maxMs: number, random: Random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(failures - 1, 30))
  return base / 2 + random.next() * base / 2
}

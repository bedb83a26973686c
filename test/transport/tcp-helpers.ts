/** Shared set-up for the TCP transport tests: nodes on 127.0.0.1 with ephemeral ports. */
import * as net from 'node:net'
import * as tls from 'node:tls'
import type { QuorateError } from '../../src/errors.js'
import type { Message, NodeId } from '../../src/raft/types.js'
import { decodeFrame, WIRE_VERSION, type WireFrame } from '../../src/transport/codec.js'
import { encodeLengthPrefixed, FrameDecoder } from '../../src/transport/framing.js'
import { tcpTransport, type TcpAddress, type TcpTransport, type TcpTransportOptions } from '../../src/transport/tcp.js'
import type { DevCertificates } from '../../src/transport/tls-certs.js'
import { eventually } from '../harness/index.js'

export const LOCAL = '127.0.0.1'
export const CLUSTER = 'c1'

export interface TestNode {
  readonly t: TcpTransport
  readonly inbox: Message[]
  readonly errors: QuorateError[]
  readonly address: TcpAddress
}

type NodeOptions = Partial<TcpTransportOptions> & { certs?: DevCertificates, certOf?: NodeId }

const opened: TcpTransport[] = []

/** Opens a transport for `id` listening on an ephemeral port (or `listen`). */
export async function startNode (id: NodeId, options: NodeOptions = {}): Promise<TestNode> {
  const { certs, certOf, ...rest } = options
  const inbox: Message[] = []
  const errors: QuorateError[] = []
  const cert = certs?.nodes[certOf ?? id]
  const t = tcpTransport({
    id,
    clusterId: CLUSTER,
    listen: { host: LOCAL, port: 0 },
    ...(cert !== undefined ? { tls: { key: cert.key, cert: cert.cert, ca: certs?.ca ?? '' } } : rest.tls === undefined ? { insecure: true } : {}),
    onError: (err) => { errors.push(err) },
    ...rest
  })
  await t.open((m) => { inbox.push(m) })
  opened.push(t)
  const address = t.address()
  if (address === null) throw new Error('no address after open')
  return { t, inbox, errors, address }
}

/** Makes every node a peer of every other. */
export function connectAll (...nodes: TestNode[]): void {
  for (const a of nodes) for (const b of nodes) if (a !== b) a.t.addPeer(b.t.id, b.address)
}

export async function closeAll (): Promise<void> {
  await Promise.all(opened.splice(0).map(async (t) => await t.close()))
}

/**
 * How long the helpers wait for what must happen before failing: generous, so that only a
 * bug reaches it and a loaded machine never does.
 */
export const PATIENCE_MS = 20_000

/**
 * Sends `make()` every 10 ms until `condition` holds (for paths where early messages may be
 * dropped), bounded by PATIENCE_MS like every wait on real sockets (test/harness eventually).
 */
export async function sendUntil (what: string, node: TestNode, make: () => Message[], condition: () => boolean): Promise<void> {
  await eventually(what, () => {
    if (condition()) return true
    node.t.send(make())
    return false
  }, { timeoutMs: PATIENCE_MS, intervalMs: 10 })
}

export function hello (sender: NodeId, to: NodeId, clusterId = CLUSTER, version = WIRE_VERSION): Buffer {
  return encodeLengthPrefixed({ kind: 'hello', version, clusterId, sender, to })
}

export function raftFrame (messages: Message[]): Buffer {
  return encodeLengthPrefixed({ kind: 'raft', version: WIRE_VERSION, clusterId: '', sender: '', messages })
}

/** A raw client socket that collects the frames it receives. */
export interface RawClient {
  readonly socket: net.Socket
  readonly frames: WireFrame[]
  closed: boolean
}

export async function rawClient (port: number, tlsOptions?: tls.ConnectionOptions): Promise<RawClient> {
  const socket = tlsOptions === undefined
    ? net.connect({ host: LOCAL, port })
    : tls.connect({ host: LOCAL, port, checkServerIdentity: () => undefined, ...tlsOptions })
  const client: RawClient = { socket, frames: [], closed: false }
  const decoder = new FrameDecoder()
  socket.on('data', (chunk: Buffer) => {
    try {
      decoder.push(chunk)
      let frame: Uint8Array | null
      while ((frame = decoder.next()) !== null) client.frames.push(decodeFrame(frame))
    } catch { socket.destroy() }
  })
  socket.on('error', () => {})
  socket.on('close', () => { client.closed = true })
  await new Promise<void>((resolve, reject) => {
    socket.once(tlsOptions === undefined ? 'connect' : 'secureConnect', () => resolve())
    socket.once('error', reject)
  })
  return client
}

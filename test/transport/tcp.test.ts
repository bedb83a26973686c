import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as net from 'node:net'
import { isQuorateError } from '../../src/errors.js'
import { message, type Message } from '../../src/raft/types.js'
import { decodeFrame } from '../../src/transport/codec.js'
import { FrameDecoder } from '../../src/transport/framing.js'
import { tcpTransport, type TcpTransportOptions } from '../../src/transport/tcp.js'
import { createDevCertificates, type DevCertificates } from '../../src/transport/tls-certs.js'
import { SeededRandom } from '../../src/util/random.js'
import { plain } from './codec-arbitraries.js'
import { closeAll, connectAll, hello, LOCAL, sendUntil, startNode } from './tcp-helpers.js'
import { eventually } from '../harness/index.js'

let certs: DevCertificates

test.before(async () => {
  certs = await createDevCertificates({ nodeIds: ['n1', 'n2', 'n3'] })
})

test.after.each(closeAll)

function fullMessage (from: string, to: string, context: number): Message {
  return message({
    type: 'append', from, to, term: 7, logTerm: 6, index: 41, commit: 40, context, rejectHint: 3, reject: true,
    entries: [{ term: 7, index: 42, type: 'command', data: Uint8Array.from([1, 2, 3]) }, { term: 7, index: 43, type: 'noop', data: new Uint8Array(0) }],
    snapshot: { meta: { index: 9, term: 2, config: { voters: ['n1', 'n2'], votersOutgoing: [], learners: ['n3'] } }, offset: 4, data: Uint8Array.from([9]), done: false, digest: Uint8Array.from([5]) }
  })
}

const beat = (from: string, to: string, context = 0): Message => message({ type: 'heartbeat', from, to, term: 1, context })

test('a mutual-TLS pair exchanges messages both ways with every field intact', async () => {
  const a = await startNode('n1', { certs })
  const b = await startNode('n2', { certs })
  connectAll(a, b)
  a.t.send([fullMessage('n1', 'n2', 1)])
  await eventually('n2 to receive', () => b.inbox.length === 1)
  b.t.send([fullMessage('n2', 'n1', 2)])
  await eventually('n1 to receive', () => a.inbox.length === 1)
  assert.equal(plain(b.inbox[0]), plain(fullMessage('n1', 'n2', 1)))
  assert.equal(plain(a.inbox[0]), plain(fullMessage('n2', 'n1', 2)))
  assert.is(a.t.stats().received, 1)
  assert.ok(a.t.stats().sent >= 1)
  assert.equal(a.errors, [])
})

test('messages queued in one turn go out in one frame', async () => {
  const a = await startNode('n1', { certs })
  const b = await startNode('n2', { certs })
  connectAll(a, b)
  await sendUntil('the connection is up', a, () => [beat('n1', 'n2')], () => b.inbox.length > 0)
  await eventually('the first flush to finish', () => a.t.stats().sent === b.t.stats().received)
  const framesBefore = b.t.stats().framesReceived
  const receivedBefore = b.inbox.length
  for (let i = 0; i < 10; i++) a.t.send([beat('n1', 'n2', 2 * i), beat('n1', 'n2', 2 * i + 1)])
  await eventually('20 messages to arrive', () => b.inbox.length === receivedBefore + 20)
  assert.is(b.t.stats().framesReceived, framesBefore + 1)
  assert.equal(b.inbox.slice(receivedBefore).map((m) => m.context), Array.from({ length: 20 }, (_, i) => i))
})

test('simultaneous dials settle on one connection per pair without losing messages', async () => {
  const a = await startNode('n1', { certs })
  const b = await startNode('n2', { certs })
  connectAll(a, b)
  const count = 50
  a.t.send(Array.from({ length: count }, (_, i) => beat('n1', 'n2', i)))
  b.t.send(Array.from({ length: count }, (_, i) => beat('n2', 'n1', i)))
  await eventually('both sides to receive everything', () => a.inbox.length === count && b.inbox.length === count)
  await eventually('each side to keep one connection', () => a.t.stats().connections === 1 && b.t.stats().connections === 1)
  assert.equal(a.inbox.map((m) => m.context), Array.from({ length: count }, (_, i) => i))
  assert.equal(b.inbox.map((m) => m.context), Array.from({ length: count }, (_, i) => i))
  const before = b.inbox.length
  a.t.send([beat('n1', 'n2', 500)])
  await eventually('a message over the surviving connection', () => b.inbox.length > before)
  assert.is(a.t.stats().connections, 1)
  assert.is(b.t.stats().connections, 1)
})

test('a node reconnects after its peer restarts on the same port', async () => {
  const a = await startNode('n1', { certs, reconnectMinMs: 5, reconnectMaxMs: 20 })
  const b = await startNode('n2', { certs })
  connectAll(a, b)
  await sendUntil('n2 hears n1', a, () => [beat('n1', 'n2')], () => b.inbox.length > 0)
  await b.t.close()
  const restarted = await startNode('n2', { certs, listen: { host: LOCAL, port: b.address.port }, peers: { n1: a.address } })
  await sendUntil('the restarted n2 hears n1', a, () => [beat('n1', 'n2')], () => restarted.inbox.length > 0)
  assert.ok(a.t.stats().reconnects >= 1)
  assert.ok(a.t.stats().connectionsOpened >= 2)
})

test('plain TCP needs insecure: true given explicitly', async () => {
  const base: TcpTransportOptions = { id: 'n1', clusterId: 'c1', listen: { host: LOCAL, port: 0 } }
  assert.throws(() => tcpTransport(base), (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID') && /"tls"/.test((err as Error).message))
  assert.throws(() => tcpTransport({ ...base, insecure: false }), (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID'))
  const c = certs.nodes.n1
  assert.throws(() => tcpTransport({ ...base, insecure: true, tls: { key: c!.key, cert: c!.cert, ca: certs.ca } }),
    (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID') && /"insecure"/.test((err as Error).message))
  const a = await startNode('n1', { insecure: true })
  const b = await startNode('n2', { insecure: true })
  connectAll(a, b)
  a.t.send([beat('n1', 'n2', 3)])
  await eventually('n2 to receive over plain TCP', () => b.inbox.length === 1)
  assert.is(b.inbox[0]!.context, 3)
})

test('invalid options are refused with OPTIONS_INVALID naming the field', () => {
  const base: TcpTransportOptions = { id: 'n1', clusterId: 'c1', listen: { host: LOCAL, port: 0 }, insecure: true }
  const cases: Array<[Partial<TcpTransportOptions>, string]> = [
    [{ id: '' }, 'id'],
    [{ clusterId: '' }, 'clusterId'],
    [{ listen: { host: LOCAL, port: 70000 } }, 'listen.port'],
    [{ peers: { n2: { host: LOCAL, port: 0 } } }, 'peers.n2.port'],
    [{ maxFrameBytes: 10 }, 'maxFrameBytes'],
    [{ maxQueueBytes: 0 }, 'maxQueueBytes'],
    [{ connectTimeoutMs: -1 }, 'connectTimeoutMs'],
    [{ reconnectMinMs: 100, reconnectMaxMs: 10 }, 'reconnectMaxMs']
  ]
  for (const [patch, field] of cases) {
    assert.throws(() => tcpTransport({ ...base, ...patch }),
      (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID') && (err as Error).message.includes(`"${field}"`), field)
  }
})

test('a peer that stops reading makes further messages drop instead of queueing without bound', async () => {
  // A raw peer that completes the handshake and then never reads again.
  const sockets: net.Socket[] = []
  const server = net.createServer((socket) => {
    sockets.push(socket)
    const decoder = new FrameDecoder()
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk)
      const frame = decoder.next()
      if (frame !== null && decodeFrame(frame).kind === 'hello') {
        socket.write(hello('n2', 'n1'))
        socket.pause()
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, LOCAL, resolve))
  const port = (server.address() as net.AddressInfo).port
  const maxQueueBytes = 256 * 1024
  const a = await startNode('n1', { insecure: true, maxQueueBytes, peers: { n2: { host: LOCAL, port } } })
  const data = new Uint8Array(64 * 1024)
  const big = (): Message => message({ type: 'append', from: 'n1', to: 'n2', term: 1, entries: [{ term: 1, index: 1, type: 'command', data }] })
  try {
    // The invariant is checked after every turn: a peer's queue never exceeds the limit.
    for (let round = 0; round < 500 && a.t.stats().backpressureDrops === 0; round++) {
      a.t.send([big(), big(), big(), big()])
      assert.ok(a.t.stats().queuedBytes <= maxQueueBytes, `queued ${a.t.stats().queuedBytes} bytes`)
      await new Promise((resolve) => setTimeout(resolve, 2))
      assert.ok(a.t.stats().queuedBytes <= maxQueueBytes, `queued ${a.t.stats().queuedBytes} bytes`)
    }
    const { dropped, backpressureDrops } = a.t.stats()
    assert.ok(backpressureDrops > 0)
    assert.ok(dropped >= backpressureDrops)
  } finally {
    await a.t.close()
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  }
})

test('a dial to a dead address is dropped and retried with backoff', async () => {
  const dead = net.createServer()
  await new Promise<void>((resolve) => dead.listen(0, LOCAL, resolve))
  const port = (dead.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => dead.close(() => resolve()))
  const a = await startNode('n1', { certs, peers: { n2: { host: LOCAL, port } }, random: new SeededRandom(1), reconnectMinMs: 1000 })
  a.t.send([beat('n1', 'n2')])
  await eventually('the dial to fail', () => a.t.stats().connectFailures === 1)
  a.t.send([beat('n1', 'n2'), beat('n1', 'n2')])
  const s = a.t.stats()
  assert.is(s.unreachableDrops, 3)
  assert.is(s.dropped, 3)
  assert.is(s.reconnects, 0)
})

test('open() after close() is refused; close() before open() is harmless', async () => {
  const t = tcpTransport({ id: 'n1', clusterId: 'c1', listen: { host: LOCAL, port: 0 }, insecure: true })
  await t.open(() => {})
  await t.close()
  try {
    await t.open(() => {})
    assert.unreachable('reopen succeeded')
  } catch (err) {
    assert.ok(isQuorateError(err, 'TRANSPORT_CLOSED'))
  }
  const never = tcpTransport({ id: 'n1', clusterId: 'c1', listen: { host: LOCAL, port: 0 }, insecure: true })
  await never.close()
  assert.is(never.status, 'closed')
})

test('open() on a port in use fails with OPTIONS_INVALID naming listen', async () => {
  const a = await startNode('n1', { insecure: true })
  const t = tcpTransport({ id: 'n2', clusterId: 'c1', listen: { host: LOCAL, port: a.address.port }, insecure: true })
  try {
    await t.open(() => {})
    assert.unreachable('listening twice succeeded')
  } catch (err) {
    assert.ok(isQuorateError(err, 'OPTIONS_INVALID'))
    assert.is(t.status, 'closed')
  }
})

test('removePeer closes its connection and later messages for it are dropped', async () => {
  const a = await startNode('n1', { certs })
  const b = await startNode('n2', { certs })
  connectAll(a, b)
  await sendUntil('n2 hears n1', a, () => [beat('n1', 'n2')], () => b.inbox.length > 0)
  a.t.removePeer('n2')
  await eventually('both sides to drop the connection', () => a.t.stats().connections === 0 && b.t.stats().connections === 0)
  const before = a.t.stats().unknownPeerDrops
  a.t.send([beat('n1', 'n2')])
  assert.is(a.t.stats().unknownPeerDrops, before + 1)
})

test.run()

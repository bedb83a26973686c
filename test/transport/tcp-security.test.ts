import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import type { ErrorCode } from '../../src/errors.js'
import { message, type Message } from '../../src/raft/types.js'
import { createDevCertificates, type DevCertificates } from '../../src/transport/tls-certs.js'
import {
  closeAll, connectAll, hello, LOCAL, raftFrame, rawClient, sendUntil, startNode, type RawClient, type TestNode
} from './tcp-helpers.js'
import { eventually } from '../harness/index.js'

let certs: DevCertificates
let otherCa: DevCertificates

test.before(async () => {
  ;[certs, otherCa] = await Promise.all([
    createDevCertificates({ nodeIds: ['n1', 'n2', 'n3'] }),
    createDevCertificates({ nodeIds: ['n2'], caName: 'another-cluster-ca' })
  ])
})

test.after.each(closeAll)

const beat = (from: string, to: string, context = 0): Message => message({ type: 'heartbeat', from, to, term: 1, context })

function codes (node: TestNode): ErrorCode[] {
  return node.errors.map((e) => e.code)
}

/** n1 still talks to a well-behaved n2 after whatever the test did (plain TCP without `withCerts`). */
async function stillWorks (n1: TestNode, withCerts?: DevCertificates): Promise<void> {
  const n2 = await startNode('n2', { certs: withCerts })
  connectAll(n1, n2)
  await sendUntil('n1 to hear n2', n2, () => [beat('n2', 'n1', 99)], () => n1.inbox.some((m) => m.context === 99))
}

/** A raw plain-TCP client that completed the handshake as `id`. */
async function handshaken (n1: TestNode, id: string): Promise<RawClient> {
  const client = await rawClient(n1.address.port)
  client.socket.write(hello(id, 'n1'))
  await eventually('the hello answer', () => client.frames.length > 0)
  assert.is(client.frames[0]!.kind, 'hello')
  return client
}

test('a node whose certificate comes from another CA is refused', async () => {
  const n1 = await startNode('n1', { certs, peers: { n2: { host: LOCAL, port: 1 } } })
  const rogue = await startNode('n2', {
    tls: { key: otherCa.nodes.n2!.key, cert: otherCa.nodes.n2!.cert, ca: certs.ca }, peers: { n1: n1.address }
  })
  rogue.t.send([beat('n2', 'n1')])
  await eventually('n1 to refuse the TLS handshake', () => n1.t.stats().tlsFailures >= 1)
  await eventually('the rogue dial to fail', () => rogue.t.stats().connectFailures >= 1)
  assert.is(n1.inbox.length, 0)
  assert.ok(codes(n1).includes('WIRE_TLS_FAILED'))
  assert.ok(n1.t.stats().rejected >= 1)
})

test('a node that does not trust the cluster CA refuses the server and counts it', async () => {
  const n1 = await startNode('n1', { certs })
  const rogue = await startNode('n2', {
    tls: { key: otherCa.nodes.n2!.key, cert: otherCa.nodes.n2!.cert, ca: otherCa.ca }, peers: { n1: n1.address }
  })
  rogue.t.send([beat('n2', 'n1')])
  await eventually('the rogue to count a TLS failure', () => rogue.t.stats().tlsFailures >= 1)
  assert.is(n1.inbox.length, 0)
  assert.ok(codes(rogue).includes('WIRE_TLS_FAILED'))
})

test('a hello naming another node than the certificate is refused with WIRE_IDENTITY_MISMATCH', async () => {
  const n1 = await startNode('n1', { certs, peers: { n2: { host: LOCAL, port: 1 } } })
  const impostor = await startNode('n2', { certs, certOf: 'n3', peers: { n1: n1.address } })
  impostor.t.send([beat('n2', 'n1')])
  await eventually('n1 to refuse the impostor', () => n1.t.stats().identityMismatches >= 1)
  assert.is(n1.inbox.length, 0)
  assert.ok(codes(n1).includes('WIRE_IDENTITY_MISMATCH'))
})

test('a dialer refuses a server whose certificate names another node', async () => {
  const n3 = await startNode('n3', { certs })
  const n1 = await startNode('n1', { certs, peers: { n2: n3.address } })
  n1.t.send([beat('n1', 'n2')])
  await eventually('n1 to refuse the server identity', () => n1.t.stats().identityMismatches >= 1)
  assert.ok(codes(n1).includes('WIRE_IDENTITY_MISMATCH'))
  assert.is(n3.inbox.length, 0)
})

test('a message whose from differs from the certificate identity is dropped and counted', async () => {
  const n1 = await startNode('n1', { certs, peers: { n2: { host: LOCAL, port: 1 }, n3: { host: LOCAL, port: 1 } } })
  const client = await rawClient(n1.address.port, { key: certs.nodes.n2!.key, cert: certs.nodes.n2!.cert, ca: certs.ca })
  client.socket.write(hello('n2', 'n1'))
  await eventually('the hello answer', () => client.frames.length > 0)
  client.socket.write(raftFrame([beat('n3', 'n1', 1), beat('n2', 'n1', 2)]))
  await eventually('the genuine message', () => n1.inbox.length === 1)
  assert.equal(n1.inbox.map((m) => m.context), [2])
  assert.is(n1.t.stats().identityMismatches, 1)
  assert.ok(codes(n1).includes('WIRE_IDENTITY_MISMATCH'))
  client.socket.destroy()
})

test('a node of another cluster is refused with WIRE_CLUSTER_MISMATCH', async () => {
  const n1 = await startNode('n1', { certs, peers: { n2: { host: LOCAL, port: 1 } } })
  const stranger = await startNode('n2', { certs, clusterId: 'another-cluster', peers: { n1: n1.address } })
  stranger.t.send([beat('n2', 'n1')])
  await eventually('n1 to refuse the stranger', () => n1.t.stats().clusterMismatches >= 1)
  assert.is(n1.inbox.length, 0)
  assert.ok(codes(n1).includes('WIRE_CLUSTER_MISMATCH'))
  assert.ok(n1.t.stats().rejected >= 1)
})

test('a node that is not in peers is refused and counted', async () => {
  const n1 = await startNode('n1', { certs })
  const n3 = await startNode('n3', { certs, peers: { n1: n1.address } })
  n3.t.send([beat('n3', 'n1')])
  await eventually('n1 to refuse the non-member', () => n1.t.stats().nonMembers >= 1)
  assert.is(n1.inbox.length, 0)
})

test('garbage written to a TLS listener is counted and the node keeps working', async () => {
  const n1 = await startNode('n1', { certs })
  const client = await rawClient(n1.address.port)
  client.socket.write(randomBytes(4096))
  await eventually('the garbage connection to close', () => client.closed)
  await eventually('the TLS failure to be counted', () => n1.t.stats().tlsFailures >= 1)
  await stillWorks(n1, certs)
})

test('garbage written to a plain TCP listener closes that connection, is counted, and the node keeps working', async () => {
  const n1 = await startNode('n1', { insecure: true })
  const inputs = [
    Buffer.from([0xff, 0xff, 0xff, 0xff]),
    Buffer.concat([Buffer.from([0, 0, 0, 8]), randomBytes(8)]),
    randomBytes(1000)
  ]
  for (const [i, input] of inputs.entries()) {
    const client = await rawClient(n1.address.port)
    client.socket.write(input)
    await eventually(`garbage connection ${i} to close`, () => client.closed)
    await eventually(`garbage ${i} to be counted`, () => n1.t.stats().rejected >= i + 1)
  }
  assert.ok(n1.t.stats().malformed >= 2)
  assert.ok(codes(n1).includes('WIRE_FRAME_TOO_LARGE'))
  await stillWorks(n1)
})

test('a hello with an unsupported version is refused with WIRE_VERSION_UNSUPPORTED', async () => {
  const n1 = await startNode('n1', { insecure: true, peers: { n2: { host: LOCAL, port: 1 } } })
  const client = await rawClient(n1.address.port)
  client.socket.write(hello('n2', 'n1', 'c1', 2))
  await eventually('the connection to close', () => client.closed)
  assert.is(n1.t.stats().versionMismatches, 1)
  assert.ok(codes(n1).includes('WIRE_VERSION_UNSUPPORTED'))
  assert.is(client.frames.length, 0)
})

test('a hello meant for another node is refused', async () => {
  const n1 = await startNode('n1', { insecure: true, peers: { n2: { host: LOCAL, port: 1 } } })
  const client = await rawClient(n1.address.port)
  client.socket.write(hello('n2', 'n9'))
  await eventually('the connection to close', () => client.closed)
  assert.is(client.frames.length, 0)
  assert.ok(n1.t.stats().rejected >= 1)
})

test('a first frame that is not a hello closes the connection as malformed', async () => {
  const n1 = await startNode('n1', { insecure: true, peers: { n2: { host: LOCAL, port: 1 } } })
  const client = await rawClient(n1.address.port)
  client.socket.write(raftFrame([beat('n2', 'n1')]))
  await eventually('the connection to close', () => client.closed)
  assert.is(n1.inbox.length, 0)
  assert.is(n1.t.stats().malformed, 1)
})

test('a client that never says hello is cut off after connectTimeoutMs', async () => {
  const n1 = await startNode('n1', { insecure: true, connectTimeoutMs: 30 })
  const client = await rawClient(n1.address.port)
  await eventually('the silent connection to close', () => client.closed)
})

test('bad input after the handshake closes only that connection', async () => {
  const n1 = await startNode('n1', { insecure: true, maxFrameBytes: 2048, peers: { n2: { host: LOCAL, port: 1 }, n3: { host: LOCAL, port: 1 } } })
  const bad = await handshaken(n1, 'n2')
  const good = await handshaken(n1, 'n3')
  bad.socket.write(Buffer.from([0, 0, 0x10, 0]))
  await eventually('the bad connection to close', () => bad.closed)
  assert.ok(codes(n1).includes('WIRE_FRAME_TOO_LARGE'))
  good.socket.write(raftFrame([beat('n3', 'n1', 5)]))
  await eventually('the good connection to deliver', () => n1.inbox.length === 1)
  assert.not.ok(good.closed)
  good.socket.destroy()
})

test('messages addressed to another node are dropped, not delivered', async () => {
  const n1 = await startNode('n1', { insecure: true, peers: { n2: { host: LOCAL, port: 1 } } })
  const client = await handshaken(n1, 'n2')
  client.socket.write(raftFrame([beat('n2', 'n3', 1), beat('n2', 'n1', 2)]))
  await eventually('the message for n1', () => n1.inbox.length === 1)
  assert.is(n1.inbox[0]!.context, 2)
  assert.is(n1.t.stats().misdirected, 1)
  client.socket.destroy()
})

test('a handler that throws is counted and later messages still arrive', async () => {
  const seen: unknown[] = []
  const n1 = await startNode('n1', { insecure: true, peers: { n2: { host: LOCAL, port: 1 } }, onHandlerError: (err) => { seen.push(err) } })
  const client = await handshaken(n1, 'n2')
  const inbox = n1.inbox
  const original = inbox.push.bind(inbox)
  inbox.push = (...items: Message[]) => {
    if (items[0]?.context === 0) throw new Error('injected')
    return original(...items)
  }
  client.socket.write(raftFrame([beat('n2', 'n1', 0), beat('n2', 'n1', 1)]))
  await eventually('the second message', () => inbox.length === 1)
  assert.is(n1.t.stats().handlerErrors, 1)
  assert.is(seen.length, 1)
  client.socket.destroy()
})

test.run()

/**
 * Limits on inbound connections that have not authenticated: a deadline of connectTimeoutMs
 * from TCP accept over TLS and the hello, and a cap on how many may wait at once.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as net from 'node:net'
import { message } from '../../src/raft/types.js'
import { createDevCertificates, type DevCertificates } from '../../src/transport/tls-certs.js'
import { closeAll, connectAll, LOCAL, PATIENCE_MS, rawClient, sendUntil, startNode } from './tcp-helpers.js'
import { eventually } from '../harness/index.js'

const TIMEOUT_MS = 300
// Waits are bounded by PATIENCE_MS (20 s): only a bug reaches it (without the handshake
// deadline Node holds such sockets about 120 s), never a slow machine. No assertion here
// bounds how soon after its deadline a socket closes, only that it closes, by the deadline
// (the counters say which rule closed it) and not before it (timers never fire early).

let certs: DevCertificates

test.before(async () => {
  certs = await createDevCertificates({ nodeIds: ['n1', 'n2'] })
})

test.after.each(closeAll)

/** A plain TCP socket to a TLS listener that never starts the handshake. */
async function idleSocket (port: number): Promise<{ socket: net.Socket, closed: () => boolean }> {
  const socket = net.connect({ host: LOCAL, port })
  let closed = false
  socket.on('error', () => {})
  socket.on('close', () => { closed = true })
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('error', reject) })
  return { socket, closed: () => closed }
}

test('a TCP client that never starts TLS is disconnected within connectTimeoutMs', async () => {
  const n1 = await startNode('n1', { certs, connectTimeoutMs: TIMEOUT_MS })
  const started = performance.now()
  const idle = await idleSocket(n1.address.port)
  await eventually('the idle socket to be closed', idle.closed, { timeoutMs: PATIENCE_MS })
  assert.ok(performance.now() - started >= TIMEOUT_MS - 50, 'not closed before the deadline')
  assert.is(n1.t.stats().rejectedHandshakeTimeout, 1)
  assert.is(n1.t.stats().unauthenticatedConnections, 0)
  assert.ok(n1.errors.some((e) => e.code === 'WIRE_HANDSHAKE_TIMEOUT'))
})

test('a client that completes TLS but never sends its hello is dropped at the deadline', async () => {
  const n1 = await startNode('n1', { certs, connectTimeoutMs: TIMEOUT_MS })
  const started = performance.now()
  const client = await rawClient(n1.address.port, { key: certs.nodes.n2!.key, cert: certs.nodes.n2!.cert, ca: certs.ca })
  await eventually('the silent TLS client to be closed', () => client.closed, { timeoutMs: PATIENCE_MS })
  assert.ok(performance.now() - started >= TIMEOUT_MS - 50, 'not closed before the deadline')
  assert.is(n1.t.stats().rejectedHandshakeTimeout, 1)
  assert.is(client.frames.length, 0)
})

test('idle sockets beyond maxUnauthenticatedConnections are refused at once and a real peer is served once they go', async () => {
  const cap = 4
  // Far beyond the test, so the admitted idle sockets are still waiting when the counts are
  // read however slow the machine (the deadline itself is tested above).
  const n1 = await startNode('n1', { certs, connectTimeoutMs: 10 * PATIENCE_MS, maxUnauthenticatedConnections: cap })
  const idle = await Promise.all(Array.from({ length: 10 }, async () => await idleSocket(n1.address.port)))
  await eventually('the sockets beyond the cap to be closed', () => idle.filter((s) => s.closed()).length >= 10 - cap, { timeoutMs: PATIENCE_MS })
  const stats = n1.t.stats()
  assert.is(stats.rejectedTooManyPending, 10 - cap)
  assert.is(stats.unauthenticatedConnections, cap)
  // The admitted idle sockets leave; a member dialing in then gets through.
  for (const s of idle) s.socket.destroy()
  await eventually('the idle sockets to be forgotten', () => n1.t.stats().unauthenticatedConnections === 0, { timeoutMs: PATIENCE_MS })
  const n2 = await startNode('n2', { certs })
  connectAll(n1, n2)
  await sendUntil('n1 to hear n2', n2, () => [message({ type: 'heartbeat', from: 'n2', to: 'n1', term: 1, context: 7 })],
    () => n1.inbox.some((m) => m.context === 7))
  const after = n1.t.stats()
  assert.is(after.rejectedTooManyPending, 10 - cap, 'the member was not refused')
  assert.is(after.rejectedHandshakeTimeout, 0)
})

test('a bad hello is counted by reason', async () => {
  const n1 = await startNode('n1', { connectTimeoutMs: TIMEOUT_MS })
  const client = await rawClient(n1.address.port)
  client.socket.write(Buffer.from([0, 0, 0, 3, 1, 2, 3]))
  await eventually('the bad hello to be refused', () => client.closed, { timeoutMs: PATIENCE_MS })
  assert.is(n1.t.stats().rejectedBadHello, 1)
  assert.is(n1.t.stats().rejectedHandshakeTimeout, 0)
})

test('maxUnauthenticatedConnections is validated', async () => {
  try {
    await startNode('n1', { maxUnauthenticatedConnections: 0 })
    assert.unreachable('should have thrown')
  } catch (err) {
    assert.match(String(err), /maxUnauthenticatedConnections/)
  }
})

test.run()

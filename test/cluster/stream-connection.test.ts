/**
 * Every request on a client connection settles without a timer of its own: against a node
 * that upgrades and then never answers, a request rejects RAFT_TIMEOUT at its (swept)
 * timeout, an aborted one ABORTED at once, and neither leaves a waiter behind; a node that
 * never upgrades fails the connection; QuorateClient over such nodes gives up at its deadline.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as net from 'node:net'
import { QuorateClient } from '../../src/cluster/quorate-client.js'
import { StreamConnection } from '../../src/cluster/stream-connection.js'
import { OP_PROPOSE, STREAM_PROTOCOL } from '../../src/cluster/wire.js'
import { isQuorateError } from '../../src/errors.js'

/** A node that upgrades every connection (if `upgrade`) and then reads and ignores every frame. */
async function silentNode (upgrade: boolean): Promise<{ port: number, close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.once('data', () => {
      if (upgrade) socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${STREAM_PROTOCOL}\r\n\r\n`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

const code = (err: unknown): string => isQuorateError(err) ? err.code : String(err)

test('an unanswered request rejects RAFT_TIMEOUT after its timeout (not before) and leaves no waiter', async () => {
  const node = await silentNode(true)
  const connection = new StreamConnection({ host: '127.0.0.1', port: node.port }, 'n1', { insecure: true }, 1024, 200)
  try {
    await connection.ready
    const started = performance.now()
    const outcome = await connection.request(OP_PROPOSE, Uint8Array.of(1, 2, 3)).then(() => 'resolved', code)
    const took = performance.now() - started
    assert.is(outcome, 'RAFT_TIMEOUT')
    assert.ok(took >= 195 && took < 2000, `settled after ${took.toFixed(0)} ms`)
    assert.is(connection.pending, 0)
    assert.is(connection.closed, false, 'a timeout does not close the connection')
  } finally {
    connection.close()
    await node.close()
  }
})

test('an aborted request rejects ABORTED at once and releases its waiter; the others stay pending', async () => {
  const node = await silentNode(true)
  const connection = new StreamConnection({ host: '127.0.0.1', port: node.port }, 'n1', { insecure: true }, 1024, 60_000)
  try {
    await connection.ready
    const controller = new AbortController()
    const aborted = connection.request(OP_PROPOSE, Uint8Array.of(1), controller.signal).then(() => 'resolved', code)
    const other = connection.request(OP_PROPOSE, Uint8Array.of(2)).then(() => 'resolved', code)
    assert.is(connection.pending, 2)
    controller.abort()
    assert.is(await aborted, 'ABORTED')
    assert.is(connection.pending, 1)
    connection.close()
    assert.is(await other, 'TRANSPORT_CLOSED', 'closing settles the rest')
    assert.is(connection.pending, 0)
  } finally {
    connection.close()
    await node.close()
  }
})

test('a node that accepts but never upgrades fails the connection within the request timeout', async () => {
  const node = await silentNode(false)
  const connection = new StreamConnection({ host: '127.0.0.1', port: node.port }, 'n1', { insecure: true }, 1024, 200)
  try {
    assert.is(await connection.ready.then(() => 'upgraded', code), 'TRANSPORT_CLOSED')
    assert.is(connection.closed, true)
  } finally {
    connection.close()
    await node.close()
  }
})

test('QuorateClient against nodes that never answer retries each attempt at its timeout and gives up RAFT_TIMEOUT at its deadline', async () => {
  const nodes = [await silentNode(true), await silentNode(false)]
  const client = new QuorateClient({
    nodes: { n1: { host: '127.0.0.1', port: nodes[0]!.port }, n2: { host: '127.0.0.1', port: nodes[1]!.port } },
    credentials: { insecure: true },
    attemptTimeoutMs: 100,
    deadlineMs: 700
  })
  try {
    const started = performance.now()
    assert.is(await client.kv.put('k', 'v').then(() => 'resolved', code), 'RAFT_TIMEOUT')
    const took = performance.now() - started
    assert.ok(took >= 690 && took < 5000, `gave up after ${took.toFixed(0)} ms`)
    assert.ok(client.stats.attempts >= 3, `retried: ${client.stats.attempts} attempts`)
  } finally {
    await client.close()
    for (const n of nodes) await n.close()
  }
})

test.run()

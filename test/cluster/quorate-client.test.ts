/** QuorateClient's own contract: its options are validated, and close() settles what is pending instead of leaving it to the deadline. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as net from 'node:net'
import { QuorateClient } from '../../src/cluster/quorate-client.js'
import { isQuorateError } from '../../src/errors.js'

const nodes = { n1: { host: '127.0.0.1', port: 9 } }

test('bad options are refused with OPTIONS_INVALID naming the field', () => {
  const cases: Array<[unknown, string]> = [
    [{ nodes, credentials: { insecure: true }, attemptTimeoutMS: 5 }, 'attemptTimeoutMS'],
    [{ nodes: {}, credentials: { insecure: true } }, 'nodes'],
    [{ nodes, credentials: {} }, 'credentials.ca'],
    [{ nodes, credentials: { ca: 'x' } }, 'credentials'],
    [{ nodes, credentials: { ca: 'x', token: 'has space' } }, 'credentials.token'],
    [{ nodes, credentials: { insecure: true, tls: true } }, 'tls'],
    [{ nodes: { n1: { host: '127.0.0.1', port: 0 } }, credentials: { insecure: true } }, 'nodes.n1']
  ]
  for (const [options, field] of cases) {
    try {
      new QuorateClient(options as never)
      assert.unreachable(field)
    } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'), String(err))
      assert.equal((err as { info?: { field?: string } }).info?.field, field)
    }
  }
})

test('close() settles a call that was retrying against a node that accepts and drops connections', async () => {
  // Accepts the connection and closes it at once: every attempt fails with TRANSPORT_CLOSED and is retried.
  const server = net.createServer((socket) => { socket.destroy() })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = new QuorateClient({ nodes: { n1: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port } }, credentials: { insecure: true }, deadlineMs: 60_000 })
  try {
    const pending = client.kv.put('k', 'v').then(() => 'resolved', (err: unknown) => isQuorateError(err) ? err.code : String(err))
    await new Promise((resolve) => setTimeout(resolve, 100))
    const started = performance.now()
    await client.close()
    const outcome = await pending
    assert.ok(['TRANSPORT_CLOSED', 'NODE_CLOSED'].includes(outcome), outcome)
    // Settled by close, not by the 60 s deadline (a liveness bound, not a timing measurement).
    assert.ok(performance.now() - started < 5000)
    assert.ok(client.stats.attempts > 1, 'the call was retried before close')
  } finally {
    await client.close()
    server.close()
  }
})

test.run()

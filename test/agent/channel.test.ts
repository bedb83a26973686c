/**
 * The command channels: in process, and over the network (mutual TLS with development
 * certificates, or plain TCP only when asked explicitly). Malformed frames are answered with
 * AGENT_COMMAND_INVALID and the connection carries on; an oversized frame closes it; a wrong
 * certificate, an unknown node, a dead endpoint or a silent one fail with AGENT_UNREACHABLE,
 * an abort with ABORTED — never a pending promise.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as net from 'node:net'
import { createInterface } from 'node:readline'
import { AgentClient, AgentEndpoint, InProcessChannel, agentCommandProblem } from '../../src/agent/index.js'
import type { AgentCommand, AgentReply } from '../../src/agent/index.js'
import { createDevCertificates } from '../../src/transport/index.js'
import { isQuorateError } from '../../src/errors.js'
import { AgentFixture, LEASE } from './helpers.js'

const status = (id: string): AgentCommand => ({ kind: 'status', id, fence: { lease: LEASE, token: 1 } })
/** A handler that refuses malformed commands as the agent does, answers the rest with no instances, and can be told to hang. */
const handler = { hang: false, seen: [] as unknown[], async handle (c: unknown): Promise<AgentReply> {
  this.seen.push(c)
  const problem = agentCommandProblem(c)
  if (problem !== undefined) return { id: '', ok: false, code: 'AGENT_COMMAND_INVALID', message: problem }
  if (this.hang) return await new Promise(() => {})
  return { id: (c as { id: string }).id, ok: true, instances: [] }
} }

async function rejection (p: Promise<unknown>): Promise<unknown> {
  try { await p } catch (err) { return err }
  throw new Error('expected a rejection')
}

test('InProcessChannel delivers a copy to the registered agent and fails unknown nodes with AGENT_UNREACHABLE', async () => {
  const f = await AgentFixture.create()
  try {
    const channel = new InProcessChannel()
    channel.register('w1', f.agent)
    const reply = await channel.send('w1', status('s1'))
    assert.equal(reply, { id: 's1', ok: true, instances: [] })
    assert.ok(isQuorateError(await rejection(channel.send('w9', status('s2'))), 'AGENT_UNREACHABLE'))
    const aborted = new AbortController()
    aborted.abort()
    assert.ok(isQuorateError(await rejection(channel.send('w1', status('s3'), { signal: aborted.signal })), 'ABORTED'))
  } finally { await f.cleanup() }
})

test('over mutual TLS a client reaches a real agent; a certificate naming another node is refused', async () => {
  const certs = await createDevCertificates({ nodeIds: ['w1', 'coordinator', 'w2'] })
  const f = await AgentFixture.create()
  const endpoint = new AgentEndpoint({ agent: f.agent, listen: { port: 0 }, tls: { ca: certs.ca, ...certs.nodes.w1! } })
  await endpoint.open()
  await endpoint.open() // idempotent
  const { port } = endpoint.address()
  const client = new AgentClient({ agents: { w1: { host: '127.0.0.1', port }, w2: { host: '127.0.0.1', port } }, tls: { ca: certs.ca, ...certs.nodes.coordinator! } })
  try {
    assert.equal(await client.send('w1', status('t1')), { id: 't1', ok: true, instances: [] })
    // The endpoint on this port is w1's: a client that means to reach w2 must not talk to it.
    assert.ok(isQuorateError(await rejection(client.send('w2', status('t2'))), 'AGENT_UNREACHABLE'))
    // A client without a certificate from the CA is refused by the agent.
    const other = await createDevCertificates({ nodeIds: ['coordinator'] })
    const stranger = new AgentClient({ agents: { w1: { host: '127.0.0.1', port } }, tls: { ca: certs.ca, ...other.nodes.coordinator! }, connectTimeoutMs: 2000 })
    assert.ok(isQuorateError(await rejection(stranger.send('w1', status('t3'))), 'AGENT_UNREACHABLE'))
    stranger.close()
  } finally {
    client.close()
    await endpoint.close()
    await endpoint.close()
    await f.cleanup()
  }
})

test('plain TCP only with insecure: true; tls and insecure together, or neither, are option errors', () => {
  assert.throws(() => new AgentEndpoint({ agent: handler, listen: { port: 0 } }), /tls/)
  assert.throws(() => new AgentClient({ agents: {} }), /tls/)
  assert.throws(() => new AgentEndpoint({ agent: handler, listen: { port: 0 }, insecure: true, tls: { key: 'k', cert: 'c', ca: 'a' } }), /insecure/)
  assert.throws(() => new AgentEndpoint({ agent: handler, listen: { port: 0 }, insecure: true, maxFrameByte: 10 } as never), /did you mean "maxFrameBytes"/)
  assert.throws(() => new AgentClient({ agents: { w1: { host: 'x', port: 0 } }, insecure: true }), /agents.w1/)
})

test('malformed frames are answered with AGENT_COMMAND_INVALID and the connection keeps working; an oversized frame closes it', async () => {
  const endpoint = new AgentEndpoint({ agent: handler, listen: { port: 0 }, insecure: true, maxFrameBytes: 256 })
  await endpoint.open()
  const socket = net.connect(endpoint.address().port, '127.0.0.1')
  const lines = createInterface({ input: socket })[Symbol.asyncIterator]()
  const next = async (): Promise<{ seq: number | null, reply: AgentReply }> => JSON.parse((await lines.next()).value as string) as { seq: number | null, reply: AgentReply }
  try {
    handler.seen.length = 0
    for (const [bad, seq] of [['not json', null], ['[1,2]', null], ['{"seq":"x","command":{}}', null], ['{"seq":1}', 1], ['{"seq":2,"command":{"kind":"status"}}', 2], ['\u0000\u00ff', null]] as const) {
      socket.write(bad + '\n')
      const answer = await next()
      assert.is(answer.seq, seq)
      assert.is(!answer.reply.ok && answer.reply.code, 'AGENT_COMMAND_INVALID', bad)
    }
    assert.equal(handler.seen, [{ kind: 'status' }], 'only the well-framed command reached the agent (which refuses it)')
    socket.write(JSON.stringify({ seq: 7, command: status('ok-after-garbage') }) + '\n')
    assert.equal(await next(), { seq: 7, reply: { id: 'ok-after-garbage', ok: true, instances: [] } })
    socket.write('x'.repeat(1000) + '\n')
    const notice = await next()
    assert.is(!notice.reply.ok && notice.reply.code, 'AGENT_CHANNEL_INVALID')
    assert.is((await lines.next()).done, true, 'the connection was closed')
  } finally {
    socket.destroy()
    await endpoint.close()
  }
})

test('a dead endpoint, a silent agent and an abort all settle the send', async () => {
  const endpoint = new AgentEndpoint({ agent: handler, listen: { port: 0 }, insecure: true })
  await endpoint.open()
  const { port } = endpoint.address()
  const client = new AgentClient({ agents: { w1: { host: '127.0.0.1', port } }, insecure: true, requestTimeoutMs: 200 })
  try {
    handler.hang = true
    assert.ok(isQuorateError(await rejection(client.send('w1', status('slow'))), 'AGENT_UNREACHABLE'), 'no reply within requestTimeoutMs')
    const controller = new AbortController()
    const pending = client.send('w1', status('aborted'), { signal: controller.signal })
    controller.abort()
    assert.ok(isQuorateError(await rejection(pending), 'ABORTED'))
    handler.hang = false
    assert.is((await client.send('w1', status('fine'))).ok, true)
    await endpoint.close()
    assert.ok(isQuorateError(await rejection(client.send('w1', status('gone'))), 'AGENT_UNREACHABLE'), 'endpoint closed')
    assert.ok(isQuorateError(await rejection(client.send('w7', status('unknown'))), 'AGENT_UNREACHABLE'), 'no address')
  } finally {
    handler.hang = false
    client.close()
    await endpoint.close()
  }
})

test.run()

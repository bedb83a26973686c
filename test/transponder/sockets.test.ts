/**
 * The downlink wire over real sockets (bounded: two agents, one transponder, loopback): with
 * mutual TLS the agent is its certificate, an envelope signed by another node is refused on
 * its connection, a malformed frame or a client without a certificate closes only its own
 * connection, events are acknowledged after
 * the station committed them and commands come back with the agent's signed reply.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as net from 'node:net'
import { createDevCertificates } from '../../src/transport/index.js'
import { QuorateError } from '../../src/errors.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import {
  AgentRelayClient, KeyRing, RelayedCommandChannel, SocketAgentLinks, TrackingStation, TransponderServer, createSigningKeys,
  decodeDownlinkFrame, encodeDownlinkFrame, sealEvent, signer
} from '../../src/transponder/index.js'

const certs = await createDevCertificates({ nodeIds: ['t1', 'w1', 'w2'] })
const keys = createSigningKeys(['w1', 'w2', 'coord'])
const ring = new KeyRing(keys.publicKeys)
const tlsOf = (id: string): { key: string, cert: string, ca: string } => ({ ...certs.nodes[id]!, ca: certs.ca })

async function setup (): Promise<{ server: TransponderServer, station: TrackingStation, stored: string[], close: () => Promise<void> }> {
  const stored: string[] = []
  const station = new TrackingStation({ id: 'station', keys: ring, emit: async (e) => { stored.push(e.id) } })
  await station.open()
  const server = new TransponderServer({
    listen: { host: '127.0.0.1', port: 0 },
    tls: tlsOf('t1'),
    transponder: { id: 't1', windowMs: 5, uplink: async (batch, { signal }) => { await station.receive(batch, { signal }) } }
  })
  await server.open()
  return { server, station, stored, close: async () => { await server.close(); await station.close() } }
}

test('decoding the downlink frames round-trips and refuses garbage with a wire code', () => {
  const frames = [
    { kind: 'heartbeat' as const },
    { kind: 'submit' as const, request: 7, envelope: Uint8Array.of(1, 2) },
    { kind: 'submit-result' as const, request: 7, status: 'refused' as const, code: 'TRANSPONDER_SENDER_MISMATCH' },
    { kind: 'command-result' as const, request: 9, ok: true, reply: Uint8Array.of(3), code: '' }
  ]
  for (const f of frames) {
    const decoded = decodeDownlinkFrame(encodeDownlinkFrame(f).subarray(4))
    assert.equal(JSON.parse(JSON.stringify(decoded, (_k, v: unknown) => v instanceof Uint8Array ? [...v] : v)), JSON.parse(JSON.stringify(f, (_k, v: unknown) => v instanceof Uint8Array ? [...v] : v)))
  }
  for (const bad of [Uint8Array.of(9), Uint8Array.of(3, 0, 0, 0, 1, 7)]) {
    assert.throws(() => decodeDownlinkFrame(bad), (e: unknown) => e instanceof QuorateError && e.code.startsWith('WIRE_'))
  }
})

test('over mutual TLS an agent\'s events are acknowledged after the station stored them, and a relayed command is answered once', async () => {
  const { server, station, stored, close } = await setup()
  const links = new SocketAgentLinks({ id: 'w1', transponders: { t1: server.address() }, tls: tlsOf('w1') })
  let runs = 0
  const agent = new AgentRelayClient({
    signer: signer('w1', keys.privateKeys.w1!), keys: ring, station: 'station', transponders: ['t1'], links, heartbeatMs: 50,
    execute: async (c) => { runs++; return { id: c.id, ok: true, instances: [] } }
  })
  links.serve(async (bytes) => await agent.handleCommand(bytes))
  await agent.open()
  assert.is(await agent.emit({ id: 'ev-1', payload: Uint8Array.of(1) }), 'acknowledged')
  assert.equal(stored, ['ev-1'])
  for (let i = 0; i < 100 && station.routeOf('w1') === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  const channel = new RelayedCommandChannel({
    signer: signer('coord', keys.privateKeys.coord!), keys: ring, route: (a) => station.routeOf(a),
    transponder: () => async (c, o) => await server.transponder.deliver(c, o)
  })
  const command = { kind: 'status' as const, id: 'cmd-1', fence: { lease: 'quorate/coordinator', token: 1 } }
  const first = await channel.send('w1', command)
  const again = await channel.send('w1', command)
  assert.equal([first.ok, again, runs], [true, first, 1])
  await agent.close()
  links.close()
  await close()
})

test('an envelope signed by another node is refused on the agent\'s connection; a connection without a certificate is closed without disturbing it', async () => {
  const { server, stored, close } = await setup()
  const links = new SocketAgentLinks({ id: 'w1', transponders: { t1: server.address() }, tls: tlsOf('w1') })
  const forged = sealEvent(signer('w2', keys.privateKeys.w2!), 'station', { id: 'ev-x', payload: Uint8Array.of(1) })
  const err = await links.submit('t1', forged, { signal: new AbortController().signal }).catch((e: unknown) => e)
  assert.ok(err instanceof QuorateError && err.info?.code === 'TRANSPONDER_SENDER_MISMATCH', String(err))
  // A client without a certificate is closed by TLS; the agent's connection carries on.
  const raw = net.connect(server.address())
  await new Promise<void>((resolve) => { raw.once('connect', () => { resolve() }) })
  raw.write(Uint8Array.of(0, 0, 0, 1, 0xff))
  await new Promise<void>((resolve) => { raw.once('close', () => { resolve() }) })
  const ok = await links.submit('t1', sealEvent(signer('w1', keys.privateKeys.w1!), 'station', { id: 'ev-2', payload: Uint8Array.of(1) }), { signal: new AbortController().signal })
  assert.equal([ok, stored], ['acknowledged', ['ev-2']])
  links.close()
  await close()
})

test('in insecure mode an agent is named by its hello, and an unknown frame kind closes that connection only', async () => {
  const server = new TransponderServer({ listen: { host: '127.0.0.1', port: 0 }, insecure: true, transponder: { id: 't1', uplink: async () => {} } })
  await server.open()
  const raw = net.connect(server.address())
  await new Promise<void>((resolve) => { raw.once('connect', () => { resolve() }) })
  raw.resume() // read (and drop) the heartbeat answers, so the close is seen
  raw.write(encodeDownlinkFrame({ kind: 'hello', id: 'w9' }))
  raw.write(encodeDownlinkFrame({ kind: 'heartbeat' }))
  for (let i = 0; i < 100 && server.connections === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.is(server.connections, 1)
  raw.write(Uint8Array.of(0, 0, 0, 1, 0xff))
  await new Promise<void>((resolve) => { raw.once('close', () => { resolve() }) })
  assert.is(server.connections, 0)
  assert.is(server.status, 'open')
  await server.close()
})

test('an agent\'s link to a transponder that hangs with its socket open reports it unreachable after staleAfterMs', async () => {
  const hung = net.createServer((s) => { s.resume() }) // reads, but never says anything
  await new Promise<void>((resolve) => { hung.listen(0, '127.0.0.1', () => { resolve() }) })
  const port = (hung.address() as net.AddressInfo).port
  const live = new TransponderServer({ listen: { host: '127.0.0.1', port: 0 }, insecure: true, transponder: { id: 't2', uplink: async () => {} } })
  await live.open()
  const clock = new ManualClock()
  const links = new SocketAgentLinks({ id: 'w1', transponders: { t1: { host: '127.0.0.1', port }, t2: live.address() }, insecure: true, clock, staleAfterMs: 3000 })
  assert.ok(links.heartbeat('t1'))
  assert.ok(links.heartbeat('t2'))
  // The live transponder answers; wait (really) until it has.
  await new Promise((resolve) => setTimeout(resolve, 100))
  clock.advance(3001)
  assert.not.ok(links.heartbeat('t1'), 'the hung transponder counts as dead')
  assert.ok(links.heartbeat('t2'), 'the answering one does not')
  links.close()
  await live.close()
  await new Promise<void>((resolve) => { hung.close(() => { resolve() }) })
})

test('socket options are validated: TLS or an explicit insecure, not both, not neither', () => {
  assert.throws(() => new SocketAgentLinks({ id: 'w1', transponders: {} }), /tls/)
  assert.throws(() => new SocketAgentLinks({ id: 'w1', transponders: {}, insecure: true, tls: tlsOf('w1') }), /tls/)
  assert.throws(() => new SocketAgentLinks({ id: 'w1', transponders: {}, insecure: true, maxFrameBytes: 1 }), /maxFrameBytes/)
})

test.run()

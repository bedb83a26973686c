/**
 * The uplink wire over real sockets (loopback, one station, a few batches): a relay's events are
 * acknowledged only after the station committed them, a batch retried after a reconnect is
 * appended once, a malformed frame is answered with its code and closes only its connection,
 * a batch naming another transponder is refused, sends wait for an in-flight slot, and a dead
 * station is re-dialed with backoff while the caller's signal bounds the wait.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as net from 'node:net'
import { createDevCertificates } from '../../src/transport/index.js'
import { QuorateError } from '../../src/errors.js'
import {
  KeyRing, SocketUplink, StationServer, TrackingStation, Transponder, createSigningKeys, decodeUplinkFrame, encodeUplinkFrame, sealEvent, signer
} from '../../src/transponder/index.js'
import type { UplinkBatch, UplinkFrame } from '../../src/transponder/index.js'

const certs = await createDevCertificates({ nodeIds: ['station', 't1', 't2'] })
const keys = createSigningKeys(['w1'])
const ring = new KeyRing(keys.publicKeys)
const w1 = signer('w1', keys.privateKeys.w1!)
const tlsOf = (id: string): { key: string, cert: string, ca: string } => ({ ...certs.nodes[id]!, ca: certs.ca })
const event = (id: string): Uint8Array => sealEvent(w1, 'station', { id, payload: Uint8Array.of(1) })
const batch = (seq: number, ids: string[], producer = 't1/p'): UplinkBatch => ({ transponder: 't1', producer, seq, joined: [], left: [], alive: null, envelopes: ids.map(event) })
const isCode = (code: string) => (e: unknown): boolean => e instanceof QuorateError && e.code === code

/** An events store whose commits wait for `release()`; it counts every append attempt. */
function gatedStore (): { emit: (e: { id: string }) => Promise<void>, appended: string[], release: () => void, gated: boolean } {
  const waiting: Array<() => void> = []
  const store = {
    appended: [] as string[],
    gated: true,
    emit: async (e: { id: string }): Promise<void> => {
      store.appended.push(e.id)
      if (store.gated) await new Promise<void>((resolve) => { waiting.push(resolve) })
    },
    release: (): void => { store.gated = false; for (const w of waiting.splice(0)) w() }
  }
  return store
}

async function stationWith (emit: (e: { id: string }) => Promise<void>, security: { tls: ReturnType<typeof tlsOf> } | { insecure: true }, port = 0): Promise<{ station: TrackingStation, server: StationServer, close: () => Promise<void> }> {
  const station = new TrackingStation({ id: 'station', keys: ring, emit })
  await station.open()
  const server = new StationServer({ listen: { host: '127.0.0.1', port }, station, ...security })
  await server.open()
  return { station, server, close: async () => { await server.close(); await station.close() } }
}

const until = async (what: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
}

test('uplink frames round-trip, and garbage is refused with a wire code', () => {
  const frames: UplinkFrame[] = [
    { kind: 'hello', id: 't1' },
    { kind: 'batch', request: 3, batch: { ...batch(7, ['e1', 'e2']), joined: ['w1'], left: ['w2'], alive: ['w1', 'w3'] } },
    { kind: 'batch', request: 4, batch: { transponder: 't1', seq: 1, joined: [], left: [], alive: null, envelopes: [] } },
    { kind: 'batch-ack', request: 3, ok: false, code: 'TRANSPONDER_SENDER_MISMATCH', message: 'no' },
    { kind: 'error', code: 'WIRE_MALFORMED', message: 'truncated' }
  ]
  const plain = (f: unknown): unknown => JSON.parse(JSON.stringify(f, (_k, v: unknown) => v instanceof Uint8Array ? [...v] : v))
  for (const f of frames) assert.equal(plain(decodeUplinkFrame(encodeUplinkFrame(f).subarray(4))), plain(f))
  const whole = encodeUplinkFrame(frames[1]!).subarray(4)
  for (const bad of [Uint8Array.of(9), whole.subarray(0, whole.length - 1), Uint8Array.of(...whole, 0), Uint8Array.of(1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0x0f)]) {
    assert.throws(() => decodeUplinkFrame(bad), (e: unknown) => e instanceof QuorateError && e.code.startsWith('WIRE_'))
  }
})

test('over mutual TLS an agent\'s event is acknowledged by the relay only after the station committed it', async () => {
  const store = gatedStore()
  const { server, close } = await stationWith(store.emit, { tls: tlsOf('station') })
  const uplink = new SocketUplink({ id: 't1', station: server.address(), tls: tlsOf('t1') })
  await uplink.open()
  const relay = new Transponder({ id: 't1', windowMs: 1, uplink: uplink.uplink, downlink: async () => { throw new Error('unused') } })
  await relay.open()
  let acknowledged = false
  const submitted = relay.submit('w1', event('e1')).then((r) => { acknowledged = true; return r })
  await until(() => store.appended.length === 1)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal([store.appended, acknowledged], [['e1'], false], 'appended but not committed: not acknowledged')
  store.release()
  assert.is(await submitted, 'acknowledged')
  await relay.close(); await relay.close()
  await uplink.close(); await uplink.close()
  await close()
})

test('a batch retried after the connection dropped mid-commit is appended once', async () => {
  const store = gatedStore()
  let { station, server, close } = await stationWith(store.emit, { insecure: true })
  const address = server.address()
  const uplink = new SocketUplink({ id: 't1', station: address, insecure: true, backoffInitialMs: 5 })
  await uplink.open()
  const first = uplink.send(batch(1, ['e1', 'e2'])).catch((e: unknown) => e)
  await until(() => store.appended.length === 2)
  await server.close() // the connection drops while the station is still committing
  assert.ok(isCode('TRANSPONDER_UPLINK_UNAVAILABLE')(await first))
  server = new StationServer({ listen: address, station, insecure: true })
  await server.open()
  const retry = uplink.send(batch(1, ['e1', 'e2']))
  await new Promise((resolve) => setTimeout(resolve, 30))
  store.release()
  await retry
  await uplink.send(batch(1, ['e1', 'e2'])) // and once more after it was acknowledged
  assert.equal(store.appended, ['e1', 'e2'], 'each event appended once')
  assert.is(station.stats().duplicateBatches, 2)
  // A new producer (a restarted relay) starting from seq 1 again is not mistaken for a retry.
  await uplink.send(batch(1, ['e3'], 't1/q'))
  assert.equal(store.appended, ['e1', 'e2', 'e3'])
  await uplink.close()
  close = async () => { await server.close(); await station.close() }
  await close()
})

test('a malformed frame is answered with its code and closes only its own connection', async () => {
  const store = gatedStore(); store.release()
  const { server, close } = await stationWith(store.emit, { insecure: true })
  const uplink = new SocketUplink({ id: 't1', station: server.address(), insecure: true })
  await uplink.open()
  await uplink.send(batch(1, ['e1']))
  const raw = net.connect(server.address())
  await new Promise<void>((resolve) => { raw.once('connect', () => { resolve() }) })
  const got: Buffer[] = []
  raw.on('data', (c: Buffer) => { got.push(c) })
  raw.write(encodeUplinkFrame({ kind: 'hello', id: 't2' }))
  raw.write(Uint8Array.of(0, 0, 0, 1, 0xff))
  await new Promise<void>((resolve) => { raw.once('close', () => { resolve() }) })
  const answer = decodeUplinkFrame(Buffer.concat(got).subarray(4))
  assert.equal([answer.kind, answer.kind === 'error' && answer.code], ['error', 'WIRE_UNKNOWN_TYPE'])
  assert.is(server.stats().malformed, 1)
  await uplink.send(batch(2, ['e2']))
  assert.equal(store.appended, ['e1', 'e2'])
  await uplink.close()
  await close()
})

test('a batch naming another transponder than the connection\'s is refused', async () => {
  const store = gatedStore(); store.release()
  const { server, close } = await stationWith(store.emit, { tls: tlsOf('station') })
  const uplink = new SocketUplink({ id: 't2', station: server.address(), tls: tlsOf('t2') })
  await uplink.open()
  const err = await uplink.send(batch(1, ['e1'])).catch((e: unknown) => e)
  assert.ok(isCode('TRANSPONDER_SENDER_MISMATCH')(err), String(err))
  assert.equal(store.appended, [])
  await uplink.close()
  await close()
})

test('sends beyond maxInFlight wait for a slot; close rejects what still waits', async () => {
  const store = gatedStore()
  const { server, close } = await stationWith(store.emit, { insecure: true })
  const uplink = new SocketUplink({ id: 't1', station: server.address(), insecure: true, maxInFlight: 2 })
  await uplink.open()
  const sends = [1, 2, 3].map(async (seq) => await uplink.send(batch(seq, [`e${seq}`], `t1/${seq}`)).then(() => 'ok', (e: unknown) => e))
  await until(() => store.appended.length === 2)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(store.appended, ['e1', 'e2'], 'the third waits for a slot')
  store.release()
  assert.equal(await Promise.all(sends), ['ok', 'ok', 'ok'])
  store.gated = true
  const pending = uplink.send(batch(4, ['e4'])).catch((e: unknown) => e)
  await until(() => store.appended.length === 4)
  await uplink.close()
  assert.ok(isCode('NODE_CLOSED')(await pending))
  assert.ok(isCode('NODE_NOT_OPEN')(await uplink.send(batch(5, [])).catch((e: unknown) => e)))
  store.release()
  await close()
})

test('a dead station is re-dialed with backoff, and the caller\'s signal bounds every wait', async () => {
  const probe = net.createServer()
  await new Promise<void>((resolve) => { probe.listen(0, '127.0.0.1', () => { resolve() }) })
  const port = (probe.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => { probe.close(() => { resolve() }) })
  const uplink = new SocketUplink({ id: 't1', station: { host: '127.0.0.1', port }, insecure: true, backoffInitialMs: 100, backoffMaxMs: 100, random: { next: () => 0.99 } })
  await uplink.open()
  const started = Date.now()
  let failures = 0
  while (Date.now() - started < 400) {
    const err = await uplink.send(batch(1, []), { signal: AbortSignal.timeout(500) }).catch((e: unknown) => e)
    assert.ok(isCode('TRANSPONDER_UPLINK_UNAVAILABLE')(err) || isCode('ABORTED')(err), String(err))
    failures++
  }
  assert.ok(uplink.stats().dials <= 7, `dials ${uplink.stats().dials} in 400 ms with a 100 ms backoff (${failures} sends)`)
  const aborted = await uplink.send(batch(1, []), { signal: AbortSignal.abort() }).catch((e: unknown) => e)
  assert.ok(isCode('ABORTED')(aborted), String(aborted))
  const store = gatedStore(); store.release()
  const { close } = await stationWith(store.emit, { insecure: true }, port)
  await new Promise((resolve) => setTimeout(resolve, 150))
  await uplink.send(batch(1, ['e1']))
  assert.equal([store.appended, uplink.connected], [['e1'], true])
  await uplink.close()
  await close()
})

test('uplink options are validated', () => {
  assert.throws(() => new SocketUplink({ id: 't1', station: { host: '127.0.0.1', port: 1 } }), /tls/)
  assert.throws(() => new SocketUplink({ id: 't1', station: { host: '127.0.0.1', port: 1 }, insecure: true, maxInFlight: 0 }), /maxInFlight/)
  assert.throws(() => new SocketUplink({ id: 't1', station: { host: '127.0.0.1', port: 1 }, insecure: true, backof: 1 } as never), /backoff/)
  assert.throws(() => new StationServer({ listen: { host: '127.0.0.1', port: 0 }, station: {} as never, insecure: true }), /station/)
})

test.run()

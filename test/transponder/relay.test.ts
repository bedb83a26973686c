/**
 * The relay on its own, in virtual time: batching by window (one timer per window) and by
 * size, heartbeats coalesced into joined/left, duplicates and filtered envelopes, acknowledgement
 * only after the uplink's, retry of a failed uplink with the same batch, the downward split with
 * per-target results, and the station end's verification and liveness rules.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { SeededRandom } from '../../src/util/random.js'
import { QuorateError } from '../../src/errors.js'
import {
  KeyRing, RelayedCommandChannel, TrackingStation, Transponder, createSigningKeys, openCommand, peekEnvelope, sealEvent, sealReply, signer
} from '../../src/transponder/index.js'
import type { TransponderOptions, UplinkBatch } from '../../src/transponder/index.js'

const material = createSigningKeys(['w1', 'w2', 'coord'])
const ring = new KeyRing(material.publicKeys)
const w1 = signer('w1', material.privateKeys.w1!)
const w2 = signer('w2', material.privateKeys.w2!)
const coord = signer('coord', material.privateKeys.coord!)
const settle = async (): Promise<void> => { for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => { setImmediate(resolve) }) }
/** The code a promise rejects with ('resolved' if it does not). */
async function rejection (p: Promise<unknown> | (() => Promise<unknown>)): Promise<string> {
  try { await (typeof p === 'function' ? p() : p) } catch (err) { return err instanceof QuorateError ? err.code : String(err) }
  return 'resolved'
}
const event = (s: typeof w1, id: string): Uint8Array => sealEvent(s, 'station', { id, payload: Uint8Array.of(1) })

interface Rig { clock: ManualClock, t: Transponder, batches: UplinkBatch[], release: () => void, fail: (n: number) => void }

async function rig (options: Partial<TransponderOptions> = {}): Promise<Rig> {
  const clock = new ManualClock()
  const batches: UplinkBatch[] = []
  let held: Array<() => void> = []
  let failures = 0
  let hold = true
  const t = new Transponder({
    id: 't1',
    clock,
    random: new SeededRandom(1),
    uplink: async (batch) => {
      batches.push(batch)
      if (failures > 0) { failures--; throw new Error('uplink down') }
      if (hold) await new Promise<void>((resolve) => { held.push(resolve) })
    },
    downlink: async () => { throw new QuorateError('TRANSPONDER_UNDELIVERABLE', 'no agents') },
    ...options
  })
  await t.open()
  return {
    clock,
    t,
    batches,
    release: () => { hold = false; for (const r of held) r(); held = [] },
    fail: (n) => { failures = n }
  }
}

test('envelopes in one window go up as one batch, and agents are acknowledged only after the uplink', async () => {
  const { clock, t, batches, release } = await rig({ windowMs: 20 })
  const acks: string[] = []
  for (let i = 0; i < 10; i++) void t.submit('w1', event(w1, `e${i}`)).then((r) => { acks.push(r) })
  assert.is(clock.pendingTimers, 2, 'one window timer and the report timer, not one per message')
  clock.advance(20)
  await settle()
  assert.is(batches.length, 1)
  assert.is(batches[0]!.envelopes.length, 10)
  assert.equal(batches[0]!.joined, ['w1'])
  assert.is(acks.length, 0, 'no acknowledgement before the uplink acknowledged')
  release()
  await settle()
  assert.is(acks.length, 10)
  await t.close()
})

test('a full batch goes up at once, without waiting for the window', async () => {
  const { t, batches, release } = await rig({ windowMs: 1000, maxBatchEnvelopes: 4 })
  release()
  for (let i = 0; i < 4; i++) void t.submit('w1', event(w1, `e${i}`))
  await settle()
  assert.is(batches.length, 1)
  assert.is(batches[0]!.envelopes.length, 4)
  await t.close()
})

test('a duplicate in a batch is sent once and both senders are acknowledged; a filtered one is answered filtered', async () => {
  const { clock, t, batches, release } = await rig({ filter: (e) => e.id !== 'spurious' })
  release()
  const bytes = event(w1, 'same')
  const results = Promise.all([t.submit('w1', bytes), t.submit('w1', bytes), t.submit('w1', event(w1, 'spurious'))])
  clock.advance(20)
  await settle()
  assert.equal(await results, ['acknowledged', 'acknowledged', 'filtered'])
  assert.is(batches[0]!.envelopes.length, 1)
  assert.equal(t.stats().duplicatesDropped, 1)
  assert.equal(t.stats().filtered, 1)
  await t.close()
})

test('heartbeats are coalesced: joined once, then one report per interval, then left after agentTimeoutMs', async () => {
  const { clock, t, batches, release } = await rig({ reportIntervalMs: 1000, agentTimeoutMs: 3000, fullReportEvery: 3 })
  release()
  for (let s = 0; s < 3; s++) { t.heartbeat('w1'); t.heartbeat('w2'); clock.advance(1000); await settle() }
  const joined = batches.flatMap((b) => b.joined)
  assert.equal(joined.sort(), ['w1', 'w2'])
  const reports = batches.length
  assert.ok(reports <= 4, `${reports} batches for 6 heartbeats`)
  assert.ok(batches.some((b) => b.alive !== null && b.alive.length === 2), 'a full alive set now and then')
  for (let s = 0; s < 5; s++) { t.heartbeat('w1'); clock.advance(1000); await settle() }
  assert.ok(batches.some((b) => b.left.includes('w2')))
  assert.not.ok(batches.some((b) => b.left.includes('w1')))
  await t.close()
})

test('a failed uplink is retried with the same batch (same seq) and the agent acknowledged after the retry', async () => {
  const { clock, t, batches, release, fail } = await rig()
  release()
  fail(2)
  let ack = ''
  void t.submit('w1', event(w1, 'e1')).then((r) => { ack = r })
  for (let i = 0; i < 20 && ack === ''; i++) { clock.advance(50); await settle() }
  assert.is(ack, 'acknowledged')
  assert.ok(batches.length >= 3)
  assert.equal(new Set(batches.slice(0, 3).map((b) => b.seq)).size, 1)
  assert.is(t.stats().uplinkRetries, 2)
  await t.close()
})

test('an envelope signed by another node than the downlink\'s is refused TRANSPONDER_SENDER_MISMATCH; garbage is malformed', async () => {
  const { t } = await rig()
  assert.is(await rejection(t.submit('w1', event(w2, 'e1'))), 'TRANSPONDER_SENDER_MISMATCH')
  assert.is(await rejection(t.submit('w1', Uint8Array.of(1, 2, 3))), 'TRANSPONDER_ENVELOPE_MALFORMED')
  await t.close()
})

test('close rejects every submit still waiting for the uplink with NODE_CLOSED, and is idempotent', async () => {
  const { clock, t } = await rig()
  const p = rejection(t.submit('w1', event(w1, 'e1')))
  clock.advance(20)
  await settle()
  await t.close()
  await t.close()
  assert.is(await p, 'NODE_CLOSED')
  assert.is(await rejection(t.submit('w1', event(w1, 'e2'))), 'NODE_NOT_OPEN')
})

test('unknown or mistyped transponder options are refused naming the option', () => {
  const base = { id: 't', uplink: async () => {}, downlink: async () => new Uint8Array() }
  assert.throws(() => new Transponder({ ...base, windowMS: 5 } as never), /did you mean "windowMs"/)
  assert.throws(() => new Transponder({ ...base, windowMs: -1 }), /windowMs/)
  assert.throws(() => new Transponder({ ...base, dropDuplicates: 'no' as never }), /dropDuplicates/)
  assert.throws(() => new Transponder({ ...base, uplink: undefined as never }), /uplink/)
})

test('a downward batch is split per target: replies for the reachable, undeliverable for the others and for a timeout', async () => {
  const clock = new ManualClock()
  const t = new Transponder({
    id: 't1',
    clock,
    uplink: async () => {},
    deliveryTimeoutMs: 100,
    downlink: async (agent, bytes) => {
      if (agent === 'w2') return await new Promise<Uint8Array>(() => {}) // never answers
      const { command } = openCommand(bytes, ring, agent)
      return sealReply(w1, 'coord', { id: command.id, ok: true, instances: [] }, command.fence)
    }
  })
  await t.open()
  const channel = new RelayedCommandChannel({ signer: coord, keys: ring, clock, route: (a) => a === 'w3' ? undefined : 't1', transponder: () => async (c) => await t.deliver(c) })
  const fence = { lease: 'quorate/coordinator', token: 2 }
  const pending = channel.sendMany(['w1', 'w2', 'w3'].map((node) => ({ node, command: { kind: 'status' as const, id: `c-${node}`, fence } })))
  await settle()
  clock.advance(100)
  await settle()
  const [r1, r2, r3] = await pending
  assert.equal(r1, { id: 'c-w1', ok: true, instances: [] })
  assert.ok(r2 instanceof QuorateError && r2.code === 'AGENT_UNREACHABLE' && (r2.cause as QuorateError).code === 'TRANSPONDER_UNDELIVERABLE')
  assert.ok(r3 instanceof QuorateError && (r3.cause as QuorateError).code === 'TRANSPONDER_NO_TRANSPONDER')
  assert.equal([t.stats().commandsDelivered, t.stats().commandsUndeliverable], [1, 1])
  await t.close()
})

test('a reply signed by a relay instead of the agent is refused at the coordinator', async () => {
  const clock = new ManualClock()
  const channel = new RelayedCommandChannel({
    signer: coord,
    keys: ring,
    clock,
    route: () => 't1',
    transponder: () => async (commands) => commands.map((bytes) => {
      const e = peekEnvelope(bytes)
      // w2 (standing in for a compromised relay holding some key) answers for w1.
      return { target: e.target, id: e.id, ok: true as const, reply: sealReply(w2, 'coord', { id: e.id, ok: true, instances: [] }, e.fence) }
    })
  })
  const err = await channel.send('w1', { kind: 'status', id: 'c1', fence: { lease: 'l', token: 1 } }).catch((e: unknown) => e)
  assert.ok(err instanceof QuorateError && err.code === 'AGENT_UNREACHABLE' && (err.cause as QuorateError).code === 'TRANSPONDER_SENDER_MISMATCH')
})

test('the station emits verified events, refuses forged ones, and follows joined/left/silence', async () => {
  const clock = new ManualClock()
  const emitted: string[] = []
  const refused: string[] = []
  const changes: string[] = []
  const station = new TrackingStation({
    id: 'station',
    keys: ring,
    clock,
    transponderTimeoutMs: 1000,
    rehomeGraceMs: 1000,
    emit: async (e) => { emitted.push(e.id) },
    onRefused: (err) => { refused.push(err.code) },
    onLiveness: (c) => { changes.push(`${c.agent}:${c.alive ? 'alive' : 'dead'}:${c.via}`) }
  })
  await station.open()
  const altered = Uint8Array.from(event(w1, 'e2')); altered[altered.length - 1]! ^= 1
  await station.receive({ transponder: 't1', seq: 1, joined: ['w1', 'w2'], left: [], alive: null, envelopes: [event(w1, 'e1'), altered, sealEvent(w1, 'elsewhere', { id: 'e3', payload: Uint8Array.of(1) })] })
  assert.equal(emitted, ['e1'])
  assert.equal(refused.sort(), ['TRANSPONDER_SIGNATURE_INVALID', 'TRANSPONDER_WRONG_TARGET'])
  assert.is(station.routeOf('w1'), 't1')
  // w1 re-homes to t2; t1 later says w1 left: w1 stays alive (it is routed via t2).
  await station.receive({ transponder: 't2', seq: 1, joined: ['w1'], left: [], alive: null, envelopes: [] })
  await station.receive({ transponder: 't1', seq: 2, joined: [], left: ['w1', 'w2'], alive: null, envelopes: [] })
  assert.is(station.routeOf('w1'), 't2')
  assert.not.ok(station.isAlive('w2'))
  // t2 is silent past its timeout, then reports again within the grace: w1 stays alive.
  clock.advance(1250)
  await station.receive({ transponder: 't2', seq: 2, joined: [], left: [], alive: null, envelopes: [] })
  clock.advance(1250)
  assert.ok(station.isAlive('w1'))
  // t2 falls silent for good: w1 is orphaned, then dead after the grace.
  clock.advance(2500)
  assert.not.ok(station.isAlive('w1'))
  assert.equal(changes, ['w1:alive:t1', 'w2:alive:t1', 'w2:dead:t1', 'w1:dead:t2'])
  await station.close()
})

test.run()

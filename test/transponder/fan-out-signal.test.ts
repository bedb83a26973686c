/**
 * A batch of many commands or events bounded by one caller's signal puts one listener on that
 * signal, not one per item: a relay delivering 200 commands and a station committing a batch
 * of 200 events raise no MaxListenersExceededWarning, the caller's signal still cancels every
 * item, and its listener is removed when the batch settles.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { getEventListeners } from 'node:events'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { SeededRandom } from '../../src/util/random.js'
import { fanOutSignal } from '../../src/transponder/deadline.js'
import { EventReporter } from '../../src/agent/event-reporter.js'
import { KeyRing, TrackingStation, Transponder, createSigningKeys, openCommand, sealCommand, sealEvent, sealReply, signer } from '../../src/transponder/index.js'

const material = createSigningKeys(['w1', 'coord'])
const ring = new KeyRing(material.publicKeys)
const w1 = signer('w1', material.privateKeys.w1!)
const coord = signer('coord', material.privateKeys.coord!)
const ITEMS = 200
const settle = async (): Promise<void> => { for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => { setImmediate(resolve) }) }
const listeners = (s: AbortSignal): number => getEventListeners(s, 'abort').length

/** Runs `body` and returns every MaxListenersExceededWarning the process emitted meanwhile. */
async function warningsDuring (body: () => Promise<void>): Promise<string[]> {
  const seen: string[] = []
  const onWarning = (w: Error): void => { if (w.name === 'MaxListenersExceededWarning') seen.push(w.message) }
  process.on('warning', onWarning)
  try {
    await body()
    await settle() // warnings are emitted on the next tick
  } finally { process.off('warning', onWarning) }
  return seen
}

test('fanOutSignal forwards the reason, listens once on the caller and lets go on release', () => {
  const outer = new AbortController()
  const fan = fanOutSignal(outer.signal)
  for (let i = 0; i < 50; i++) fan.signal!.addEventListener('abort', () => {})
  assert.is(listeners(outer.signal), 1)
  outer.abort('stop')
  assert.is(fan.signal!.aborted, true)
  assert.is(fan.signal!.reason, 'stop')
  const again = new AbortController()
  const second = fanOutSignal(again.signal)
  second.release()
  assert.is(listeners(again.signal), 0, 'released')
  again.abort('late')
  assert.is(second.signal!.aborted, false, 'a released fan no longer follows the caller')
  assert.equal(fanOutSignal(undefined).signal, undefined)
  const early = fanOutSignal(AbortSignal.abort('already'))
  assert.is(early.signal!.reason, 'already')
})

test('a relay delivering 200 commands under one signal puts one listener on it and raises no warning', async () => {
  const clock = new ManualClock()
  const outer = new AbortController()
  let peak = 0
  const t = new Transponder({
    id: 't1',
    clock,
    random: new SeededRandom(1),
    uplink: async () => {},
    deliveryTimeoutMs: 1000,
    downlink: async (agent, bytes) => {
      peak = Math.max(peak, listeners(outer.signal))
      const { command } = openCommand(bytes, ring, agent)
      return sealReply(w1, 'coord', { id: command.id, ok: true, instances: [] }, command.fence)
    }
  })
  await t.open()
  const fence = { lease: 'quorate/coordinator', token: 1 }
  const commands = Array.from({ length: ITEMS }, (_, i) => sealCommand(coord, 'w1', { kind: 'status', id: `c${i}`, fence }))
  const warnings = await warningsDuring(async () => {
    const results = await t.deliver(commands, { signal: outer.signal })
    assert.is(results.filter((r) => r.ok).length, ITEMS)
  })
  assert.equal(warnings, [])
  assert.is(peak, 1, 'one listener on the caller signal while the batch runs')
  assert.is(listeners(outer.signal), 0, 'removed once the batch settled')
  await t.close()
})

test('a station committing 200 events under one signal puts one listener on it, and the signal still cancels them', async () => {
  const clock = new ManualClock()
  const outer = new AbortController()
  const waiting: Array<() => void> = []
  let aborted = 0
  const station = new TrackingStation({
    id: 'station',
    keys: ring,
    clock,
    // Each emit listens on its signal, as StreamConnection.request does, until the caller aborts.
    emit: async (_e, { signal }) => {
      await new Promise<void>((resolve, reject) => {
        waiting.push(resolve)
        signal!.addEventListener('abort', () => { aborted++; reject(signal!.reason) }, { once: true })
      })
    }
  })
  await station.open()
  const envelopes = Array.from({ length: ITEMS }, (_, i) => sealEvent(w1, 'station', { id: `e${i}`, payload: Uint8Array.of(1) }))
  let outcome = 'pending'
  const warnings = await warningsDuring(async () => {
    const receiving = station.receive({ transponder: 't1', seq: 1, joined: ['w1'], left: [], alive: null, envelopes }, { signal: outer.signal })
      .then(() => { outcome = 'resolved' }, (err: unknown) => { outcome = String(err) })
    await settle()
    assert.is(waiting.length, ITEMS)
    assert.is(listeners(outer.signal), 1, 'one listener on the caller signal, not one per event')
    outer.abort('connection closed')
    await receiving
  })
  assert.equal(warnings, [])
  assert.is(aborted, ITEMS, 'every event was cancelled through the one listener')
  assert.is(outcome, 'connection closed')
  assert.is(listeners(outer.signal), 0)
  await station.close()
})

test('200 liveness events pending at once on the reporter\'s one signal raise no warning, and a flush abandons them all', async () => {
  const clock = new ManualClock()
  const errors: string[] = []
  const reporter = new EventReporter({
    clock,
    flushMs: 10,
    owner: 'test',
    events: {
      // Pending until its signal fires, listening on it as the events client does.
      emit: async (_e, options) => await new Promise((_resolve, reject) => {
        options!.signal!.addEventListener('abort', () => { reject(options!.signal!.reason) }, { once: true })
      })
    },
    onEventError: (_event, err) => { errors.push((err as { code?: string }).code ?? String(err)) }
  })
  const warnings = await warningsDuring(async () => {
    for (let i = 0; i < ITEMS; i++) reporter.report({ type: 'node-dead', node: `w${i}`, observer: 'station', at: i })
    const flushed = reporter.flush()
    clock.advance(10)
    await flushed
  })
  assert.equal(warnings, [])
  assert.is(errors.length, ITEMS)
  assert.ok(errors.every((c) => c === 'NODE_CLOSED'), errors[0])
})

test.run()

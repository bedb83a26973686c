/**
 * Failover grace wired to the coordinator epoch: a detector watching the graph replica with
 * graceOnFailover enters its grace when a new coordinator takes over, so a worker whose
 * heartbeats were missed during the handover is not declared dead within failoverGraceMs of
 * the takeover — and is declared dead after it. The same detector unwired declares it early.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { FailureDetector } from '../../src/agent/failure-detector.js'
import type { Transition } from '../../src/agent/failure-detector.js'
import { Coordinator, graceOnFailover, readEpoch } from './imports.js'
import { RecordingAgents, host, populate, schema, until } from './helpers.js'

const GRACE = 3000
const DETECTOR = { self: 's1', peers: ['w1', 'w2'], confirmations: 1, deadAfterSilenceMs: 1500, failoverGraceMs: GRACE, startupGraceMs: 0 }

test('a new coordinator epoch holds deaths back for failoverGraceMs after the takeover, then the silent node is declared dead', async () => {
  const h = host(); const clock = new ManualClock(); const agents = new RecordingAgents()
  await populate(h, [{ id: 'w1' }, { id: 'w2' }], [])
  const run1 = new AbortController()
  const first = new Coordinator({ machine: h.machine, submit: h.submit, schema, channel: agents, fence: { lease: 'coord', token: 1 }, clock })
  const firstRun = first.run(run1.signal)
  await until(clock, () => readEpoch(h.graph.local()).token === 1)

  const wired = new FailureDetector(DETECTOR, clock.now())
  const unwired = new FailureDetector(DETECTOR, clock.now())
  const stopWatching = graceOnFailover(h.machine, { failover: () => { wired.failover(clock.now()) } })
  const start = clock.now()
  const deaths = { wired: [] as Transition[], unwired: [] as Transition[] }
  let takeoverAt = Infinity
  let second: Promise<void> | undefined
  const run2 = new AbortController()
  for (let t = 0; t <= 8000; t += 100) {
    const now = start + t
    clock.advance(now - clock.now())
    // w2 beats throughout; w1 stops at 1000 (its heartbeats are lost in the handover, and it stays silent).
    const beats = ['w2', ...(t < 1000 ? ['w1'] : [])]
    if (t % 200 === 0) for (const from of beats) for (const d of [wired, unwired]) d.receive({ from, incarnation: 0, suspects: [], refused: [] }, now)
    deaths.wired.push(...wired.tick(now).filter((x) => x.status === 'dead'))
    deaths.unwired.push(...unwired.tick(now).filter((x) => x.status === 'dead'))
    if (t === 1000) { run1.abort(); await firstRun }
    if (t === 2000) {
      // The new coordinator takes over (its first write raises the epoch token on the replica).
      second = new Coordinator({ machine: h.machine, submit: h.submit, schema, channel: agents, fence: { lease: 'coord', token: 2 }, clock }).run(run2.signal)
      for (let i = 0; i < 5 && readEpoch(h.graph.local()).token !== 2; i++) await new Promise<void>((resolve) => { setImmediate(resolve) })
      assert.is(readEpoch(h.graph.local()).token, 2)
      takeoverAt = now
    }
  }
  stopWatching()
  run2.abort()
  await second
  assert.equal(deaths.unwired.map((d) => d.node), ['w1'], 'without the wiring w1 is declared dead')
  assert.ok(deaths.unwired[0]!.at < takeoverAt + GRACE, 'and within the grace window (so the wiring is what holds it back)')
  assert.equal(deaths.wired.map((d) => d.node), ['w1'], 'with the wiring w1 is still declared dead, once')
  assert.ok(deaths.wired[0]!.at >= takeoverAt + GRACE, `not before the grace ends (declared at ${deaths.wired[0]!.at - takeoverAt} ms after the takeover)`)
  assert.ok(deaths.wired[0]!.at <= takeoverAt + GRACE + 200, 'but at the first tick after it')
})

test('the epoch present when watching starts is no failover, a repeated token is none either, and a stopped watch calls nothing', async () => {
  const h = host(); const clock = new ManualClock(); const agents = new RecordingAgents()
  await populate(h, [{ id: 'w1' }], [])
  const stop1 = new AbortController()
  const c1 = new Coordinator({ machine: h.machine, submit: h.submit, schema, channel: agents, fence: { lease: 'coord', token: 4 }, clock }).run(stop1.signal)
  await until(clock, () => readEpoch(h.graph.local()).token === 4)
  let calls = 0
  const stop = graceOnFailover(h.machine, { failover: () => { calls++ } })
  // Decisions of the same coordinator rewrite the epoch record (seq) without a new token.
  await h.graph.transaction().fence('coord', 4).put({ kind: 'ha.epoch', id: 'ha.epoch' }, { token: 4, holder: 'x', seq: 9 }).commit()
  assert.is(calls, 0)
  stop1.abort(); await c1
  const stop2 = new AbortController()
  const c2 = new Coordinator({ machine: h.machine, submit: h.submit, schema, channel: agents, fence: { lease: 'coord', token: 5 }, clock }).run(stop2.signal)
  await until(clock, () => readEpoch(h.graph.local()).token === 5)
  assert.is(calls, 1)
  stop()
  stop2.abort(); await c2
  await h.graph.transaction().fence('coord', 6).put({ kind: 'ha.epoch', id: 'ha.epoch' }, { token: 6, holder: 'x', seq: 20 }).commit()
  assert.is(readEpoch(h.graph.local()).token, 6)
  assert.is(calls, 1, 'no call after the watch stopped')
})

test('graceOnFailover refuses what it cannot watch or call', () => {
  const h = host()
  assert.throws(() => graceOnFailover({} as never, { failover: () => {} }), /OPTIONS_INVALID|machine/)
  assert.throws(() => graceOnFailover(h.machine, {} as never), /failover/)
})

test.run()

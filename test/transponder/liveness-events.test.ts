/**
 * Station deaths into the events queue: one node-dead per silence under an id stable across
 * retries, node-alive when the node returns, no death during the failover grace after open
 * (one seen then is declared when the grace ends if the node is still not alive).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { decodeHaEvent } from '../../src/agent/index.js'
import type { HaEvent } from '../../src/agent/index.js'
import { LivenessEvents } from '../../src/transponder/index.js'

function setup (failoverGraceMs: number): { clock: ManualClock, liveness: LivenessEvents, queued: Array<{ id: string, event: HaEvent }> } {
  const clock = new ManualClock()
  const queued: Array<{ id: string, event: HaEvent }> = []
  const liveness = new LivenessEvents({
    observer: 'station', clock, now: () => clock.now(), failoverGraceMs,
    events: { emit: async (e) => { queued.push({ id: e.id, event: decodeHaEvent(e.payload) as HaEvent }) } }
  })
  return { clock, liveness, queued }
}
const change = (agent: string, alive: boolean, at: number): { agent: string, alive: boolean, via: string, at: number } => ({ agent, alive, via: 't1', at })
const tick = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

test('a death is one node-dead per silence, a return is node-alive, and a second death has a new id', async () => {
  const { liveness, queued } = setup(0)
  await liveness.open()
  liveness.onLiveness(change('w1', true, 0))
  liveness.onLiveness(change('w1', false, 10))
  liveness.onLiveness(change('w1', false, 20)) // the same silence, reported again
  liveness.onLiveness(change('w1', true, 30))
  liveness.onLiveness(change('w1', false, 40))
  await tick()
  assert.equal(queued.map((q) => q.event.type), ['node-dead', 'node-alive', 'node-dead'])
  const ids = queued.filter((q) => q.event.type === 'node-dead').map((q) => q.id)
  assert.ok(ids[0]!.startsWith('node-dead:w1:') && ids[0] !== ids[1], ids.join(' '))
  assert.equal([...liveness.dead], ['w1'])
  await liveness.close(); await liveness.close()
})

test('no death is declared during the failover grace; one still dead when it ends is', async () => {
  const { clock, liveness, queued } = setup(5000)
  await liveness.open()
  liveness.onLiveness(change('w1', false, 100))
  liveness.onLiveness(change('w2', false, 100))
  liveness.onLiveness(change('w2', true, 200)) // it was only a transponder's reconnect storm
  clock.advance(4999)
  await tick()
  assert.equal(queued, [])
  clock.advance(1)
  await tick()
  assert.equal(queued.map((q) => [q.event.type, (q.event as { node: string }).node]), [['node-dead', 'w1']])
  await liveness.close()
})

test('options are validated', () => {
  assert.throws(() => new LivenessEvents({ observer: '' }), /observer/)
  assert.throws(() => new LivenessEvents({ observer: 's', failoverGraceMS: 1 } as never), /failoverGraceMs/)
})

test.run()

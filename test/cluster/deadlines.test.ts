/** PendingDeadlines in virtual time: a request expires within one sweep of its deadline, never before and at most once; a done one never does; a closed connection expires the rest. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { PendingDeadlines } from '../../src/cluster/deadlines.js'
import { ManualClock } from '../../src/testing/manual-clock.js'

function recorder (): { expired: Array<[string, unknown]>, onExpire: (item: string, reason: unknown) => void } {
  const expired: Array<[string, unknown]> = []
  return { expired, onExpire: (item, reason) => { expired.push([item, reason]) } }
}

test('a pending request expires between its deadline and one sweep later; a done one never does', () => {
  const clock = new ManualClock()
  const r = recorder()
  const deadlines = new PendingDeadlines<string>(1000, r.onExpire, { sweepMs: 100, clock })
  deadlines.start('settled')
  deadlines.start('slow')
  assert.is(deadlines.done('settled'), true, 'done on a pending request says it was pending')
  clock.advance(950)
  deadlines.start('late')
  clock.advance(49)
  assert.equal(r.expired, [], 'nothing before its deadline')
  clock.advance(101)
  assert.equal(r.expired.map(([item, reason]) => [item, (reason as Error).name]), [['slow', 'TimeoutError']])
  assert.is(deadlines.done('slow'), false, 'done after expiry says the late answer must be dropped')
  clock.advance(1000)
  assert.equal([r.expired.map(([item]) => item), deadlines.size], [['slow', 'late'], 0])
  clock.advance(5000)
  assert.is(r.expired.length, 2, 'each request expires at most once')
})

test('expireAll expires every pending request with its reason, once, and later requests expire at start', () => {
  const clock = new ManualClock()
  const r = recorder()
  const deadlines = new PendingDeadlines<string>(1000, r.onExpire, { clock })
  deadlines.start('a')
  deadlines.start('b')
  deadlines.done('b')
  const reason = new Error('connection closed')
  deadlines.expireAll(reason)
  deadlines.expireAll(new Error('again'))
  deadlines.start('c')
  assert.equal(r.expired, [['a', reason], ['c', reason]])
  clock.advance(5000)
  assert.equal([deadlines.size, r.expired.length], [0, 2])
})

test('an idle queue holds no timer: nothing is scheduled until a request starts, nothing after the last is done', () => {
  const clock = new ManualClock()
  const deadlines = new PendingDeadlines<string>(1000, () => {}, { sweepMs: 100, clock })
  assert.is(clock.pendingTimers, 0)
  deadlines.start('a')
  assert.is(clock.pendingTimers, 1)
  deadlines.done('a')
  clock.advance(100)
  assert.is(clock.pendingTimers, 0)
})

test.run()

/** PendingDeadlines in virtual time: a request times out within one sweep of its deadline, never before; a closed connection aborts the rest. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { PendingDeadlines } from '../../src/cluster/deadlines.js'
import { ManualClock } from '../../src/testing/manual-clock.js'

test('a pending request is aborted between its deadline and one sweep later; a settled one never is', () => {
  const clock = new ManualClock()
  const deadlines = new PendingDeadlines(1000, { sweepMs: 100, clock })
  const settled = deadlines.start()
  const slow = deadlines.start()
  deadlines.done(settled)
  clock.advance(950)
  const late = deadlines.start()
  clock.advance(49)
  assert.equal([slow.signal.aborted, late.signal.aborted], [false, false], 'nothing before its deadline')
  clock.advance(101)
  assert.equal([slow.signal.aborted, (slow.signal.reason as Error).name, late.signal.aborted, settled.signal.aborted], [true, 'TimeoutError', false, false])
  clock.advance(1000)
  assert.equal([late.signal.aborted, deadlines.size], [true, 0])
})

test('abortAll aborts every pending request with its reason, and later requests start aborted', () => {
  const clock = new ManualClock()
  const deadlines = new PendingDeadlines(1000, { clock })
  const a = deadlines.start()
  const b = deadlines.start()
  const reason = new Error('connection closed')
  deadlines.abortAll(reason)
  assert.equal([a.signal.reason, b.signal.reason, deadlines.start().signal.reason], [reason, reason, reason])
  clock.advance(5000)
  assert.equal(deadlines.size, 0)
})

test.run()

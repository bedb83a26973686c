/**
 * The demo's output pieces without processes: the monitor announces a leader that a write
 * acknowledgement revealed before the caller prints that acknowledgement (causal order), and
 * the display stops writing and reports once when its reader goes away (EPIPE).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EventEmitter } from 'node:events'
import type { ClusterHandle } from '../../src/cluster/cluster-handle.js'
import type { NodeReport } from '../../src/cluster/protocol.js'
import { Display } from '../../demo/display.js'
import { Monitor } from '../../demo/monitor.js'

/** A stdout stand-in: records writes, emits 'error' on demand. */
class FakeOut extends EventEmitter {
  readonly written: string[] = []
  readonly isTTY = false
  readonly columns = 0
  destroyed = false
  write (text: string): boolean { this.written.push(text); return true }
}

function report (id: string, role: NodeReport['role'], term: number): NodeReport {
  return { id, role, term, leader: role === 'leader' ? id : null, commitIndex: 10, appliedIndex: 10 } as unknown as NodeReport
}

function fakeCluster (roles: () => Record<string, NodeReport>): ClusterHandle {
  const ids = ['n1', 'n2', 'n3']
  return {
    ids,
    dir: '/nonexistent',
    isRunning: (id: string) => id !== 'n1',
    client: { status: async (id: string) => roles()[id]! }
  } as unknown as ClusterHandle
}

test('confirmLeader announces the leader a write revealed before it resolves, dated no later than the acknowledgement', async () => {
  const out = new FakeOut()
  const display = new Display(out as unknown as NodeJS.WriteStream, performance.now())
  const cluster = fakeCluster(() => ({ n2: report('n2', 'leader', 3), n3: report('n3', 'follower', 3) }))
  const monitor = new Monitor(cluster, display, () => '')
  monitor.killed('n1')
  const ackAt = performance.now()
  // No polling timer runs (monitor.start() was not called): only confirmLeader can poll.
  await monitor.confirmLeader('n2', ackAt)
  display.event('writes acknowledged again (by n2)')
  const lines = out.written.join('').split('\n').filter((l) => l.length > 0)
  const leader = lines.findIndex((l) => /n2 is leader \(term 3, \d+ ms after n1 was killed\)/.test(l))
  const acked = lines.findIndex((l) => l.includes('writes acknowledged again'))
  assert.ok(leader >= 0, lines.join('\n'))
  assert.ok(leader < acked, lines.join('\n'))
  assert.equal(monitor.leader?.id, 'n2')
  // Announced once: a second confirmation for the same leader prints nothing new.
  const before = out.written.length
  await monitor.confirmLeader('n2', performance.now())
  assert.equal(out.written.length, before)
})

test('the display reports a failed stream once and writes nothing after it', () => {
  const out = new FakeOut()
  const closed: Error[] = []
  const display = new Display(out as unknown as NodeJS.WriteStream, performance.now(), (err) => { closed.push(err) })
  display.event('first')
  const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })
  out.emit('error', epipe)
  out.emit('error', epipe)
  assert.equal(closed, [epipe])
  assert.ok(display.closed)
  const before = out.written.length
  display.event('second')
  display.note('a note')
  display.progress('progress')
  display.printTimeline()
  assert.equal(out.written.length, before)
})

test.run()

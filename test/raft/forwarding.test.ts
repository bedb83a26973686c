/**
 * Forwarded proposals under a transport that may duplicate messages: the leader appends a
 * forwarded batch once however often it arrives, and a refusal says whether the batch may
 * still have been appended by an earlier copy (the sender then reports an unknown outcome,
 * not a definite RAFT_NOT_LEADER).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RaftCore } from '../../src/raft/raft.js'
import { message } from '../../src/raft/types.js'
import type { Message } from '../../src/raft/types.js'

const forward = (context: number, term: number): Message =>
  message({ type: 'propose', from: 'n2', to: 'n1', term, context, entries: [{ term: 0, index: 0, type: 'command', data: new Uint8Array([context]) }] })

/** Steps `m` into `c` and returns the proposeResponse it sent. */
function answer (c: RaftCore, m: Message): Message {
  c.step(m)
  const rd = c.ready()
  c.advance(rd)
  const r = [...rd.earlyMessages, ...rd.messages].find((x) => x.type === 'proposeResponse' && x.context === m.context)
  assert.ok(r !== undefined, `an answer to context ${m.context}`)
  return r
}

function leader (): RaftCore {
  const c = new RaftCore({ id: 'n1', voters: ['n1'], learners: ['n2'] })
  c.campaign()
  assert.is(c.role, 'leader')
  c.advance(c.ready())
  return c
}

test('a duplicated forward is appended once and every copy gets the same position', () => {
  const c = leader()
  const first = answer(c, forward(7, c.term))
  const last = c.log.lastIndex()
  const again = answer(c, forward(7, c.term))
  assert.not.ok(first.reject)
  assert.equal([again.reject, again.index, again.logTerm], [false, first.index, first.logTerm])
  assert.is(c.log.lastIndex(), last, 'nothing appended for the copy')
})

test('a copy arriving after the leader stepped down still gets the position it was appended at', () => {
  const c = leader()
  const first = answer(c, forward(7, c.term))
  c.step(message({ type: 'heartbeat', from: 'n2', to: 'n1', term: c.term + 1 }))
  assert.is(c.role, 'follower')
  const late = answer(c, forward(7, first.logTerm))
  assert.equal([late.reject, late.index, late.logTerm], [false, first.index, first.logTerm])
})

test('a refusal is sure only from the leader of the forward\'s term that remembers what it took', () => {
  const c = leader()
  const term = c.term
  c.step(message({ type: 'heartbeat', from: 'n2', to: 'n1', term: term + 1 }))
  const sure = answer(c, forward(8, term))
  assert.equal([sure.reject, sure.index], [true, 0], 'it led that term and never took context 8')
  const other = answer(c, forward(9, term + 1))
  assert.equal([other.reject, other.index], [true, 1], 'it did not lead term + 1 here: maybe appended elsewhere')
  const restarted = new RaftCore({ id: 'n1', voters: ['n1'], learners: ['n2'] }, { hardState: c.hardState(), snapshot: null, entries: c.log.slice(1, c.log.lastIndex() + 1, Number.MAX_SAFE_INTEGER) })
  const forgot = answer(restarted, forward(10, term))
  assert.equal([forgot.reject, forgot.index], [true, 1], 'a restarted node cannot know what its earlier incarnation took')
})

test('the sender sees a refusal in doubt as such', () => {
  const c = new RaftCore({ id: 'n2', voters: ['n1'], learners: ['n2'] })
  c.step(message({ type: 'proposeResponse', from: 'n1', to: 'n2', term: 0, context: 5, reject: true, index: 1 }))
  c.step(message({ type: 'proposeResponse', from: 'n1', to: 'n2', term: 0, context: 6, reject: true }))
  const rd = c.ready()
  assert.equal(rd.forwarded.map((f) => [f.context, f.rejected, f.maybeAppended, f.index]), [[5, true, true, 0], [6, true, false, 0]])
})

test.run()

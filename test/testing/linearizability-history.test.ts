import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import { HistoryRecorder, isUnknownOutcome } from '../../src/testing/history.js'
import { checkLinearizability } from '../../src/testing/linearizability.js'
import { registerModel } from '../../src/testing/register-model.js'
import type { RegisterInput, RegisterOutput } from '../../src/testing/register-model.js'

const newRecorder = (): HistoryRecorder<RegisterInput, RegisterOutput> => new HistoryRecorder<RegisterInput, RegisterOutput>()

function codeOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return isQuorateError(err) ? err.code : 'not a QuorateError' }
  return undefined
}

test('recorded operations keep their client, times, input and output in invoke order', () => {
  const rec = newRecorder()
  const a = rec.invoke('a', { op: 'write', value: 1 }, 0)
  const b = rec.invoke('b', { op: 'read' }, 1)
  rec.ok(b, { op: 'read', value: 0 }, 3)
  rec.ok(a, { op: 'write' }, 4)
  assert.equal(rec.history(), [
    { id: a, clientId: 'a', input: { op: 'write', value: 1 }, invoke: 0, return: 4, output: { op: 'write' } },
    { id: b, clientId: 'b', input: { op: 'read' }, invoke: 1, return: 3, output: { op: 'read', value: 0 } }
  ])
  assert.is(rec.pending, 0)
})

test('a definite failure is left out of the history', () => {
  const rec = newRecorder()
  const failed = rec.invoke('a', { op: 'write', value: 1 }, 0)
  rec.fail(failed, 2)
  const r = rec.invoke('b', { op: 'read' }, 3)
  rec.ok(r, { op: 'read', value: 0 }, 4)
  assert.equal(rec.history().map((op) => op.id), [r])
  assert.is(checkLinearizability(registerModel(0), rec.history()).result, 'ok')
})

test('timed-out and still-pending operations have unknown outcomes', () => {
  const rec = newRecorder()
  const timedOut = rec.invoke('a', { op: 'write', value: 1 }, 0)
  rec.unknown(timedOut)
  rec.invoke('b', { op: 'write', value: 2 }, 1)
  assert.is(rec.pending, 1)
  const history = rec.history()
  assert.equal(history.map((op) => op.return), [null, null])
  assert.ok(history.every(isUnknownOutcome))
  assert.not.ok('output' in history[0]!)
})

test('settling an unknown id, settling twice or completing before invoke is refused', () => {
  const rec = newRecorder()
  const id = rec.invoke('a', { op: 'read' }, 5)
  assert.is(codeOf(() => rec.ok(id + 1, { op: 'read', value: 0 }, 6)), 'CHECKER_HISTORY_INVALID')
  assert.is(codeOf(() => rec.ok(id, { op: 'read', value: 0 }, 4)), 'CHECKER_HISTORY_INVALID')
  assert.is(codeOf(() => rec.invoke('a', { op: 'read' }, Number.NaN)), 'CHECKER_HISTORY_INVALID')
  rec.ok(id, { op: 'read', value: 0 }, 6)
  assert.is(codeOf(() => rec.fail(id, 7)), 'CHECKER_HISTORY_INVALID')
  assert.is(codeOf(() => rec.unknown(id)), 'CHECKER_HISTORY_INVALID')
  assert.is(rec.history().length, 1)
})

test.run()

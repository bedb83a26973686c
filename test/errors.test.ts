/** QuorateError's shape: stable codes, causes, and abort rejections named like the platform's. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { QuorateError, abortError, isQuorateError } from '../src/errors.js'

test('an abort rejection has name AbortError and keeps code ABORTED and the signal reason as cause', () => {
  const controller = new AbortController()
  const reason = new Error('user pressed stop')
  controller.abort(reason)
  const err = abortError(controller.signal)
  assert.is(err.name, 'AbortError')
  assert.ok(isQuorateError(err, 'ABORTED'))
  assert.is(err.cause, reason)
})

test('every other code keeps the name QuorateError', () => {
  const err = new QuorateError('NODE_CLOSED', 'closed')
  assert.is(err.name, 'QuorateError')
  assert.ok(err instanceof Error)
})

test.run()

/**
 * The core's configuration-change guards: canProposeConfigChange() tells beforehand what
 * proposeConfigChange would refuse (so the node never throws and swallows an error per loop
 * pass), and applyConfigChange ignores only the moot-change verdict, never a bug.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CoreNetwork } from './harness.js'
import { isQuorateError } from '../../src/errors.js'
import type { ConfigChange } from '../../src/raft/confchange.js'

test('canProposeConfigChange is false on a follower, true on a leader that committed in its term, false while a change is unapplied', () => {
  const net = new CoreNetwork(['n1', 'n2', 'n3'], { preVote: false })
  assert.not.ok(net.core('n2').canProposeConfigChange(), 'a follower cannot')
  assert.throws(() => net.core('n2').proposeConfigChange({ operations: [{ type: 'addLearner', id: 'n4' }] }), (err: unknown) => isQuorateError(err, 'RAFT_NOT_LEADER'))
  const leader = net.elect('n1')
  assert.ok(leader.canProposeConfigChange(), 'the leader committed its no-op')
  leader.proposeConfigChange({ operations: [{ type: 'addLearner', id: 'n4' }] })
  assert.not.ok(leader.canProposeConfigChange(), 'one change at a time')
  assert.throws(() => leader.proposeConfigChange({ operations: [{ type: 'addLearner', id: 'n5' }] }), (err: unknown) => isQuorateError(err, 'RAFT_CONFIG_PENDING'))
  net.stabilize()
  assert.ok(leader.canProposeConfigChange(), 'free again once the change is applied')
})

test('applyConfigChange ignores a moot change (every node reaches the same verdict) but rethrows anything else', () => {
  const net = new CoreNetwork(['n1', 'n2', 'n3'], { preVote: false })
  const core = net.elect('n1')
  const before = core.config
  assert.equal(core.applyConfigChange({ operations: [], leaveJoint: true }), before, 'leaving a joint configuration we are not in is moot')
  // A change that breaks while being read is a bug, not a verdict: it must surface.
  const broken = { get operations (): never { throw new RangeError('boom') } } as unknown as ConfigChange
  assert.throws(() => core.applyConfigChange(broken), RangeError)
})

test.run()

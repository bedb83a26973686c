/**
 * Raft §6 (a server uses the latest configuration in its log): a node whose log holds a
 * change that removes it must not campaign, even when a crash lost the commit index that
 * says the change committed (the commit index is persisted without fsync). Found by the
 * simulator (seeds 266 and 284 of the sweep): a restarted removed node won the vote of
 * another removed node under the old configuration and led a second term-2 leader.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RaftCore } from '../../src/raft/raft.js'
import { encodeConfigChange } from '../../src/raft/confchange.js'
import type { ConfigChange } from '../../src/raft/confchange.js'
import type { Entry } from '../../src/raft/types.js'

const noop = (index: number): Entry => ({ index, term: 1, type: 'noop', data: new Uint8Array(0) })
const config = (index: number, change: ConfigChange): Entry => ({ index, term: 1, type: 'config', data: encodeConfigChange(change) })

/** n3 restarted with the log below, commit 1 (it lost the knowledge that entry 2 committed). */
function restarted (entries: Entry[], preVote: boolean): RaftCore {
  const core = new RaftCore({ id: 'n3', voters: ['n1', 'n2', 'n3'], preVote, electionTicks: 10, electionJitterTicks: 1 },
    { hardState: { term: 1, vote: null, commit: 1 }, snapshot: null, entries })
  for (let i = 0; i < 30; i++) core.tick()
  return core
}

for (const preVote of [true, false]) {
  test(`a node whose log removes it does not campaign, even not knowing the removal committed (preVote ${String(preVote)})`, () => {
    const core = restarted([noop(1), config(2, { operations: [{ type: 'remove', id: 'n3' }] })], preVote)
    assert.is(core.role, 'follower')
    assert.is(core.term, 1)
    assert.equal(core.ready().messages.filter((m) => m.type === 'vote' || m.type === 'preVote'), [])
  })

  test(`a node whose log removes it in a joint change and then leaves the joint configuration does not campaign (preVote ${String(preVote)})`, () => {
    const core = restarted([
      noop(1),
      config(2, { joint: true, operations: [{ type: 'addVoter', id: 'n4' }, { type: 'remove', id: 'n3' }] }),
      config(3, { leaveJoint: true, operations: [] })
    ], preVote)
    assert.is(core.role, 'follower')
  })

  test(`the control: a node whose logged change keeps it a voter campaigns as usual (preVote ${String(preVote)})`, () => {
    const core = restarted([noop(1), config(2, { operations: [{ type: 'addLearner', id: 'n4' }] })], preVote)
    assert.ok(core.role === 'candidate' || core.role === 'preCandidate', core.role)
  })
}

test.run()

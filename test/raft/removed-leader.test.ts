/**
 * Thesis §4.2.2, removing the leader, in virtual time: that the removed node never campaigns
 * again and the cluster's term stays put is a claim about "never", so it is checked over many
 * election timeouts of a ManualClock, where a loaded machine cannot delay a heartbeat.
 * (The same test with real timers slept 300 ms and could see a spurious election under load.)
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LeaseSim } from '../lease/lease-sim.js'

/** LeaseSim's election timeout: 10 ticks of 10 ms. */
const ELECTION_MS = 100

test('thesis §4.2.2 removing the leader: it hands over and steps down, and cannot disrupt the cluster', async () => {
  for (const seed of [1, 2, 3]) {
    const sim = new LeaseSim(['n1', 'n2', 'n3'], { seed })
    await sim.startAll()
    try {
      const leader = await sim.waitForLeader()
      // A leader may change membership once an entry of its term (its no-op) is committed.
      await sim.run(5 * ELECTION_MS)
      await sim.await(leader.node.removeMember(leader.id))
      await sim.until(() => sim.leader() !== undefined && sim.leader() !== leader, 50 * ELECTION_MS, 'a new leader')
      const next = sim.leader()!
      const term = next.node.status().term
      await sim.run(100 * ELECTION_MS)
      assert.is(leader.node.status().role, 'follower', `seed ${seed}: the removed node never campaigns again`)
      assert.is(next.node.status().term, term, `seed ${seed}: no disruption: the term did not move`)
      assert.is(sim.leader(), next)
      assert.ok(!next.node.status().voters.includes(leader.id))
    } finally {
      await sim.close()
    }
  }
})

test.run()

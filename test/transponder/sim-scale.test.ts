/**
 * The targets at full scale, one seed: 5,000 agents heartbeating once a second behind
 * 50 transponders. The core receives about one message per second per transponder, a death is
 * seen within 5 s, a fan-out reaches 99% within 2 s, and the simulator's checks (re-home
 * bound, no lost acknowledged event, no command run twice) find nothing. The same workload
 * direct is sim-direct.test.ts (a file of its own to keep each under 30 s); the bench runs
 * both in one process and reports the ratio.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runTransponderSim } from '../../src/testing/transponder-sim/index.js'

test('5,000 agents behind 50 transponders: about one core message per second per transponder, every check clean', async () => {
  const relayed = await runTransponderSim({ seed: 1 })
  assert.equal(relayed.violations, [])
  assert.ok(relayed.coreInboundPerSecondPerTransponder! <= 1.2, `per transponder ${relayed.coreInboundPerSecondPerTransponder}`)
  assert.ok(relayed.deathDetectionMs.count === 20 && relayed.deathDetectionMs.max <= 5000, JSON.stringify(relayed.deathDetectionMs))
  assert.ok(relayed.fanoutWithin2s >= 0.99, `fan-out ${relayed.fanoutWithin2s}`)
  assert.ok(relayed.rehomeMs !== null && relayed.rehomeMs.count > 100 && relayed.rehomeMs.max <= 2000, JSON.stringify(relayed.rehomeMs))
  assert.ok(relayed.eventsAcknowledged > 0 && relayed.eventsAcknowledged <= relayed.eventsStored)
})

test.run()

/**
 * The baseline of sim-scale.test.ts: the same 5,000 agents with no transponders send every
 * heartbeat to the core, about 5,000 messages a second where 50 transponders send about 50
 * (sim-scale asserts at most 1.2 per transponder, so the gain is at least ~80x).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runTransponderSim } from '../../src/testing/transponder-sim/index.js'

test('5,000 agents straight to the core: about 5,000 core messages a second, and the same checks clean', async () => {
  const direct = await runTransponderSim({ seed: 1, direct: true })
  assert.equal(direct.violations, [])
  assert.ok(direct.coreInboundPerSecond >= 4900 && direct.coreInboundPerSecond <= 5100, `direct ${direct.coreInboundPerSecond}`)
  assert.ok(direct.deathDetectionMs.max <= 5000)
})

test.run()

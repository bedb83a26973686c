/**
 * Regressions for what the simulator found once forwarding and oversized proposals were drawn
 * (issue 12). Each seed failed on the build that found it; the unit tests in test/node/ pin
 * the same behaviours without depending on a seed's exact run.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { describeFinding, runSimulation } from '../../src/testing/sim/index.js'

test('regression: a removed node that crashed before its commit index was durable does not come back as a second leader (seeds 266, 284)', async () => {
  for (const seed of [266, 284]) {
    const r = await runSimulation({ seed })
    const found = describeFinding(r)
    assert.ok(r.ok, `seed ${seed}: ${found?.finding ?? '?'}: ${found?.detail ?? ''}`)
    assert.ok(r.coverage.membershipChanges > 0, `seed ${seed} still replaces voters`)
  }
})

test.run()

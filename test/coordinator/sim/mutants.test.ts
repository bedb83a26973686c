/**
 * The coordinator mutant table: each deliberately broken variant is caught by its checker in
 * its scenario within 3 seeds, and the same scenario on the same seeds passes unmutated.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { COORDINATOR_MUTANTS, searchCoordinatorMutant } from '../../../src/testing/coordinator-sim/index.js'

for (const m of COORDINATOR_MUTANTS) {
  test(`mutant caught within 3 seeds, and its scenario clean without it: ${m.description}`, async () => {
    const r = await searchCoordinatorMutant(m.name, 3)
    assert.ok(r.caughtBy !== null, `${m.name} survived 3 seeds`)
    assert.match(r.finding ?? '', m.caughtBy)
    for (const c of r.controls) assert.ok(c.ok, `seed ${c.seed} without the mutant: ${[...c.violations, ...c.liveness].join('; ')}`)
  })
}

test('the mutant table covers the three mutants the issue names and the batch mutant', () => {
  assert.equal(COORDINATOR_MUTANTS.map((m) => m.name).sort(), ['batchDropsLast', 'noGraphFence', 'skipStopWait', 'trimBeforeChange'])
})

test.run()

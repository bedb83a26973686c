/**
 * Transponder simulator seeds at a smaller scale (the full one is sim-scale.test.ts), and one
 * seed reproducing a run. The mutants are in sim-mutants.test.ts, so each file stays well
 * under 60 s on a loaded machine.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runTransponderSim } from '../../src/testing/transponder-sim/index.js'

for (const seed of [2, 3, 4]) {
  test(`seed ${seed}: 1,000 agents behind 20 transponders, 0 violations`, async () => {
    const r = await runTransponderSim({ seed, agents: 1000, transponders: 20, latency: { minMs: 1, maxMs: 20 } })
    assert.equal(r.violations, [])
    assert.ok(r.coreInboundPerSecondPerTransponder! <= 1.2)
    assert.ok(r.rehomeMs !== null && r.rehomeMs.count > 0)
  })
}

test('one seed reproduces a run exactly', async () => {
  const a = await runTransponderSim({ seed: 7, agents: 300, transponders: 6 })
  const b = await runTransponderSim({ seed: 7, agents: 300, transponders: 6 })
  assert.equal(a, b)
})

test.run()

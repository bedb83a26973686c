/**
 * Transponder simulator seeds at a smaller scale (the full one is sim-scale.test.ts), and the
 * mutants each check must catch: a relay that acknowledges an agent before its uplink did
 * loses the storm's events when it dies; an agent that skips its command inbox runs a resent
 * command twice.
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

test('the simulator catches a relay that acknowledges before the uplink did', async () => {
  const r = await runTransponderSim({ seed: 5, agents: 500, transponders: 10, mutant: 'ack-before-uplink' })
  assert.ok(r.violations.some((v) => v.includes('acknowledged to its agent but never stored')), r.violations.slice(0, 3).join('; '))
})

test('the simulator catches an agent that runs a resent command again', async () => {
  const r = await runTransponderSim({ seed: 6, agents: 500, transponders: 10, mutant: 'no-dedupe' })
  assert.ok(r.violations.some((v) => / ran [2-9] times/.test(v)), r.violations.slice(0, 3).join('; '))
})

test('one seed reproduces a run exactly', async () => {
  const a = await runTransponderSim({ seed: 7, agents: 300, transponders: 6 })
  const b = await runTransponderSim({ seed: 7, agents: 300, transponders: 6 })
  assert.equal(a, b)
})

test.run()

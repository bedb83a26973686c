/**
 * The transponder simulator's mutants, one per check, each of which its check must catch: a
 * relay that acknowledges an agent before its uplink did (the storm's events lost), an agent
 * that skips its command inbox (a resent command runs twice), agents expired after 6 s (deaths
 * seen late), a dead transponder's sockets hanging instead of reset (agents do not re-home), a
 * coordinator that sends one command at a time (the fan-out misses its target), a station that
 * acknowledges a batch before its appends committed (a refused append lost), a station that
 * ignores batch ids (a batch retried after a lost acknowledgement appended again). The clean
 * seeds are in sim-seeds.test.ts.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { TRANSPONDER_MUTANTS, runTransponderSim } from '../../src/testing/transponder-sim/index.js'
import type { TransponderMutant } from '../../src/testing/transponder-sim/index.js'

/** Each mutant and the check that must catch it (at 500 agents behind 10 transponders; the station's at 200 behind 5). */
const CAUGHT: ReadonlyArray<[TransponderMutant, RegExp]> = [
  ['ack-before-uplink', /acknowledged to its agent but never stored/],
  ['no-dedupe', / ran [2-9] times/],
  ['late-death', /reported dead after \d+ ms \(bound 5000\)/],
  ['hanging-sockets', /re-homed/],
  ['serial-fanout', /fan-out reached .*% of agents within 2 s/],
  ['station-ack-early', /acknowledged to its agent but never stored/],
  ['no-batch-dedupe', /was acknowledged and then appended again/]
]

for (const [mutant, check] of CAUGHT) {
  test(`the simulator catches the ${mutant} mutant`, async () => {
    // The station's mutants bite on the storm's first batches: a smaller run keeps this file well under 60 s.
    const small = mutant === 'station-ack-early' || mutant === 'no-batch-dedupe'
    const r = await runTransponderSim({ seed: 5, agents: small ? 200 : 500, transponders: small ? 5 : 10, mutant })
    assert.ok(r.violations.some((v) => check.test(v)), `${mutant}: ${r.violations.slice(0, 3).join('; ')}`)
  })
}

test('every mutant the simulator knows is in the table above', () => {
  assert.equal(CAUGHT.map(([m]) => m), [...TRANSPONDER_MUTANTS])
})

test.run()

/**
 * Shared body of the tuple-simulator seed tests (one test file per topology, so each
 * stays well under the per-file time budget). Not a test file itself.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runTupleSimulation, type TupleTopology } from '../../src/testing/index.js'

/** Seeds per topology in `npm test`: 3 x 700 = 2,100. The soak script runs more. */
export const SEEDS_PER_TOPOLOGY = 700

export function seedTests (topology: TupleTopology, firstSeed: number): void {
  test(`${topology}: ${SEEDS_PER_TOPOLOGY} seeds converge after heal with 0 resurrections, 0 lost operations and bounded resyncs`, async () => {
    let resurrections = 0
    let lost = 0
    let maxResyncs = 0
    let away = 0
    let crashes = 0
    let bound = 0
    for (let seed = firstSeed; seed < firstSeed + SEEDS_PER_TOPOLOGY; seed++) {
      const r = await runTupleSimulation({ seed, topology })
      if (r.violations.length > 0) assert.unreachable(`seed ${seed} (${topology}): ${r.violations.slice(0, 3).join('; ')}`)
      resurrections += r.resurrections
      lost += r.lost
      maxResyncs = Math.max(maxResyncs, r.resyncsAfterHeal)
      away += r.awayPastHorizon
      crashes += r.crashes
      bound = r.resyncBound
    }
    assert.is(resurrections, 0)
    assert.is(lost, 0)
    assert.ok(maxResyncs <= bound, `max resyncs after heal ${maxResyncs} <= ${bound}`)
    // The faults the claim rests on really happened.
    assert.ok(away > SEEDS_PER_TOPOLOGY, `replicas away past the horizon: ${away}`)
    assert.ok(crashes > SEEDS_PER_TOPOLOGY / 2, `crashes: ${crashes}`)
    assert.ok(maxResyncs > 0, 'some replica resynced from a snapshot')
  })
}

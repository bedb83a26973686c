/**
 * Shared body of the tuple-simulator seed tests (two test files per topology, so each
 * stays well under the per-file time budget). Not a test file itself.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runTupleSimulation, type TupleTopology } from '../../src/testing/index.js'

/**
 * Seeds per test file in `npm test`: two files per topology, 6 x 350 = 2,100 seeds (each
 * file well under the time budget on a loaded machine). The soak script runs more.
 */
export const SEEDS_PER_FILE = 350

export function seedTests (topology: TupleTopology, firstSeed: number): void {
  test(`${topology}: seeds ${firstSeed}..${firstSeed + SEEDS_PER_FILE - 1} converge after heal with 0 resurrections, 0 lost operations and bounded resyncs`, async () => {
    let resurrections = 0
    let lost = 0
    let maxResyncs = 0
    let away = 0
    let crashes = 0
    let bound = 0
    for (let seed = firstSeed; seed < firstSeed + SEEDS_PER_FILE; seed++) {
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
    assert.ok(away > SEEDS_PER_FILE, `replicas away past the horizon: ${away}`)
    assert.ok(crashes > SEEDS_PER_FILE / 2, `crashes: ${crashes}`)
    assert.ok(maxResyncs > 0, 'some replica resynced from a snapshot')
  })
}

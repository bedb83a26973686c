/**
 * The simulator's seed sweep for `npm test`, split over several files (simulator-seeds-*.test.ts)
 * so that no file comes near the runner's per-file limit on a busy 2-core machine: each file
 * sweeps one range of seeds with the same assertions, and together they cover seeds 1-1,500.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runSimulation, describeFinding } from '../../src/testing/sim/index.js'
import type { FaultEvent, SimulationResult } from '../../src/testing/sim/index.js'

/** The seeds `npm test` sweeps, over all the batch files (the soak runs more: `npm run sim:soak`). */
export const SWEEP_SEEDS = 1500
/** Seeds per batch file: 5-25 s each on an idle core, well under the limit on a loaded one. */
export const SEEDS_PER_BATCH = 100

/** A failed run as one line, with the command that replays it. */
export function failure (r: SimulationResult, faults?: readonly FaultEvent[]): string {
  const found = describeFinding(r)
  const replay = faults === undefined
    ? `npm run sim -- --seed ${r.seed} --verbose`
    : `npm run sim -- --seed ${r.seed} --faults '${JSON.stringify(faults)}' --verbose`
  return `seed ${r.seed}: ${found?.finding ?? '?'}: ${found?.detail ?? ''}\n  replay: ${replay}`
}

/**
 * Registers (and runs) the sweep of batch `batch` (1-based): seeds
 * (batch-1)*SEEDS_PER_BATCH+1 .. batch*SEEDS_PER_BATCH. Every run must be clean, and the batch
 * must exercise the features the sweep is meant to cover, so a simulator change that stops
 * drawing them cannot pass unnoticed.
 */
export function seedBatch (batch: number): void {
  const first = (batch - 1) * SEEDS_PER_BATCH + 1
  const last = Math.min(SWEEP_SEEDS, batch * SEEDS_PER_BATCH)
  const count = last - first + 1
  if (!Number.isInteger(batch) || count <= 0) throw new Error(`batch ${batch} is outside the ${SWEEP_SEEDS}-seed sweep`)
  test(`seeds ${first}-${last} under faults, snapshots and membership changes: no safety violation, liveness failure or non-linearizable history`, async () => {
    const failures: string[] = []
    let operations = 0
    const seeds = { installed: 0, membership: 0, transfers: 0, lease: 0 }
    for (let seed = first; seed <= last; seed++) {
      const r = await runSimulation({ seed })
      operations += r.operations.ok
      if (r.coverage.snapshotsInstalled > 0) seeds.installed++
      if (r.coverage.membershipChanges > 0) seeds.membership++
      if (r.coverage.transfers > 0) seeds.transfers++
      if (r.coverage.readMode === 'lease' && r.coverage.reads > 0) seeds.lease++
      if (!r.ok) failures.push(failure(r))
    }
    assert.equal(failures, [], failures.join('\n'))
    assert.ok(operations > count * 20, `clients completed operations (${operations})`)
    assert.ok(seeds.membership >= count / 10, `membership changes in ${seeds.membership} seeds`)
    assert.ok(seeds.installed >= count / 10, `snapshots installed in ${seeds.installed} seeds`)
    assert.ok(seeds.transfers > 0 && seeds.lease > 0, `transfers in ${seeds.transfers} seeds, lease reads in ${seeds.lease}`)
  })
  test.run()
}

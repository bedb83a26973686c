/**
 * The coordinator simulation's seed sweep for `npm test`, split over seeds-*.test.ts so that
 * no file comes near the per-file limit on a busy 2-core machine: each file runs one range of
 * seeds with the same assertions; together they cover seeds 1-500.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runCoordinatorSimulation } from '../../../src/testing/coordinator-sim/index.js'
import type { CoordinatorSimResult } from '../../../src/testing/coordinator-sim/index.js'

export const SWEEP_SEEDS = 500
export const SEEDS_PER_BATCH = 50

export function failure (r: CoordinatorSimResult): string {
  return `seed ${r.seed}: ${[...r.violations, ...r.liveness].join('; ')}\n  faults: ${JSON.stringify(r.faults)}\n  replay: npm run sim -- --workload coordinator --seed ${r.seed} --verbose`
}

/**
 * Registers (and runs) batch `batch` (1-based). Every run must be clean, and the batch must
 * exercise what the sweep is for (failovers, fenced old-epoch writes, killed hung coordinators,
 * commands executed), so a simulation that stops drawing them cannot pass unnoticed.
 */
export function coordinatorSeedBatch (batch: number): void {
  const first = (batch - 1) * SEEDS_PER_BATCH + 1
  const last = Math.min(SWEEP_SEEDS, batch * SEEDS_PER_BATCH)
  if (!Number.isInteger(batch) || last < first) throw new Error(`batch ${batch} is outside the ${SWEEP_SEEDS}-seed sweep`)
  test(`coordinator seeds ${first}-${last} (host killed, frozen, hung; partitions; drift and clock steps; crash loops; workers lost): one acting coordinator, old epochs fenced, every instance back where the graph places it`, async () => {
    const failures: string[] = []
    const seen = { failovers: 0, fencedAtGraph: 0, kills: 0, executed: 0, five: 0 }
    for (let seed = first; seed <= last; seed++) {
      const r = await runCoordinatorSimulation({ seed })
      if (!r.ok) failures.push(failure(r))
      if (r.failoverMs.length > 0) seen.failovers++
      if (r.coverage.fencedAtGraph > 0) seen.fencedAtGraph++
      if (r.coverage.kills > 0) seen.kills++
      if (r.stationNodes === 5) seen.five++
      seen.executed += r.coverage.executed
    }
    assert.equal(failures, [], failures.join('\n'))
    const n = last - first + 1
    assert.ok(seen.failovers >= n / 4, `failovers in ${seen.failovers} seeds`)
    assert.ok(seen.fencedAtGraph >= n / 10, `old-epoch graph writes refused in ${seen.fencedAtGraph} seeds`)
    assert.ok(seen.kills > 0, `hung coordinators killed in ${seen.kills} seeds`)
    assert.ok(seen.five >= n / 5 && seen.five <= n * 0.8, `5-node stations in ${seen.five} seeds`)
    assert.ok(seen.executed > n * 5, `${seen.executed} commands executed by agents`)
  })
  test.run()
}

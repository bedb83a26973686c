/**
 * The dedup window expiring under faults: with a window of 200 ms of replicated time (the
 * generator's clocks advance 10 ms per operation), retries late enough are stored again and
 * early ones are duplicates, exactly as the model says — across leader changes, crashes and
 * snapshots, which carry each remembered id with its replicated time.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runGraphSimulation } from '../../../src/testing/sim/index.js'
import { GRAPH_SIM_FAULT_MS, failure, storedTwice } from './seeds.js'

const SEEDS = 28

test(`${SEEDS} seeds with a 200 ms dedup window: linearizable, replicas agree, and ids are stored again once forgotten`, async () => {
  const failures: string[] = []
  let restored = 0
  for (let seed = 30_000; seed < 30_000 + SEEDS; seed++) {
    const r = await runGraphSimulation({ seed, dedupWindowMs: 200, faultRanges: { durationMs: GRAPH_SIM_FAULT_MS } })
    if (!r.ok) failures.push(failure(r))
    restored += storedTwice(r).length
  }
  assert.equal(failures, [], failures.join('\n'))
  assert.ok(restored > 0, 'some id outlived the window and was stored again')
})

test.run()

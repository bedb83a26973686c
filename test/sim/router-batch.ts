/**
 * Every machine quorate ships, on one log through the StateMachineRouter, under the
 * simulator's faults: composite snapshots taken, streamed in chunks and installed, key-value
 * linearizability through the router, session ids in log order, no routed command refused.
 * `routerBatch(n)` registers seeds of batch n; router-seeds-NN.test.ts each run one batch, so
 * no file nears the runner's limit. More seeds: `npm run sim -- --workload router --seeds 1000`.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runSimulation, describeFinding, routerSimWorkload } from '../../src/testing/sim/index.js'
import type { RouterInput, RouterOutput } from '../../src/testing/sim/index.js'

/** Seeds per batch file (router-seeds-01..NN.test.ts). */
export const ROUTER_SEEDS_PER_BATCH = 60

export function routerBatch (batch: number): void {
  const first = (batch - 1) * ROUTER_SEEDS_PER_BATCH + 1
  const last = batch * ROUTER_SEEDS_PER_BATCH
  const SEEDS = ROUTER_SEEDS_PER_BATCH
  test(`seeds ${first}-${last} with kv, lease, session and tuple members on one router: no violation, every routed command reached its member`, async () => {
    const failures: string[] = []
    let installed = 0
    const outcomes = { side: 0, refused: 0, kv: 0 }
    for (let seed = first; seed <= last; seed++) {
      const r = await runSimulation<RouterInput, RouterOutput>({ seed, workload: routerSimWorkload() })
      if (r.coverage.snapshotsInstalled > 0) installed++
      for (const op of r.history) {
        const output = op.output as RouterOutput | undefined
        if (op.return === null || output === undefined) continue
        if ((op.input as RouterInput).m === undefined) outcomes.kv++
        else outcomes.side++
        if ('refused' in output) outcomes.refused++
      }
      if (!r.ok) {
        const found = describeFinding(r)
        failures.push(`seed ${seed}: ${found?.finding ?? '?'}: ${found?.detail ?? ''}`)
      }
    }
    assert.equal(failures, [], failures.join('\n'))
    assert.is(outcomes.refused, 0, 'no command came back as a router or session refusal')
    assert.ok(outcomes.side > SEEDS * 3 && outcomes.kv > SEEDS * 10, `operations completed: ${JSON.stringify(outcomes)}`)
    assert.ok(installed >= SEEDS / 10, `composite snapshots installed in ${installed} seeds`)
  })
  test(`a router workload seed replays exactly (seed ${first})`, async () => {
    const a = await runSimulation<RouterInput, RouterOutput>({ seed: first, workload: routerSimWorkload() })
    const b = await runSimulation<RouterInput, RouterOutput>({ seed: first, workload: routerSimWorkload() })
    assert.is(a.traceHash, b.traceHash)
  })
  test.run()
}

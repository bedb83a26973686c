/**
 * The graph + events seed batches `npm test` runs: each test/graph/sim/seeds-NN.test.ts file
 * runs one range of SEEDS_PER_FILE consecutive seeds (files stay well under 45 s, and run two
 * at a time), FILES files in all. A failure prints the command that replays its seed with the
 * readable event log.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { describeFinding, runGraphSimulation } from '../../../src/testing/sim/index.js'
import type { GraphSimulationResult } from '../../../src/testing/sim/index.js'

export const SEEDS_PER_FILE = 28
export const FILES = 18
/** A shorter fault phase than the KV simulator's: more seeds for the same time. */
export const GRAPH_SIM_FAULT_MS = 2000

export function failure (r: GraphSimulationResult): string {
  const found = describeFinding(r)
  const what = r.divergence.length > 0 ? `divergence: ${r.divergence[0]!}` : `${found?.finding ?? '?'}: ${found?.detail ?? ''}`
  return `seed ${r.seed}: ${what}\n  replay: ${replayCommand(r.seed)}`
}

/** A shell command that reruns one seed of the batches with the verbose event log. */
export function replayCommand (seed: number): string {
  const run = `const s = await import('./dist/src/testing/sim/index.js'); await s.runGraphSimulation({ seed: ${seed}, faultRanges: { durationMs: ${GRAPH_SIM_FAULT_MS} }, log: console.log })`
  return `node --input-type=module -e "${run}"`
}

/**
 * Event ids acknowledged 'stored' more than once. The dedup window (3 s of replicated time)
 * outlasts a whole run (about 10 ms per operation), so any is a lost dedup entry.
 */
export function storedTwice (r: GraphSimulationResult): string[] {
  const stored = new Map<string, number>()
  for (const op of r.history) {
    const input = op.input as { op: string, id?: string }
    if (input.op === 'emit' && (op.output as { status?: string } | undefined)?.status === 'stored' && Number.isFinite(op.return)) {
      stored.set(input.id!, (stored.get(input.id!) ?? 0) + 1)
    }
  }
  return [...stored].filter(([, n]) => n > 1).map(([id]) => id)
}

/** Registers the test for batch `file` (1-based) and runs the suite. */
export function seedBatch (file: number): void {
  const first = 10_000 + (file - 1) * SEEDS_PER_FILE
  const last = first + SEEDS_PER_FILE - 1
  test(`graph + events seeds ${first}-${last} under faults: no safety violation, divergence or non-linearizable history`, async () => {
    const failures: string[] = []
    let ok = 0
    const seeds = { installed: 0, membership: 0 }
    for (let seed = first; seed <= last; seed++) {
      const r = await runGraphSimulation({ seed, faultRanges: { durationMs: GRAPH_SIM_FAULT_MS } })
      ok += r.operations.ok
      if (r.coverage.snapshotsInstalled > 0) seeds.installed++
      if (r.coverage.membershipChanges > 0) seeds.membership++
      if (!r.ok) failures.push(failure(r))
      const twice = storedTwice(r)
      if (twice.length > 0) failures.push(`seed ${seed}: stored twice: ${twice.join(', ')}`)
    }
    assert.equal(failures, [], failures.join('\n'))
    assert.ok(ok > SEEDS_PER_FILE * 50, `clients completed operations (${ok})`)
    // The graph machine's snapshots were installed and membership changed in some seeds.
    assert.ok(seeds.installed > 0 && seeds.membership > 0, `installs in ${seeds.installed} seeds, membership changes in ${seeds.membership}`)
  })
  test.run()
}

/**
 * Scripted graph + events runs: one seed replays exactly; producers retry across forced
 * leader changes and each UUID is stored once, retries told 'duplicate'; acknowledged events
 * survive a minority crashing and being cut off. (The mutation check is mutants.test.ts.)
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runGraphSimulation } from '../../../src/testing/sim/index.js'
import type { FaultEvent, GraphSimulationResult } from '../../../src/testing/sim/index.js'
import { GRAPH_SIM_FAULT_MS, failure, storedTwice } from './seeds.js'

const outputs = (r: GraphSimulationResult, op: string, status: string): number =>
  r.history.filter((o) => (o.input as { op: string }).op === op && (o.output as { status?: string } | undefined)?.status === status && Number.isFinite(o.return)).length

test('one seed replays exactly; different seeds take different paths', async () => {
  const a = await runGraphSimulation({ seed: 77, faultRanges: { durationMs: GRAPH_SIM_FAULT_MS } })
  const b = await runGraphSimulation({ seed: 77, faultRanges: { durationMs: GRAPH_SIM_FAULT_MS } })
  const c = await runGraphSimulation({ seed: 78, faultRanges: { durationMs: GRAPH_SIM_FAULT_MS } })
  assert.is(a.traceHash, b.traceHash)
  assert.equal(a.history, b.history)
  assert.is.not(a.traceHash, c.traceHash)
})

test('producers retrying across leader changes: each UUID stored once, retries of committed events answered duplicate', async () => {
  const faults: FaultEvent[] = [
    { at: 0, kind: 'network', loss: 0.05, duplication: 0.1, latencyMin: 1, latencyMax: 6, reorder: true },
    { at: 300, kind: 'transfer', to: -1 },
    { at: 600, kind: 'isolateLeaders', duration: 900, delayMs: 40, isolateFor: 200 },
    { at: 1600, kind: 'transfer', to: 1 },
    { at: 2200, kind: 'crash', node: -1, downFor: 200 }
  ]
  for (const seed of [1, 2]) {
    const r = await runGraphSimulation({ seed, nodes: 3, faults, faultRanges: { durationMs: 3000 } })
    assert.ok(r.ok, failure(r))
    assert.equal(storedTwice(r), [])
    assert.ok(outputs(r, 'emit', 'duplicate') > 0, 'retries were answered duplicate')
    assert.ok(outputs(r, 'emit', 'stored') > 0)
  }
})

test('acknowledged events survive a minority crashing and being partitioned away', async () => {
  const faults: FaultEvent[] = [
    { at: 0, kind: 'network', loss: 0.02, duplication: 0, latencyMin: 1, latencyMax: 4, reorder: false },
    { at: 500, kind: 'crash', node: 0, downFor: 600 },
    { at: 700, kind: 'crash', node: 1, downFor: 500 },
    { at: 1500, kind: 'partition', sides: [1, 1, 0, 0, 0] },
    { at: 2300, kind: 'crash', node: -1, downFor: 300 }
  ]
  for (const seed of [4, 5]) {
    const r = await runGraphSimulation({ seed, nodes: 5, faults, faultRanges: { durationMs: 3000 }, snapshotEntries: 10 })
    assert.ok(r.ok, failure(r))
    // Every event acknowledged as stored is still queued unless a handle of it may have applied.
    const handled = new Set(r.history.filter((o) => (o.input as { op: string }).op === 'handle' && (o.output as { status?: string } | undefined)?.status !== 'not-found' && (o.output as { status?: string } | undefined)?.status !== 'fenced').map((o) => (o.input as { id: string }).id))
    const queued = new Set(r.latest.queue)
    const lost = r.history.filter((o) => (o.input as { op: string }).op === 'emit' && (o.output as { status?: string } | undefined)?.status === 'stored' && Number.isFinite(o.return))
      .map((o) => (o.input as { id: string }).id).filter((id) => !queued.has(id) && !handled.has(id))
    assert.equal(lost, [], 'acknowledged events lost')
  }
})

test.run()

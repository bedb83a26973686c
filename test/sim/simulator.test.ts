/**
 * The simulator end to end: determinism (one seed, one trace), fast-check-generated fault
 * schedules that shrink on failure, and regressions for bugs the simulator found. The sweep of
 * 1,500 seeds is split over simulator-seeds-*.test.ts (see seed-batch.ts).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { runSimulation, kvSimWorkload } from '../../src/testing/sim/index.js'
import { faultScheduleArbitrary } from '../../src/testing/arbitraries.js'
import type { FaultEvent, SimWorkload } from '../../src/testing/sim/index.js'
import type { StateMachine } from '../../src/node/state-machine.js'
import type { Model } from '../../src/testing/model.js'
import { failure } from './seed-batch.js'

test('two runs of one seed produce the same trace', async () => {
  for (const seed of [7, 8]) {
    const a = await runSimulation({ seed })
    const b = await runSimulation({ seed })
    assert.ok(a.events > 1000, 'the run did something')
    assert.is(a.traceHash, b.traceHash, `seed ${seed} replays exactly`)
    assert.equal(a.history, b.history)
  }
  const c = await runSimulation({ seed: 9 })
  const d = await runSimulation({ seed: 10 })
  assert.is.not(c.traceHash, d.traceHash, 'different seeds take different paths')
})

test('a scripted membership schedule: add a node, remove the leader, replace two voters, transfer leadership', async () => {
  const faults: FaultEvent[] = [
    { at: 0, kind: 'network', loss: 0.05, duplication: 0.05, latencyMin: 1, latencyMax: 5, reorder: true },
    { at: 300, kind: 'addNode' },
    { at: 1000, kind: 'removeNode', node: -1 },
    { at: 1600, kind: 'replaceNodes', a: 0, b: 1 },
    { at: 2500, kind: 'transfer', to: -1 }
  ]
  const r = await runSimulation({ seed: 5, nodes: 3, faults, snapshotEntries: 10, snapshotChunkBytes: 64 })
  assert.ok(r.ok, failure(r, faults))
  // learner + promotion, removal, learners + joint + leave: 6 configuration entries at least.
  assert.ok(r.coverage.membershipChanges >= 6, `${r.coverage.membershipChanges} configuration changes applied`)
  assert.is(r.coverage.transfers, 1)
  assert.ok(r.coverage.snapshotsTaken > 0 && r.coverage.snapshotsInstalled > 0, 'the joiners caught up through snapshots')
})

test('lease reads: a lease-mode run drops pauses and clock jumps from its schedule and its reads are linearizable', async () => {
  const faults: FaultEvent[] = [
    { at: 0, kind: 'network', loss: 0.1, duplication: 0, latencyMin: 1, latencyMax: 8, reorder: false },
    { at: 200, kind: 'pause', node: -1, duration: 400 },
    { at: 500, kind: 'drift', node: 1, rate: 1.2 },
    { at: 900, kind: 'crash', node: -1, downFor: 300 }
  ]
  const r = await runSimulation({ seed: 11, faults, readMode: 'lease' })
  assert.ok(r.ok, failure(r, faults))
  assert.equal(r.faults.map((f) => f.kind), ['network', 'drift', 'crash'])
  assert.ok(r.coverage.reads > 10, `${r.coverage.reads} reads served`)
})

test('fast-check fault schedules: a failure would shrink to a minimal schedule with a replay command', async () => {
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), faultScheduleArbitrary(fc), async (seed, faults) => {
    const r = await runSimulation({ seed, faults })
    if (!r.ok) throw new Error(failure(r, faults))
  }), { seed: 1026, numRuns: 12 })
})

test('regression: a read waiting for its index to be applied settles when its node crashes (seed 336)', async () => {
  const r = await runSimulation({ seed: 336 })
  assert.ok(r.ok, failure(r))
})

test('regression: outgoing voters that applied the end of a joint change still vote, so the incoming voters elect a leader (seed 23)', async () => {
  const r = await runSimulation({ seed: 23 })
  assert.ok(r.ok, failure(r))
  assert.ok(r.coverage.membershipChanges >= 3, 'the seed replaces two voters through a joint configuration')
})

test('regression: removed nodes settle their clients: a read through the leader and a removed leader\'s own proposals (seeds 364, 779)', async () => {
  for (const seed of [364, 779]) {
    const r = await runSimulation({ seed })
    assert.ok(r.ok, failure(r))
  }
})

test('regression: a follower behind a newer snapshot than the one being streamed to it catches up (seed 117)', async () => {
  const r = await runSimulation({ seed: 117 })
  assert.ok(r.ok, failure(r))
  assert.ok(r.coverage.snapshotsInstalled > 0)
})

test('a user state machine and workload: a counter with increments and reads', async () => {
  // A user's own state machine, tested under the same faults: increments return the new value.
  class Counter implements StateMachine<number> {
    value = 0
    apply (): number { return ++this.value }
  }
  type In = { op: 'inc' } | { op: 'read' }
  const model: Model<number, In, number> = {
    init: () => 0,
    step: (state, input, output) => {
      const next = input.op === 'inc' ? state + 1 : state
      if (typeof output === 'number' && output !== next) return { ok: false }
      return { ok: true, state: next }
    }
  }
  const workload: SimWorkload<In, number, Counter> = {
    createStateMachine: () => new Counter(),
    createGenerator: (random) => ({ next: () => (random.next() < 0.5 ? { op: 'inc' } : { op: 'read' }) }),
    isRead: (input) => input.op === 'read',
    encode: () => new Uint8Array([1]),
    query: (machine) => machine.value,
    output: (result) => result as number,
    model
  }
  for (const seed of [1, 2, 3]) {
    const r = await runSimulation({ seed, workload })
    assert.ok(r.ok, failure(r))
    assert.ok(r.operations.ok > 10)
  }
  assert.type(kvSimWorkload().model.init, 'function')
})

test.run()

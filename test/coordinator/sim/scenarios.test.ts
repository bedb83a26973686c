/**
 * The scenarios, scripted on the coordinator simulation (virtual time; the lease is
 * 1 s there): each must run clean (one acting coordinator, old epochs fenced, convergence)
 * and show the behaviour it is about.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runCoordinatorSimulation } from '../../../src/testing/coordinator-sim/index.js'
import type { CoordinatorFault, CoordinatorSimResult } from '../../../src/testing/coordinator-sim/index.js'
import { failure } from './seed-batch.js'

async function clean (seed: number, faults: readonly CoordinatorFault[], stationNodes?: number): Promise<CoordinatorSimResult> {
  const r = await runCoordinatorSimulation({ seed, faults, ...(stationNodes === undefined ? {} : { stationNodes }) })
  assert.ok(r.ok, failure(r))
  return r
}

test('the coordinator host killed: a coordinator acts elsewhere within 3 s, and nothing of the old epoch is accepted', async () => {
  for (let seed = 1; seed <= 4; seed++) {
    const r = await clean(seed, [{ at: 1000, kind: 'crash-holder', downFor: 4000 }, { at: 1100, kind: 'crash-loop', instance: 1, times: 1, every: 1 }])
    assert.equal(r.failoverMs.length, 1)
    assert.ok(r.failoverMs[0]! < 3000, `failover took ${r.failoverMs[0]} ms`)
  }
})

test('the coordinator frozen for twice the lease with a write in flight: a successor acts, the late write is refused by the graph', async () => {
  let refused = 0
  for (let seed = 1; seed <= 3; seed++) {
    const r = await clean(seed, [{ at: 1000, kind: 'freeze-holder', duration: 2000 }, { at: 1500, kind: 'freeze-holder', duration: 2200, during: 'ack' }])
    refused += r.coverage.fencedAtGraph
    assert.ok(r.coverage.coordinators >= 2, 'a successor was started')
  }
  assert.ok(refused > 0, 'old-epoch writes were refused')
})

test('partitions [2,1] and [1,1,1] of 3 nodes and [2,2,1] of 5: a coordinator only where there is quorum, none without, and it resumes after the heal', async () => {
  const shapes: Array<[number, number[]]> = [[3, [0, 0, 1]], [3, [1, 0, 0]], [3, [0, 1, 2]], [5, [0, 0, 1, 1, 2]], [5, [2, 0, 0, 1, 1]]]
  for (const [n, sides] of shapes) {
    const r = await clean(7, [{ at: 800, kind: 'partition', sides, duration: 4000 }, { at: 2500, kind: 'crash-loop', instance: 3, times: 1, every: 1 }], n)
    assert.ok(r.decisions.length > 0, 'decisions were taken')
  }
})

test('clock drift within the bound and wall-clock steps forward and back: never two acting coordinators', async () => {
  const faults: CoordinatorFault[] = [
    { at: 200, kind: 'drift', node: 0, rate: 1.022 }, { at: 200, kind: 'drift', node: 1, rate: 0.978 },
    { at: 900, kind: 'wall-step', node: 0, ms: 30_000 }, { at: 1200, kind: 'wall-step', node: 1, ms: -30_000 },
    { at: 1500, kind: 'crash-holder', downFor: 1000 }, { at: 3000, kind: 'freeze-holder', duration: 2100 },
    { at: 2000, kind: 'crash-loop', instance: 2, times: 3, every: 300 }
  ]
  for (let seed = 11; seed <= 13; seed++) await clean(seed, faults)
})

test('a new coordinator gets every untrimmed event: the host killed right after failures were reported, each handled once', async () => {
  for (let seed = 21; seed <= 23; seed++) {
    const r = await clean(seed, [{ at: 1000, kind: 'crash-loop', instance: 0, times: 1, every: 1 }, { at: 1000, kind: 'worker-down', worker: 3, processesDie: true, downFor: 3000 }, { at: 1002, kind: 'crash-holder', downFor: 2000 }])
    assert.ok(r.decisions.some((d) => d.includes('w4 dead')), r.decisions.join('\n'))
  }
})

test('a crash loop: restarts in place with a doubling backoff, then a move after the threshold', async () => {
  const r = await clean(5, [{ at: 500, kind: 'crash-loop', instance: 2, times: 3, every: 400 }])
  const notes = r.decisions.filter((d) => d.includes('svc-3'))
  const at = (re: RegExp): number => notes.findIndex((d) => re.test(d))
  assert.ok(at(/failure 1 on w3, restart in 100 ms/) >= 0, notes.join('\n'))
  assert.ok(at(/failure 2 on w3, restart in 200 ms/) > at(/failure 1 on w3/), notes.join('\n'))
  assert.ok(at(/failed 3 times on w3, moved to/) > at(/failure 2 on w3/), notes.join('\n'))
})

test('the failure count expires: failures further apart than failureExpiryMs each count as the first, and never move the instance', async () => {
  // failureExpiryMs is 4 s in the simulation; maxRestarts 2 would move it at the third failure.
  const r = await clean(5, [{ at: 500, kind: 'crash-loop', instance: 2, times: 3, every: 4500 }])
  const notes = r.decisions.filter((d) => d.includes('svc-3'))
  assert.equal(notes.filter((d) => /failure 1 on w3, restart/.test(d)).length, 3, notes.join('\n'))
  assert.not.ok(notes.some((d) => /moved to|failure 2/.test(d)), notes.join('\n'))
})

test('one seed replays exactly: two runs of a seed give the same decisions, failovers and coverage', async () => {
  const a = await runCoordinatorSimulation({ seed: 42 })
  const b = await runCoordinatorSimulation({ seed: 42 })
  assert.equal([a.decisions, a.failoverMs, a.coverage, a.virtualMs], [b.decisions, b.failoverMs, b.coverage, b.virtualMs])
})

test.run()

/**
 * bench/ha-stats.ts: medians and spreads, ratios per run pair (not a ratio of medians), the
 * targets judged on medians, and the dedup check of an emit run, each shown to reject the
 * broken case it exists for.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkEmitRun, evaluateTargets, pairRatios, spreadOf, summarizeRuns, type RunFigures, type TargetSpec } from '../../bench/ha-stats.js'
import { HA_SCENARIOS, HA_TARGETS, ETCD_PAIRS } from '../../bench/ha-plan.js'

const run = (commitsPerSec: number, p50Us: number, p99Us = p50Us * 2, errors = 0): RunFigures => ({ commitsPerSec, errors, latency: { p50Us, p99Us } })

test('spreadOf gives the middle value of an odd count, the mean of the middle two of an even one, and min/max', () => {
  assert.equal(spreadOf([5, 1, 3]), { median: 3, min: 1, max: 5, n: 3 })
  assert.equal(spreadOf([4, 1, 3, 10]), { median: 3.5, min: 1, max: 10, n: 4 })
  assert.equal(spreadOf([7]), { median: 7, min: 7, max: 7, n: 1 })
})

test('spreadOf of nothing (or only non-finite values) is NaN with n = 0, never 0', () => {
  for (const values of [[], [Number.NaN, Number.POSITIVE_INFINITY]]) {
    const s = spreadOf(values)
    assert.is(s.n, 0)
    assert.ok(Number.isNaN(s.median))
  }
})

test('summarizeRuns takes the median of each figure separately and sums the failures', () => {
  const s = summarizeRuns([run(100, 900, 5000, 1), run(300, 100, 1000), run(200, 500, 3000, 2)])
  assert.is(s.commitsPerSec.median, 200)
  assert.is(s.p50Us.median, 500)
  assert.is(s.p99Us.median, 3000)
  assert.is(s.opsPerSec.median, 200, 'opsPerSec falls back to commits/s')
  assert.is(s.errors, 3)
  assert.is(summarizeRuns([{ ...run(10, 1), opsPerSec: 10_000 }]).opsPerSec.median, 10_000)
})

test('pairRatios divides run i by run i and reports the median of those, which differs from the ratio of the medians', () => {
  // Both systems slowed down together in run 2 (a noisy neighbour): per pair the ratio is 2 every time.
  const quorate = [run(200, 100), run(20, 1000), run(400, 50)]
  const etcd = [run(100, 200), run(10, 2000), run(200, 100)]
  const r = pairRatios(quorate, etcd)
  assert.equal(r.throughput.perRun, [2, 2, 2])
  assert.is(r.throughput.median, 2)
  assert.equal(r.p50.perRun, [0.5, 0.5, 0.5])
  // Pairs are by run index: with etcd's runs in another order the ratios change.
  const swapped = pairRatios(quorate, [etcd[1]!, etcd[0]!, etcd[2]!])
  assert.equal(swapped.throughput.perRun, [20, 0.2, 2])
})

test('pairRatios skips a pair in which either side committed nothing, and pairs only the runs both have', () => {
  const r = pairRatios([run(100, 10), run(0, 0), run(300, 30)], [run(50, 20), run(60, 20)])
  assert.equal(r.throughput.perRun, [2])
  assert.is(r.throughput.n, 1)
})

test('pairRatios pairs by run number, so a run that failed on one side does not shift the pairs after it', () => {
  const quorate = [{ ...run(100, 10), run: 0 }, { ...run(300, 30), run: 2 }]
  const etcd = [{ ...run(50, 20), run: 0 }, { ...run(1000, 5), run: 1 }, { ...run(100, 60), run: 2 }]
  const r = pairRatios(quorate, etcd)
  assert.equal(r.throughput.perRun, [2, 3])
  assert.equal(r.p50.perRun, [0.5, 0.5])
})

test('evaluateTargets judges >= and <= bounds on the median, and says "not measured" when a scenario or ratio is missing', () => {
  const specs: TargetSpec[] = [
    { text: 'rate', source: 's', scenario: 'a', kind: 'scenario', metric: 'commitsPerSec', op: '>=', bound: 150 },
    { text: 'p99', source: 's', scenario: 'a', kind: 'scenario', metric: 'p99Us', op: '<=', bound: 1000 },
    { text: 'ratio', source: 's', scenario: 'a', kind: 'ratio', metric: 'throughput', op: '>=', bound: 2 },
    { text: 'absent', source: 's', scenario: 'b', kind: 'scenario', metric: 'p50Us', op: '<=', bound: 1 }
  ]
  const summaries = { a: summarizeRuns([run(100, 100, 900), run(200, 100, 1200), run(300, 100, 800)]) }
  const ratios = { a: pairRatios([run(100, 1), run(100, 1), run(100, 1)], [run(60, 1), run(40, 1), run(20, 1)]) }
  const out = evaluateTargets(specs, summaries, ratios)
  assert.equal(out.map((t) => [t.text, t.measured, t.status]), [
    ['rate', 200, 'met'],
    ['p99', 900, 'met'],
    ['ratio', 2.5, 'met'],
    ['absent', null, 'not measured']
  ])
  const missed = evaluateTargets(specs.slice(0, 1), { a: summarizeRuns([run(149, 1)]) }, {})
  assert.is(missed[0]!.status, 'missed')
})

test('every target and every etcd pair of the plan names a scenario the plan runs', () => {
  const keys = new Set(HA_SCENARIOS.map((s) => s.key))
  assert.is(keys.size, HA_SCENARIOS.length, 'scenario keys are unique')
  for (const t of HA_TARGETS) assert.ok(keys.has(t.scenario), t.text)
  for (const [q, e] of Object.entries(ETCD_PAIRS)) {
    assert.ok(keys.has(q) && keys.has(e), `${q} vs ${e}`)
    const qs = HA_SCENARIOS.find((s) => s.key === q)!
    const es = HA_SCENARIOS.find((s) => s.key === e)!
    assert.is(qs.concurrency, es.concurrency, `${q} is compared at its own concurrency`)
    assert.is(es.system, 'etcd')
  }
  for (const t of HA_TARGETS.filter((x) => x.kind === 'ratio')) assert.ok(t.scenario in ETCD_PAIRS, t.text)
})

const replicas = (...stored: number[]): Array<{ role: string, machine: Record<string, number> }> =>
  stored.map((eventsStored, i) => ({ role: i === 1 ? 'leader' : 'follower', machine: { eventsStored } }))

test('checkEmitRun passes a run where every retry was answered duplicate and every replica stored what was acknowledged', () => {
  const c = checkEmitRun('events-c1', 0, { stored: 95, retries: 5, retriesDuplicate: 5 }, replicas(95, 95, 95))
  assert.ok(c.ok)
  assert.equal(c.storedPerReplica, [95, 95, 95])
})

test('checkEmitRun fails a retry stored again, a fresh id taken for a duplicate, a replica that disagrees, or a retry not answered duplicate', () => {
  const good = { stored: 95, retries: 5, retriesDuplicate: 5 }
  assert.not.ok(checkEmitRun('e', 0, { ...good, retriesDuplicate: 4, retriesStoredAgain: 1 }, replicas(96, 96, 96)).ok, 'stored twice')
  assert.not.ok(checkEmitRun('e', 0, { ...good, freshDuplicate: 1 }, replicas(95, 95, 95)).ok, 'fresh duplicate')
  assert.not.ok(checkEmitRun('e', 0, good, replicas(95, 94, 95)).ok, 'a replica lost an event')
  assert.not.ok(checkEmitRun('e', 0, good, replicas(96, 96, 96)).ok, 'a replica stored one more than was acknowledged')
  assert.not.ok(checkEmitRun('e', 0, { ...good, retriesDuplicate: 3 }, replicas(95, 95, 95)).ok, 'two retries answered neither way')
  assert.not.ok(checkEmitRun('e', 0, good, []).ok, 'no replica figures at all')
})

test('checkEmitRun allows replicas one more event per command whose answer the client never got (it may have committed)', () => {
  const tally = { stored: 95, retries: 5, retriesDuplicate: 5, failed: 1 }
  assert.ok(checkEmitRun('e', 0, tally, replicas(96, 96, 96)).ok)
  assert.not.ok(checkEmitRun('e', 0, tally, replicas(97, 97, 97)).ok)
})

test.run()

/**
 * bench/ha-report.ts: the docs/benchmarks.md section generated from a result — targets with
 * their status, medians with the spread, per-pair ratios, the dedup check — and the splice
 * that replaces only the text between the HA markers.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { HA_END, HA_START, renderHaSection, spliceHaSection, type HaResult, type HaRunRow } from '../../bench/ha-report.js'
import { checkEmitRun, evaluateTargets, pairRatios, summarizeRuns } from '../../bench/ha-stats.js'
import { HA_TARGETS } from '../../bench/ha-plan.js'

const row = (commitsPerSec: number, p50Us: number): HaRunRow =>
  ({ run: 0, commits: commitsPerSec * 10, commitsPerSec, errors: 0, latency: { p50Us, p99Us: p50Us * 3, p999Us: p50Us * 5 }, loadAverage1m: 1 })
const runs = (...rows: HaRunRow[]): HaRunRow[] => rows.map((r, run) => ({ ...r, run }))

function result (quick: boolean): HaResult {
  const level = runs(row(3000, 400), row(2800, 450), row(3300, 380))
  const etcd = runs(row(1500, 600), row(1400, 650), row(1000, 700))
  const events = runs(row(2500, 390), row(2100, 420), row(2600, 380)).map((r) => ({ ...r, tally: { stored: 95, retries: 5, retriesDuplicate: 5 }, nodes: [{ id: 'n1', role: 'leader', machine: { eventsStored: 95 } }] }))
  const scenarios = {
    'etcd-c1': { key: 'etcd-c1', label: 'etcd Put', system: 'etcd' as const, concurrency: 1, runs: etcd, summary: summarizeRuns(etcd) },
    'level-c1': { key: 'level-c1', label: 'level put', system: 'quorate' as const, machine: 'level' as const, workload: 'level-put' as const, concurrency: 1, runs: level, summary: summarizeRuns(level) },
    'events-c1': { key: 'events-c1', label: 'events emit', system: 'quorate' as const, machine: 'graph' as const, workload: 'emit' as const, concurrency: 1, runs: events, summary: summarizeRuns(events) }
  }
  const ratios = { 'level-c1': { vs: 'etcd-c1', ...pairRatios(level, etcd) } }
  return {
    name: 'test',
    date: '2026-12-03T15:00:00.000Z',
    command: 'npm run bench:ha',
    node: 'v20',
    quick,
    runs: 3,
    warmupMs: 2000,
    measureMs: 10_000,
    valueBytes: 100,
    loadAverage1m: { start: 1.5, end: 2.5, min: 1.2, max: 3 },
    etcd: { available: true, version: '3.4.23' },
    scenarios,
    ratios,
    emitChecks: events.map((r, i) => checkEmitRun('events-c1', i, r.tally, r.nodes)),
    failures: [],
    targets: evaluateTargets(HA_TARGETS, Object.fromEntries(Object.entries(scenarios).map(([k, s]) => [k, s.summary])), ratios)
  }
}

test('the section lists every target of the plan with its status, missed ones in bold and absent ones as not measured', () => {
  const md = renderHaSection(result(false))
  for (const t of HA_TARGETS) assert.ok(md.includes(`| ${t.text} |`), t.text)
  assert.match(md, /events acknowledged, 1 sequential producer ≥ 2,000\/s \| issue 14 \| 2,500\/s \| met \|/)
  // level c=1 p50 ratios 400/600, 450/650, 380/700: median 0.667 → met; throughput 2, 2, 3.3: median 2 → met.
  assert.match(md, /level put p50 at 1 ≤ 0\.7 × etcd \| issue 18 \| ×0\.67 \| met \|/)
  assert.match(md, /graph 10-resource transaction p50 ≤ 5 ms \| issue 14 \| not measured \| not measured \|/)
  assert.not.match(md, /Quick mode/)
})

test('rows show the median with the min–max of the runs, and ratios list each run pair', () => {
  const md = renderHaSection(result(false))
  assert.match(md, /\| level put \| quorate \| 1 \| 3,000 \(2,800–3,300\) \|/)
  assert.match(md, /\| etcd Put \| etcd 3\.4\.23 \| 1 \|/)
  assert.match(md, /×2\.00 \(2\.00, 2\.00, 3\.30\)/)
  assert.match(md, /\| events-c1 \| 1 \| 95 \| 5 \| 5 \| 0 \| 0 \| 95 \| ok \|/)
})

test('the failed column counts refusals by their error code and unanswered commands', () => {
  const r = result(false)
  const level = r.scenarios['level-c1']!
  const withRefusals = level.runs.map((x, i) => ({ ...x, errors: i, tally: i === 0 ? { ok: 10 } : { ok: 10, 'refused:LEVEL_COMMAND_INVALID': 1, ...(i === 2 ? { failed: 1 } : {}) } }))
  const md = renderHaSection({ ...r, scenarios: { ...r.scenarios, 'level-c1': { ...level, runs: withRefusals, summary: summarizeRuns(withRefusals) } } })
  assert.match(md, /\| level put \| quorate \| 1 \|.*\| 3 \(LEVEL_COMMAND_INVALID 2, no answer 1\) \|/)
  assert.match(md, /\| etcd Put \| etcd 3\.4\.23 \| 1 \|.*\| 0 \|/)
})

test('a quick result says it is validation only, and the load average is stated', () => {
  const md = renderHaSection(result(true))
  assert.match(md, /Quick mode: validation only/)
  assert.match(md, /Load average \(1 min\) 1\.50 → 2\.50/)
})

test('spliceHaSection replaces only what is between the markers, and appends them to a document without them', () => {
  const doc = `# Benchmarks\n\nintro\n\n${HA_START}\nold figures\n${HA_END}\n\n## After\n`
  const out = spliceHaSection(doc, 'new figures')
  assert.is(out, `# Benchmarks\n\nintro\n\n${HA_START}\nnew figures\n${HA_END}\n\n## After\n`)
  assert.is(spliceHaSection(out, 'newer'), out.replace('new figures', 'newer'), 'idempotent shape')
  const appended = spliceHaSection('# Benchmarks\n', 'x')
  assert.is(appended, `# Benchmarks\n\n${HA_START}\nx\n${HA_END}\n`)
})

test.run()

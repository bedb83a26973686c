/**
 * The peers benchmark's pure parts (bench/peers/stats.ts, bench/peers/report.ts): medians and
 * spreads over runs, ratios per run pair rather than of medians, the floor, targets met or
 * missed, and the docs section generated from the result JSON alone.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { compare, latencyFloorUs, leaderBatchEntries, median, pairedRatios, spread, summarizeRuns, targetStatus, type RunRow } from '../../bench/peers/stats.js'
import { analyzePeers, formatSpread, PEERS_END, PEERS_START, renderPeersMarkdown, replacePeersSection, type PeersResult, type SystemEntry } from '../../bench/peers/report.js'

const row = (concurrency: number, commitsPerSec: number, p50Us: number, extra: Partial<RunRow> = {}): RunRow =>
  ({ concurrency, commitsPerSec, errors: 0, latency: { p50Us, p99Us: p50Us * 3, p999Us: p50Us * 5 }, ...extra })

test('median takes the middle value, the mean of the middle two for an even count, and ignores non-finite values', () => {
  assert.is(median([5, 1, 3]), 3)
  assert.is(median([4, 1, 3, 2]), 2.5)
  assert.is(median([7, Number.NaN, 1, Number.POSITIVE_INFINITY, 3]), 3)
  assert.ok(Number.isNaN(median([])))
})

test('spread reports median, extremes and the values in run order', () => {
  assert.equal(spread([30, 10, 20]), { median: 20, min: 10, max: 30, n: 3, values: [30, 10, 20] })
  assert.is(spread([]).n, 0)
})

test('ratios are per run pair: the median of the pair ratios, not the ratio of the medians', () => {
  const a = { runs: [[row(16, 100, 1)], [row(16, 200, 1)], [row(16, 300, 1)]] }
  const b = { runs: [[row(16, 50, 1)], [row(16, 400, 1)], [row(16, 150, 1)]] }
  const cmp = compare('a', a, 'b', b, 16)
  assert.equal(cmp.throughputRatio.values, [2, 0.5, 2])
  assert.is(cmp.throughputRatio.median, 2)
  // The ratio of the medians would be 200 / 150: one noisy run on either side would move it.
  assert.is.not(cmp.throughputRatio.median, median([100, 200, 300]) / median([50, 400, 150]))
})

test('a run missing on one side is left out of the pairs instead of being paired with another run', () => {
  assert.equal(pairedRatios([10, undefined, 30], [5, 7, 10]), [2, 3])
  assert.equal(pairedRatios([10, 20], [0, 4]), [5], 'a zero denominator is no pair')
  const a = { runs: [[row(1, 100, 10)], [], [row(1, 300, 30)]] }
  const b = { runs: [[row(1, 50, 20)], [row(1, 60, 20)], [row(1, 100, 10)]] }
  assert.equal(compare('a', a, 'b', b, 1).p50Ratio.values, [0.5, 3])
})

test('summarizeRuns gives each concurrency level its median and spread, and sums errors', () => {
  const s = summarizeRuns({ runs: [[row(1, 10, 100), row(16, 90, 300)], [row(1, 30, 200, { errors: 2 })], [row(1, 20, 150)]] }, [1, 16, 256])
  assert.is(s.length, 2, 'a level no run reached is left out')
  assert.is(s[0]!.commitsPerSec.median, 20)
  assert.is(s[0]!.p50Us.median, 150)
  assert.is(s[0]!.errors, 2)
  assert.is(s[1]!.commitsPerSec.n, 1)
})

test('a run in which nothing committed counts as 0 commits/s but has no latency to take a median or a ratio of', () => {
  const stalled = { runs: [[row(256, 600, 300_000)], [row(256, 0, 0)], [row(256, 500, 200_000)]] }
  const s = summarizeRuns(stalled, [256])[0]!
  assert.equal(s.commitsPerSec.values, [600, 0, 500])
  assert.equal(s.p50Us.values, [300_000, 200_000])
  const fast = { runs: [[row(256, 6000, 3000)], [row(256, 6000, 3000)], [row(256, 6000, 3000)]] }
  assert.equal(compare('fast', fast, 'stalled', stalled, 256).p50Ratio.values, [0.01, 0.015])
  assert.equal(compare('fast', fast, 'stalled', stalled, 256).throughputRatio.values, [10, 12])
})

test('the c=1 floor is one fsync plus two loopback round trips; the leader batch is 1 / writes per commit', () => {
  assert.is(latencyFloorUs({ fsync: { p50Us: 100 }, loopbackRtt: { p50Us: 20 }, levelBatch: { entriesPerBatch: 1, entriesPerSec: 1 } }), 140)
  const q = { runs: [[row(256, 1, 1, { leaderStorageWritesPerCommit: 0.01 })], [row(256, 1, 1, { leaderStorageWritesPerCommit: 0.02 })], [row(256, 1, 1, { leaderStorageWritesPerCommit: 0.0125 })]] }
  assert.is(leaderBatchEntries(q, 256), 80)
  assert.is(leaderBatchEntries({ runs: [[row(256, 1, 1, { leaderStorageWritesPerCommit: 4 })]] }, 256), 1, 'never below one entry')
  assert.is(leaderBatchEntries({ runs: [[row(256, 1, 1)]] }, 256), undefined)
})

test('a target is met or missed on the median, on the right side of its threshold, and not measured without runs', () => {
  assert.is(targetStatus(spread([0.5, 0.7, 0.55]), 0.6, 'atMost'), 'met')
  assert.is(targetStatus(spread([0.5, 0.7, 0.65]), 0.6, 'atMost'), 'missed')
  assert.is(targetStatus(spread([2.4, 2.6, 2.5]), 2.5, 'atLeast'), 'met')
  assert.is(targetStatus(spread([2.4, 2.6, 2.45]), 2.5, 'atLeast'), 'missed')
  assert.is(targetStatus(spread([]), 1, 'atLeast'), 'not measured')
  assert.is(targetStatus(null, 1, 'atLeast'), 'not measured')
})

const system = (label: string, runs: RunRow[][], extra: Partial<SystemEntry> = {}): SystemEntry =>
  ({ label, version: '1', setup: `${label} setup`, security: 'mtls', available: true, runs, ...extra })

/** Three runs in which quorate is exactly `k` times etcd's throughput and half its p50. */
function fixture (k: number): PeersResult {
  const levels = (scale: number, p50: number, extra: Partial<RunRow> = {}): RunRow[] => [row(1, 1000 * scale, p50, extra), row(16, 8000 * scale, p50 * 2, extra), row(256, 30_000 * scale, p50 * 10, extra)]
  const q = [1, 1.2, 0.9].map((noise) => levels(k * noise, 150 * noise, { leaderStorageWritesPerCommit: 0.01, leaderCpuUsPerCommit: 9, leaderUserCpuUsPerCommit: 7, nodes: [{ role: 'follower', storageWriteMs: { p50: 9 } }, { role: 'leader', storageWriteMs: { p50: 0.2 } }] }))
  const e = [1, 1.2, 0.9].map((noise) => levels(noise, 300 * noise))
  return {
    name: 'fixture', date: '2026-12-03T12:00:00.000Z', command: 'npm run bench:peers', quick: false, runs: 3, warmupMs: 2000, measureMs: 10_000, valueBytes: 100,
    concurrency: [1, 16, 256], loadAverage1m: { start: 0.5, end: 0.7 },
    systems: {
      quorate: system('quorate', q),
      'quorate-insecure': system('quorate (plain TCP)', q, { security: 'insecure' }),
      etcd: system('etcd', e, { security: 'tls' }),
      'hashicorp-raft': system('hashicorp/raft', [], { available: false, reason: 'apt-get said no' })
    },
    floor: { runs: [1, 1.2, 0.9].map((noise) => ({ fsync: { p50Us: 100 * noise }, loopbackRtt: { p50Us: 12.5 * noise }, levelBatch: { entriesPerBatch: 100, entriesPerSec: 100_000 } })) }
  }
}

test('the targets compare quorate with etcd per run pair and say met or missed', () => {
  const met = analyzePeers(fixture(5))
  const byFigure = (a: ReturnType<typeof analyzePeers>, f: string): string | undefined => a.targets.find((t) => t.figure === f)?.status
  assert.is(byFigure(met, 'B2 mTLS / etcd TLS, p50 at c=1'), 'met', 'p50 ratio 0.5 ≤ 0.6')
  assert.is(byFigure(met, 'B2 mTLS / etcd TLS, throughput at c=16'), 'met')
  assert.is(byFigure(met, 'B2 mTLS / etcd TLS, throughput at c=256'), 'met')
  assert.is(byFigure(met, 'B2 mTLS throughput at c=256'), 'met', '150,000 ≥ 80,000')
  assert.is(byFigure(met, 'B2 mTLS c=1 p50 / measured floor'), 'met', '150 / (100 + 2 × 12.5) = 1.2')
  assert.is(byFigure(met, 'B2 mTLS / hashicorp/raft mTLS, throughput at c=1'), 'not measured')
  assert.is(byFigure(met, 'TLS cost: B2 mTLS / B2 insecure, throughput at c=256'), 'met')
  const missed = analyzePeers(fixture(3))
  assert.is(byFigure(missed, 'B2 mTLS / etcd TLS, throughput at c=16'), 'met', '3 ≥ 2.5')
  assert.is(byFigure(missed, 'B2 mTLS / etcd TLS, throughput at c=256'), 'missed', '3 < 4')
  const tput = missed.targets.find((t) => t.figure === 'B2 mTLS / etcd TLS, throughput at c=256')!
  assert.ok(Math.abs(tput.measured!.median - 3) < 1e-9)
  assert.match(tput.evidence, /9 µs CPU per commit/)
  // CPU per commit × commits/s: 9 µs × 90,000/s (the median run) is 81% of a core; the leader's own write p50.
  assert.match(tput.evidence, /81% of a core busy, 0\.01 storage writes per commit, storage write p50 200 µs/)
})

test('the floor target keeps the overwrite floor and shows an appending log\'s floor beside it when measured', () => {
  const r = fixture(5)
  const withAppend = { ...r, floor: { runs: r.floor.runs.map((f) => ({ ...f!, appendSync: { p50Us: 160 } })) } }
  const floorTarget = (x: typeof r): { status: string, evidence: string } => analyzePeers(x).targets.find((t) => t.figure === 'B2 mTLS c=1 p50 / measured floor')!
  assert.is(floorTarget(withAppend).status, floorTarget(r).status, 'the same verdict: the target is on the machine floor')
  assert.match(floorTarget(withAppend).evidence, /append \+ fdatasync p50 160 µs, what classic-level pays\) is 185 µs/)
  assert.not.match(floorTarget(r).evidence, /append/, 'older runs without it say nothing of it')
})

test('storage-append ratios become targets for the 64- and 1,024-entry batches only', () => {
  const a = analyzePeers(fixture(5), [{ batchEntries: 1, sync: true, ratio: 0.9 }, { batchEntries: 64, sync: false, ratio: 0.7 }, { batchEntries: 1024, sync: true, ratio: 0.85 }])
  const storage = a.targets.filter((t) => t.figure.startsWith('storage append'))
  assert.equal(storage.map((t) => t.status), ['missed', 'met'])
})

test('the docs section is generated from the JSON: medians with spreads, statuses, and peers that were not measured', () => {
  const r = fixture(3)
  const md = renderPeersMarkdown(r, analyzePeers(r))
  assert.match(md, /Medians of 3 fresh-cluster runs/)
  assert.match(md, /\| B2 mTLS \/ etcd TLS, throughput at c=256 \| ≥ 4× \| ×3\.00 \(×3\.00–×3\.00\) \| \*\*missed\*\* \|/)
  assert.match(md, /\| quorate 1 \| mtls \| 16 \| 24,000\/s \(21,600–28,800\)/)
  assert.match(md, /\| hashicorp\/raft \| mtls \| – \| not measured \|.*apt-get said no/)
  assert.match(md, /\| 1 \| 100 µs \| 12\.5 µs \| 125 µs \| 100 entries \| 100,000 \|/)
  assert.match(md, /c=1 p50 ×1\.20 \(×1\.20–×1\.20\) of fsync \+ 2 round trips; c=256 throughput ×0\.90 \(×0\.81–×1\.08\) of the raw/)
  assert.not.match(md, /Quick mode/)
  assert.match(renderPeersMarkdown({ ...r, quick: true, runs: 1 }, analyzePeers(r)), /Quick mode/)
})

test('formatSpread shows one run without a range', () => {
  assert.is(formatSpread(spread([1234]), (x) => String(x), ' µs'), '1234 µs')
  assert.is(formatSpread(spread([3, 1, 2]), (x) => String(x)), '2 (1–3)')
})

test('the peers section replaces only the text between its markers, and is appended when they are missing', () => {
  const doc = `# B\n\nbefore\n${PEERS_START}\nold\n${PEERS_END}\nafter\n`
  const next = replacePeersSection(doc, 'new')
  assert.is(next, `# B\n\nbefore\n${PEERS_START}\nnew\n${PEERS_END}\nafter\n`)
  assert.is(replacePeersSection('# B\n', 'x'), `# B\n\n${PEERS_START}\nx\n${PEERS_END}\n`)
})

test.run()

/**
 * The peers benchmark's result file (bench/results/peers-runs.json, written by
 * scripts/bench-peers.mjs) and what is derived from it alone: medians with spreads, per-pair
 * ratios, the targets of issue 20 with met / missed, and the markdown that goes between the
 * bench:peers markers of docs/benchmarks.md. Pure: `node scripts/bench-peers.mjs --report`
 * regenerates the docs from the JSON alone.
 */
import {
  compare, latencyFloorUs, latencyOf, leaderBatchEntries, pairedRatios, perRun, spread, summarizeRuns, target,
  type Comparison, type FloorRun, type RowSummary, type RunRow, type Spread, type Target
} from './stats.js'

/** One system as measured: runs[i] holds the rows of run i. */
export interface SystemEntry {
  readonly label: string
  readonly version: string
  readonly setup: string
  /** 'mtls' (mutual TLS), 'tls' (TLS with client certificates on client and peer URLs), 'insecure' (plain TCP). */
  readonly security: string
  readonly available: boolean
  readonly reason?: string
  readonly runs: ReadonlyArray<ReadonlyArray<RunRow>>
  /** Runs or levels that failed, with the reason, so a missing figure is explained. */
  readonly failures?: readonly string[]
}

export interface PeersResult {
  readonly name: string
  readonly date: string
  readonly command: string
  readonly quick: boolean
  readonly runs: number
  readonly warmupMs: number
  readonly measureMs: number
  readonly valueBytes: number
  readonly concurrency: readonly number[]
  readonly loadAverage1m: { readonly start: number, readonly end: number }
  readonly systems: Readonly<Record<string, SystemEntry>>
  /** The physical floor measured in each run (runs[i] beside the systems' run i). */
  readonly floor: { readonly runs: ReadonlyArray<FloorRun | null>, readonly reason?: string }
}

/** bench/results/storage-append.json's ratio rows (paired runs: ratioSpread over the pairs). */
export interface StorageAppendRatio {
  readonly batchEntries: number
  readonly sync: boolean
  readonly ratio: number
  readonly ratioSpread?: Spread
}

export interface PeersAnalysis {
  readonly summaries: Readonly<Record<string, readonly RowSummary[]>>
  readonly comparisons: readonly Comparison[]
  readonly targets: readonly Target[]
  /** B2 (mTLS) against the floor, per run pair: c=1 p50 / (fsync + 2 RTT), high-concurrency commits/s / raw batch entries/s. */
  readonly floor: { readonly latencyRatio: Spread | null, readonly throughputRatio: Spread | null }
}

/** The systems the targets compare, by their key in PeersResult.systems. */
export const QUORATE = 'quorate'
export const QUORATE_INSECURE = 'quorate-insecure'
export const ETCD = 'etcd'
export const ETCD_INSECURE = 'etcd-insecure'
export const HASHICORP = 'hashicorp-raft'
export const HASHICORP_INSECURE = 'hashicorp-raft-insecure'

/** quorate compared with each peer of the same security, and each variant with its plaintext self. */
const COMPARISONS: ReadonlyArray<readonly [string, string]> = [
  [QUORATE, ETCD], [QUORATE, HASHICORP], [QUORATE, 'skiff'],
  [QUORATE_INSECURE, ETCD_INSECURE], [QUORATE_INSECURE, HASHICORP_INSECURE],
  [QUORATE, QUORATE_INSECURE], [ETCD, ETCD_INSECURE], [HASHICORP, HASHICORP_INSECURE]
]

const available = (r: PeersResult, key: string): SystemEntry | undefined => {
  const s = r.systems[key]
  return s?.available === true && s.runs.some((rows) => rows.length > 0) ? s : undefined
}

/** The high-concurrency level the c=256 targets use: 256, or the highest level measured. */
export function highConcurrency (r: PeersResult): number {
  return r.concurrency.includes(256) ? 256 : Math.max(...r.concurrency)
}

const round = (x: number, d = 1): string => Number.isFinite(x) ? (Math.round(x * 10 ** d) / 10 ** d).toLocaleString('en-US') : '–'

const median0 = (q: SystemEntry, c: number, figure: (row: RunRow) => number | undefined): Spread =>
  spread(perRun(q, c, figure).filter((x): x is number => x !== undefined))

/**
 * What B2's own meters say about a level: the leader's CPU per commit, and how busy that makes
 * one core (CPU per commit × commits/s: near 100% the leader is CPU-bound), its storage writes
 * per commit and its storage write p50 (near the whole commit p50 the disk is the limit).
 */
function quorateEvidence (q: SystemEntry | undefined, c: number): string {
  if (q === undefined) return ''
  const cpu = median0(q, c, (x) => x.leaderCpuUsPerCommit)
  if (cpu.n === 0) return ''
  const user = median0(q, c, (x) => x.leaderUserCpuUsPerCommit)
  const writes = median0(q, c, (x) => x.leaderStorageWritesPerCommit)
  const busy = median0(q, c, (x) => x.leaderCpuUsPerCommit === undefined ? undefined : x.leaderCpuUsPerCommit * x.commitsPerSec / 10_000)
  const write = median0(q, c, (x) => x.nodes?.find((n) => n.role === 'leader')?.storageWriteMs?.p50)
  return `B2 leader at c=${c}: ${round(cpu.median)} µs CPU per commit (user ${round(user.median)}), ${round(busy.median, 0)}% of a core busy, ` +
    `${round(writes.median, 2)} storage writes per commit${write.n === 0 ? '' : `, storage write p50 ${round(write.median * 1000, 0)} µs`}`
}

export function analyzePeers (r: PeersResult, storage: readonly StorageAppendRatio[] = []): PeersAnalysis {
  const summaries: Record<string, RowSummary[]> = {}
  for (const [key, s] of Object.entries(r.systems)) if (s.available) summaries[key] = summarizeRuns(s, r.concurrency)
  const comparisons: Comparison[] = []
  for (const [a, b] of COMPARISONS) {
    const sa = available(r, a)
    const sb = available(r, b)
    if (sa === undefined || sb === undefined) continue
    for (const c of r.concurrency) {
      const cmp = compare(a, sa, b, sb, c)
      if (cmp.throughputRatio.n > 0) comparisons.push(cmp)
    }
  }
  const find = (a: string, b: string, c: number): Comparison | undefined => comparisons.find((x) => x.a === a && x.b === b && x.concurrency === c)
  const q = available(r, QUORATE)
  const high = highConcurrency(r)
  const targets: Target[] = []
  const etcdNote = 'etcd: TLS with client certificates on peer and client URLs; quorate: mTLS between nodes, plain client protocol'
  targets.push(target('B2 mTLS / etcd TLS, p50 at c=1', '≤ 0.6×', 0.6, 'atMost', find(QUORATE, ETCD, 1)?.p50Ratio ?? null, [quorateEvidence(q, 1), etcdNote].filter((x) => x !== '').join('; ')))
  for (const [c, min] of [[16, 2.5], [high, 4]] as const) {
    targets.push(target(`B2 mTLS / etcd TLS, throughput at c=${c}`, `≥ ${min}×`, min, 'atLeast', find(QUORATE, ETCD, c)?.throughputRatio ?? null, quorateEvidence(q, c)))
  }
  for (const c of r.concurrency) {
    targets.push(target(`B2 mTLS / hashicorp/raft mTLS, throughput at c=${c}`, '≥ 1.5×', 1.5, 'atLeast', find(QUORATE, HASHICORP, c)?.throughputRatio ?? null, quorateEvidence(q, c)))
  }
  // The floor, run by run: B2's c=1 p50 against one fsync plus two loopback round trips.
  const floors = r.floor.runs
  const floorUs = floors.map((f) => f === null ? undefined : latencyFloorUs(f))
  const floorText = (): string => {
    const fs = floors.filter((f): f is FloorRun => f !== null)
    if (fs.length === 0) return r.floor.reason ?? 'floor not measured'
    const fsync = spread(fs.map((f) => f.fsync.p50Us))
    const rtt = spread(fs.map((f) => f.loopbackRtt.p50Us))
    const appends = fs.flatMap((f) => f.appendSync === undefined ? [] : [f.appendSync.p50Us])
    // The target keeps the machine's floor (an overwrite, as a preallocated log gets); what the
    // storage quorate is fixed to pays instead is shown beside it.
    const append = appends.length === 0 ? '' : `; an appending log's floor (append + fdatasync p50 ${round(spread(appends).median)} µs, what classic-level pays) is ${round(spread(appends).median + 2 * rtt.median)} µs`
    return `floor = fsync p50 ${round(fsync.median)} µs + 2 × loopback RTT p50 ${round(rtt.median)} µs (medians over runs)${append}`
  }
  const latencyRatio = q === undefined ? null : spread(pairedRatios(perRun(q, 1, latencyOf((l) => l.p50Us)), floorUs))
  targets.push(target('B2 mTLS c=1 p50 / measured floor', '≤ 1.25×', 1.25, 'atMost', latencyRatio, [floorText(), quorateEvidence(q, 1)].filter((x) => x !== '').join('; ')))
  const qHigh = q === undefined ? null : spread(perRun(q, high, (x) => x.commitsPerSec).filter((x): x is number => x !== undefined))
  const qHighP99 = q === undefined ? null : spread(perRun(q, high, latencyOf((l) => l.p99Us)).filter((x): x is number => x !== undefined))
  const batch = q === undefined ? undefined : leaderBatchEntries(q, high)
  const rawRates = floors.map((f) => f === null ? undefined : f.levelBatch.entriesPerSec)
  const rawRatio = q === undefined ? null : spread(pairedRatios(perRun(q, high, (x) => x.commitsPerSec), rawRates))
  const rawText = rawRatio === null || rawRatio.n === 0
    ? ''
    : `raw classic-level sync batches of ${floors.find((f) => f !== null)?.levelBatch.entriesPerBatch ?? batch ?? '?'} entries (B2's leader batch): ${round(spread(rawRates.filter((x): x is number => x !== undefined)).median, 0)} entries/s, B2 at ×${round(rawRatio.median, 2)} of it`
  targets.push(target(`B2 mTLS throughput at c=${high}`, '≥ 80,000 commits/s', 80_000, 'atLeast', qHigh, [rawText, quorateEvidence(q, high)].filter((x) => x !== '').join('; ')))
  targets.push(target(`B2 mTLS p99 at c=${high}`, '≤ 20,000 µs', 20_000, 'atMost', qHighP99, quorateEvidence(q, high)))
  const plainEvidence = quorateEvidence(available(r, QUORATE_INSECURE), high).replace('B2 leader', 'plain B2 leader')
  targets.push(target(`TLS cost: B2 mTLS / B2 insecure, throughput at c=${high}`, '≥ 0.85×', 0.85, 'atLeast', find(QUORATE, QUORATE_INSECURE, high)?.throughputRatio ?? null,
    [quorateEvidence(q, high).replace('B2 leader', 'mTLS B2 leader'), plainEvidence].filter((x) => x !== '').join('; ')))
  for (const s of storage) {
    if (s.batchEntries === 1) continue
    targets.push(target(`storage append, ${s.batchEntries} entries, sync=${String(s.sync)}, LevelStorage / raw classic-level`, '≥ 0.8×', 0.8, 'atLeast',
      s.ratioSpread ?? spread([s.ratio]), 'bench/storage-append.ts'))
  }
  return { summaries, comparisons, targets, floor: { latencyRatio, throughputRatio: rawRatio } }
}

const int = (x: number): string => Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–'
/** "median (min–max)", or just the median for one run. */
export function formatSpread (s: Spread, format: (x: number) => string, unit = ''): string {
  if (s.n === 0) return '–'
  if (s.n === 1) return `${format(s.median)}${unit}`
  return `${format(s.median)}${unit} (${format(s.min)}–${format(s.max)})`
}
const ratio = (s: Spread): string => formatSpread(s, (x) => `×${x.toFixed(2)}`)
const table = (head: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
const statusCell = (t: Target): string => t.status === 'missed' ? '**missed**' : t.status

/** The markdown between the bench:peers markers. */
export function renderPeersMarkdown (r: PeersResult, a: PeersAnalysis): string {
  const out: string[] = []
  const when = r.date.slice(0, 16).replace('T', ' ')
  out.push(`_Generated by \`npm run bench:peers\` (bench/peers/report.ts) from bench/results/peers-runs.json, ${when} UTC._`)
  out.push('')
  out.push(`Medians of ${r.runs} fresh-cluster run${r.runs === 1 ? '' : 's'} per system and concurrency, with the spread (min–max) in brackets; ` +
    `${r.warmupMs} ms warm-up, ${r.measureMs} ms measured, ${r.valueBytes}-byte values, closed loop. The systems take turns within each run, ` +
    'and every ratio is computed per run pair (run i against run i) and its median reported. ' +
    `Load average ${r.loadAverage1m.start.toFixed(2)} → ${r.loadAverage1m.end.toFixed(2)}.`)
  if (r.quick) out.push('\n**Quick mode** (`--quick`: one run, short windows): for checking that everything runs, not for figures.')
  out.push('\n#### Targets (issue 20)\n')
  out.push(table(['figure', 'target', 'measured (median of runs or of per-pair ratios)', 'status', 'measured context'],
    a.targets.map((t) => [t.figure, t.target, t.measured === null ? 'not measured' : (t.target.includes('×') ? ratio(t.measured) : formatSpread(t.measured, int)), statusCell(t), t.evidence])))
  out.push('\n#### Systems\n')
  const rows: Array<Array<string | number>> = []
  for (const [key, s] of Object.entries(r.systems)) {
    if (!s.available) { rows.push([`${s.label}`, s.security, '–', 'not measured', '', '', '', '', s.reason ?? '']); continue }
    for (const x of a.summaries[key] ?? []) {
      rows.push([`${s.label} ${s.version}`, s.security, x.concurrency, formatSpread(x.commitsPerSec, int, '/s'), formatSpread(x.p50Us, int, ' µs'),
        formatSpread(x.p99Us, int, ' µs'), formatSpread(x.p999Us, int, ' µs'), x.commitsPerSec.n, x.errors > 0 ? `${x.errors} failed` : ''])
    }
    for (const f of s.failures ?? []) rows.push([`${s.label} ${s.version}`, s.security, '–', 'not measured', '', '', '', '', f])
  }
  out.push(table(['system', 'security', 'concurrency', 'commits/s', 'p50', 'p99', 'p99.9', 'runs', 'notes'], rows))
  out.push('\nSetups:\n')
  for (const s of Object.values(r.systems)) out.push(`- **${s.label}**: ${s.setup}`)
  if (a.comparisons.length > 0) {
    out.push('\n#### Ratios, per run pair\n')
    const label = (k: string): string => r.systems[k]?.label ?? k
    out.push(table(['system', 'vs', 'concurrency', 'throughput ratio (>1: first faster)', 'p50 ratio (<1: first faster)', 'pairs'],
      a.comparisons.map((c) => [label(c.a), label(c.b), c.concurrency, ratio(c.throughputRatio), ratio(c.p50Ratio), c.throughputRatio.n])))
  }
  const floors = r.floor.runs.filter((f): f is FloorRun & { fsync: { p99Us?: number } } => f !== null)
  if (floors.length > 0) {
    out.push('\n#### The machine in the same run (`node dist/bench/raw-limits.js --floor`)\n')
    out.push(table(['run', 'fsync p50', 'loopback RTT p50', 'c=1 floor (fsync + 2 RTT)', 'raw classic-level sync batches', 'entries/s'],
      r.floor.runs.map((f, i) => f === null
        ? [i + 1, '–', '–', '–', '–', r.floor.reason ?? 'not measured']
        : [i + 1, `${round(f.fsync.p50Us)} µs`, `${round(f.loopbackRtt.p50Us)} µs`, `${round(latencyFloorUs(f))} µs`, `${f.levelBatch.entriesPerBatch} entries`, int(f.levelBatch.entriesPerSec)])))
    const lat = a.floor.latencyRatio
    const tput = a.floor.throughputRatio
    out.push(`\nB2 (mTLS) against the floor, per run pair: c=1 p50 ${lat === null ? 'not measured' : ratio(lat)} of fsync + 2 round trips; ` +
      `c=${highConcurrency(r)} throughput ${tput === null ? 'not measured' : ratio(tput)} of the raw classic-level sync batch rate at its leader's batch size.`)
  } else if (r.floor.reason !== undefined) {
    out.push(`\nFloor not measured: ${r.floor.reason}`)
  }
  return out.join('\n')
}

export const PEERS_START = '<!-- bench:peers:start -->'
export const PEERS_END = '<!-- bench:peers:end -->'

/** `doc` with the text between the peers markers replaced (the markers appended if absent). */
export function replacePeersSection (doc: string, markdown: string): string {
  const block = `${PEERS_START}\n${markdown}\n${PEERS_END}`
  const start = doc.indexOf(PEERS_START)
  const end = doc.indexOf(PEERS_END)
  if (start < 0 || end < start) return `${doc.trimEnd()}\n\n${block}\n`
  return doc.slice(0, start) + block + doc.slice(end + PEERS_END.length)
}

/**
 * `npm run bench:ha`: the HA layers on B2 (3 node processes, TCP loopback, classic-level with
 * fsync, the load generator in a 4th process), side by side with etcd in the same run:
 * events emits (1 and 256 producers, with retries of committed ids), 10-resource graph
 * transactions (c = 1, 16), level puts (c = 1, 16, 256) and a 1,000-put level batch, and
 * etcd Puts of the same value size at 1, 16, 256 (bench/peers/etcd.mjs, as bench:peers runs
 * it). Every scenario runs on a fresh cluster, `--runs` times (default 3); rows report the
 * median and spread, ratios to etcd are taken per run pair and their median reported, and
 * the targets of issues 14 and 18 are judged on the medians (ha-plan.ts). Writes
 * bench/results/<out>.json; with the default out, also regenerates the HA section of
 * docs/benchmarks.md.
 *
 *   npm run bench:ha [-- --quick] [-- --runs 3 --warmup-ms 2000 --measure-ms 10000 --only events-c1,etcd-c1 --out ha-b2]
 *
 * --quick: 1 run, 500 ms warm-up, 2,000 ms measured (validation, not measurement).
 * --report: measure nothing; regenerate the docs section from bench/results/ha-b2.json.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { ClosedLoopResult } from './closed-loop.js'
import { runScenario } from './ha-cluster.js'
import { ETCD_PAIRS, HA_SCENARIOS, HA_TARGETS, type PlannedScenario } from './ha-plan.js'
import { HA_END, HA_START, renderHaSection, spliceHaSection, type HaResult, type HaRunRow, type HaScenarioResult } from './ha-report.js'
import { checkEmitRun, evaluateTargets, pairRatios, summarizeRuns, type EmitCheck } from './ha-stats.js'
import { HA_WORKLOAD_DEFAULTS } from './ha-workloads.js'
import { OUT_NAME } from './cli.js'
import { REPO_ROOT, RESULTS_DIR, writeResult } from './measure.js'

/** bench/peers/etcd.mjs (plain JavaScript, shared with scripts/bench-peers.mjs). */
interface EtcdCluster { leaderEndpoint: string, loadArgs: string[], stop: () => Promise<void>, version: string }
interface EtcdPeer {
  ensureEtcd: () => string | null
  buildEtcdLoad: () => string
  /** The HA scenarios' node processes talk plain TCP (bench/node-process.ts without `tls`), so etcd runs plain too: like with like. */
  startEtcd: (o: { tls: boolean }) => Promise<EtcdCluster>
  runEtcdLoad: (binary: string, cluster: EtcdCluster, o: { concurrency: number, valueBytes: number, warmupMs: number, measureMs: number }) => ClosedLoopResult
}

interface Args { runs: number, warmupMs: number, measureMs: number, quick: boolean, report: boolean, only: Set<string> | null, out: string }

const DEFAULT_OUT = 'ha-b2'
const FLAGS = ['--runs', '--warmup-ms', '--measure-ms', '--only', '--out']

function parseHaArgs (argv: readonly string[]): Args {
  const quick = argv.includes('--quick')
  const report = argv.includes('--report')
  const values = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--quick' || a === '--report') continue
    if (!FLAGS.includes(a) || argv[i + 1] === undefined) throw new Error(`bench:ha: unknown option or missing value: ${a} (options: --quick --report ${FLAGS.join(' ')})`)
    values.set(a, argv[++i]!)
  }
  const num = (flag: string, fallback: number, min: number): number => {
    const v = values.get(flag)
    if (v === undefined) return fallback
    const x = Number(v)
    if (!Number.isInteger(x) || x < min) throw new Error(`bench:ha: ${flag} must be an integer ≥ ${min}, got ${v}`)
    return x
  }
  const only = values.has('--only') ? new Set(values.get('--only')!.split(',')) : null
  for (const key of only ?? []) if (!HA_SCENARIOS.some((s) => s.key === key)) throw new Error(`bench:ha: --only: no scenario ${key} (scenarios: ${HA_SCENARIOS.map((s) => s.key).join(', ')})`)
  const out = values.get('--out') ?? DEFAULT_OUT
  if (!OUT_NAME.test(out)) throw new Error(`bench:ha: --out is a result name (letters, digits, '.', '_', '-'; written to bench/results/<name>.json), got ${out}`)
  return {
    quick,
    report,
    runs: num('--runs', quick ? 1 : 3, 1),
    warmupMs: num('--warmup-ms', quick ? 500 : 2000, 0),
    measureMs: num('--measure-ms', quick ? 2000 : 10_000, 1),
    only,
    out
  }
}

async function loadEtcd (): Promise<{ peer: EtcdPeer, binary: string } | { reason: string }> {
  const peer = await import(pathToFileURL(join(REPO_ROOT, 'bench/peers/etcd.mjs')).href) as EtcdPeer
  const reason = peer.ensureEtcd()
  if (reason !== null) return { reason }
  try { return { peer, binary: peer.buildEtcdLoad() } } catch (err) { return { reason: `building bench/peers/etcd-load failed: ${(err as Error).message}` } }
}

const fmt = (r: ClosedLoopResult): string => `${r.commitsPerSec} commits/s  p50 ${r.latency.p50Us} µs  p99 ${r.latency.p99Us} µs${r.errors > 0 ? `  failed ${r.errors}` : ''}`

async function main (): Promise<void> {
  let args: Args
  try {
    args = parseHaArgs(process.argv.slice(2))
  } catch (err) {
    console.error((err as Error).message)
    process.exitCode = 2
    return
  }
  if (args.report) {
    writeDocs(JSON.parse(readFileSync(join(RESULTS_DIR, `${DEFAULT_OUT}.json`), 'utf8')) as HaResult)
    return
  }
  const plan = HA_SCENARIOS.filter((s) => args.only === null || args.only.has(s.key))
  const etcd = plan.some((s) => s.system === 'etcd') ? await loadEtcd() : { reason: 'not selected (--only)' }
  let etcdVersion: string | undefined
  const rows = new Map<string, HaRunRow[]>(plan.map((s) => [s.key, []]))
  const failures: Array<{ scenario: string, run: number, message: string }> = []
  const loads: number[] = []
  const startLoad = loadavg()[0]!
  const valueBytes = HA_WORKLOAD_DEFAULTS.valueBytes
  for (let run = 0; run < args.runs; run++) {
    for (const s of plan) {
      const load = loadavg()[0]!
      loads.push(load)
      const window = { warmupMs: args.warmupMs, measureMs: args.measureMs }
      try {
        let row: ClosedLoopResult & Partial<HaRunRow>
        if (s.system === 'etcd') {
          if ('reason' in etcd) continue
          const cluster = await etcd.peer.startEtcd({ tls: false })
          etcdVersion = cluster.version
          try {
            row = etcd.peer.runEtcdLoad(etcd.binary, cluster, { concurrency: s.concurrency, valueBytes, ...window })
          } finally { await cluster.stop() }
        } else {
          row = await runScenario({ machine: s.machine!, workload: s.workload!, concurrency: s.concurrency, ...window })
        }
        rows.get(s.key)!.push({ ...row, run, loadAverage1m: Math.round(load * 100) / 100 })
        console.log(`[bench:ha] run ${run + 1}/${args.runs} ${s.key.padEnd(15)} ${fmt(row)}  (load ${load.toFixed(2)})`)
      } catch (err) {
        failures.push({ scenario: s.key, run, message: (err as Error).message })
        console.error(`[bench:ha] run ${run + 1}/${args.runs} ${s.key}: FAILED ${(err as Error).message}`)
      }
    }
  }
  const result = assemble(args, plan, rows, failures, etcd, etcdVersion, { start: startLoad, end: loadavg()[0]!, all: loads })
  const file = writeResult(args.out, result)
  console.log(`[bench:ha] wrote ${file}`)
  for (const t of result.targets) console.log(`  ${t.status.padEnd(12)} ${t.text}: ${t.measured ?? '–'}`)
  for (const c of result.emitChecks) if (!c.ok) console.error(`  emit check FAILED: ${JSON.stringify(c)}`)
  if (args.out === DEFAULT_OUT) writeDocs(result)
  if (failures.length > 0 || result.emitChecks.some((c) => !c.ok)) process.exitCode = 1
}

function writeDocs (result: HaResult): void {
  const docPath = join(REPO_ROOT, 'docs/benchmarks.md')
  const doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Benchmarks\n'
  writeFileSync(docPath, spliceHaSection(doc, renderHaSection(result)))
  console.log(`[bench:ha] regenerated docs/benchmarks.md between ${HA_START} and ${HA_END}`)
}

function assemble (
  args: Args,
  plan: readonly PlannedScenario[],
  rows: ReadonlyMap<string, HaRunRow[]>,
  failures: HaResult['failures'],
  etcd: { reason: string } | object,
  etcdVersion: string | undefined,
  load: { start: number, end: number, all: number[] }
): HaResult {
  const scenarios: Record<string, HaScenarioResult> = {}
  for (const s of plan) scenarios[s.key] = { ...s, runs: rows.get(s.key)!, summary: summarizeRuns(rows.get(s.key)!) }
  const ratios: Record<string, HaResult['ratios'][string]> = {}
  for (const [key, vs] of Object.entries(ETCD_PAIRS)) {
    const a = scenarios[key]
    const b = scenarios[vs]
    if (a !== undefined && b !== undefined && b.runs.length > 0) ratios[key] = { vs, ...pairRatios(a.runs, b.runs) }
  }
  const emitChecks: EmitCheck[] = plan.filter((s) => s.workload === 'emit').flatMap((s) =>
    scenarios[s.key]!.runs.map((r, i) => checkEmitRun(s.key, i, r.tally ?? {}, r.nodes ?? [])))
  const summaries = Object.fromEntries(Object.entries(scenarios).map(([k, s]) => [k, s.summary]))
  const r2 = (x: number): number => Math.round(x * 100) / 100
  return {
    name: 'HA layers on B2 (3 node processes, TCP loopback, classic-level with fsync) beside etcd',
    date: new Date().toISOString(),
    command: `npm run bench:ha${args.quick ? ' -- --quick' : ''}`,
    node: process.version,
    quick: args.quick,
    runs: args.runs,
    warmupMs: args.warmupMs,
    measureMs: args.measureMs,
    valueBytes: HA_WORKLOAD_DEFAULTS.valueBytes,
    loadAverage1m: { start: r2(load.start), end: r2(load.end), min: r2(Math.min(...load.all, load.end)), max: r2(Math.max(...load.all, load.end)) },
    etcd: 'reason' in etcd
      ? { available: false, reason: etcd.reason }
      : { available: true, ...(etcdVersion === undefined ? {} : { version: etcdVersion }), setup: '3 members on 127.0.0.1, fsync on (etcd default), clientv3 Put of a fresh key to the leader, up to 4 connections' },
    scenarios,
    ratios,
    emitChecks,
    failures,
    targets: evaluateTargets(HA_TARGETS, summaries, ratios)
  }
}

await main()

/**
 * What users run, beside what the published figures use: at each concurrency, the general
 * client (QuorateClient over its default path — TLS with a client certificate, the binary
 * protocol, exactly-once sessions — against three `quorate-node` processes with fsync, in a
 * fourth process) and the minimal benchmark client (B2: bench/cluster-tcp.js, plain TCP, a
 * counting state machine), each on a fresh cluster, alternating, `--runs` times (default 3);
 * rows report the median run by throughput. Writes bench/results/client-path.json (or --out).
 *
 *   npm run bench:client [-- --concurrency 1,16,256 --warmup-ms 2000 --measure-ms 10000 --runs 3 --only general|minimal|etcd --insecure --cpu-prof DIR --out NAME]
 *
 * In the same rounds, etcd 3.4 with TLS and client-certificate authentication on its peer and
 * client URLs, driven by its own clientv3 (bench/peers/etcd.mjs and bench/peers/etcd-load, as
 * in `npm run bench:peers`), so issue 21's "at least 2× etcd clientv3 with TLS" is a per-run
 * ratio too. `--only general|minimal|etcd` runs one of the three; etcd is left out, with the
 * reason printed and recorded, where it cannot be installed or built.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ProcessCluster } from '../src/cluster/launcher.js'
import type { ClosedLoopResult } from './closed-loop.js'
import { parseArgs, checkFlags } from './cli.js'
import { RESULTS_DIR, writeResult } from './measure.js'
import { forkScript, nextMessage, waitExit } from './proc.js'

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))
const argv = process.argv.slice(2)
checkFlags('bench:client', argv, ['--runs', '--only', '--concurrency', '--warmup-ms', '--measure-ms', '--trials', '--out', '--cpu-prof'], ['--insecure'])
/** This script's own flags (--runs N, --only general|minimal); the rest are parseArgs'. */
const own = (flag: string): string | undefined => { const i = argv.indexOf(flag); return i >= 0 ? argv[i + 1] : undefined }
const RUNS = Number(own('--runs') ?? 3)
const ONLY = own('--only')
/** --insecure: the general client's cluster without TLS on either port (to price TLS; not the default path). */
const INSECURE = argv.includes('--insecure')
/** --cpu-prof DIR: a V8 CPU profile of the general client's load process per run (bench/profile-summary.ts reads it). */
const PROFILE_DIR = own('--cpu-prof')
const args = parseArgs(argv.filter((a, i) => !['--runs', '--only', '--insecure', '--cpu-prof'].includes(a) && !['--runs', '--only', '--cpu-prof'].includes(argv[i - 1] ?? '')))

type Client = 'general' | 'minimal' | 'etcd'
const CLIENTS: readonly Client[] = ['general', 'minimal', 'etcd']
if (ONLY !== undefined && !(CLIENTS as readonly string[]).includes(ONLY)) throw new Error(`bench:client: --only must be one of ${CLIENTS.join(', ')}, got ${ONLY}`)
const wants = (client: Client): boolean => ONLY === undefined || ONLY === client

/** bench/peers/etcd.mjs (plain JS beside the sources, shared with bench:peers), typed as used here. */
interface EtcdCluster { readonly version: string, stop: () => Promise<void> }
interface EtcdPeer {
  ensureEtcd: () => string | null
  buildEtcdLoad: () => string
  startEtcd: (options: { tls: boolean }) => Promise<EtcdCluster>
  runEtcdLoad: (binary: string, cluster: EtcdCluster, options: { concurrency: number, warmupMs: number, measureMs: number, valueBytes: number }) => ClosedLoopResult
}
const etcdPeer = wants('etcd') ? await import(here('../../bench/peers/etcd.mjs')) as EtcdPeer : null
/** The etcd-load binary, or why etcd is not measured in this run. */
let etcdLoad: string | null = null
let etcdSkipped: string | null = etcdPeer === null ? 'not asked for (--only)' : etcdPeer.ensureEtcd()
if (etcdPeer !== null && etcdSkipped === null) {
  try { etcdLoad = etcdPeer.buildEtcdLoad() } catch (err) { etcdSkipped = `building bench/peers/etcd-load failed: ${(err as Error).message}` }
}
if (etcdSkipped !== null && wants('etcd')) console.log(`bench:client: etcd left out: ${etcdSkipped}`)
let etcdVersion = 'unknown'

/** etcd with TLS on a fresh 3-member cluster, its clientv3 load generator at `concurrency`. */
async function etcd (concurrency: number): Promise<ClosedLoopResult> {
  const cluster = await etcdPeer!.startEtcd({ tls: true })
  try {
    etcdVersion = cluster.version
    const { commits, commitsPerSec, errors, latency, measureMs, valueBytes } = etcdPeer!.runEtcdLoad(etcdLoad!, cluster, { concurrency, warmupMs: args.warmupMs, measureMs: args.measureMs, valueBytes: 100 })
    return { concurrency, valueBytes, measureMs, commits, commitsPerSec, errors, latency }
  } finally {
    await cluster.stop()
  }
}

async function general (concurrency: number): Promise<ClosedLoopResult> {
  const cluster = await ProcessCluster.create({ nodes: 3, insecure: INSECURE })
  try {
    await cluster.startAll()
    await stableLeader(cluster)
    const certs = join(cluster.dir, 'certs')
    const load = forkScript(here('./client-path-load.js'), {
      nodes: Object.fromEntries(cluster.ids.map((id) => [id, cluster.clientAddress(id)])),
      ...(INSECURE
        ? { insecure: true }
        : { caFile: join(certs, 'ca.crt'), certFile: join(certs, 'client-launcher.crt'), keyFile: join(certs, 'client-launcher.key') }),
      concurrency,
      warmupMs: args.warmupMs,
      measureMs: args.measureMs
    }, PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=client-path-c${concurrency}-${Date.now()}.cpuprofile`])
    const result = await nextMessage<ClosedLoopResult>(load, 'result', args.warmupMs + args.measureMs + 120_000)
    await waitExit(load)
    // The leader's Raft traffic per applied entry over the whole run (warm-up included): how
    // well proposals arriving from the client are batched into appends.
    const reports = await Promise.all(cluster.ids.map(async (id) => await cluster.client.status(id, { hash: false })))
    const leader = reports.find((r) => r.role === 'leader')
    if (leader?.transport !== undefined && leader.appliedIndex > 0) {
      const t = leader.transport
      const per = (n: number | undefined): number => Math.round((n ?? 0) / leader.appliedIndex * 1000) / 1000
      return { ...result, leaderPerEntry: { messages: per(t.sent), frames: per(t.framesSent), bytes: per(t.bytesSent) } } as ClosedLoopResult
    }
    return result
  } finally {
    await cluster.close()
  }
}

/** Waits, like B2 does before its client starts, until every node names the same leader in the same term. */
async function stableLeader (cluster: ProcessCluster, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const reports = await Promise.allSettled(cluster.ids.map(async (id) => await cluster.client.status(id, { hash: false })))
    const ok = reports.flatMap((r) => r.status === 'fulfilled' ? [r.value] : [])
    const leader = ok.find((r) => r.role === 'leader')
    if (ok.length === cluster.ids.length && leader !== undefined && ok.every((r) => r.leader === leader.id && r.term === leader.term)) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('client-path: no stable leader in time')
}

function minimal (concurrency: number): ClosedLoopResult {
  const out = `client-path-minimal-${process.pid}`
  const run = spawnSync(process.execPath, [here('./cluster-tcp.js'), '--concurrency', String(concurrency), '--warmup-ms', String(args.warmupMs), '--measure-ms', String(args.measureMs), '--out', out], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (run.status !== 0) throw new Error(`bench/cluster-tcp.js exited ${String(run.status)}`)
  const file = join(RESULTS_DIR, `${out}.json`)
  const data = JSON.parse(readFileSync(file, 'utf8')) as { rows: ClosedLoopResult[] }
  rmSync(file)
  const { concurrency: c, valueBytes, measureMs, commits, commitsPerSec, errors, latency } = data.rows[0]!
  return { concurrency: c, valueBytes, measureMs, commits, commitsPerSec, errors, latency }
}

/** The median over run pairs (run i of `a` against run i of `b`) of a's throughput over b's. */
function pairRatio (a: readonly ClosedLoopResult[], b: readonly ClosedLoopResult[]): number {
  const ratios = a.map((r, i) => r.commitsPerSec / Math.max(1, b[i]!.commitsPerSec)).sort((x, y) => x - y)
  return ratios[Math.floor(ratios.length / 2)]!
}

function median (runs: ClosedLoopResult[]): ClosedLoopResult {
  return [...runs].sort((a, b) => a.commitsPerSec - b.commitsPerSec)[Math.floor(runs.length / 2)]!
}

const load = { start: loadavg()[0] }
const rows: Array<ClosedLoopResult & { client: Client, runs: number[], p50UsRuns: number[] }> = []
for (const c of args.concurrency) {
  const runs: Record<Client, ClosedLoopResult[]> = { general: [], minimal: [], etcd: [] }
  for (let i = 0; i < RUNS; i++) {
    if (wants('minimal')) runs.minimal.push(minimal(c))
    if (wants('general')) runs.general.push(await general(c))
    if (etcdLoad !== null) runs.etcd.push(await etcd(c))
  }
  for (const client of CLIENTS.filter((k) => runs[k].length > 0)) {
    const m = median(runs[client])
    rows.push({ client, ...m, runs: runs[client].map((r) => r.commitsPerSec), p50UsRuns: runs[client].map((r) => r.latency.p50Us) })
  }
  const g = rows.find((r) => r.concurrency === c && r.client === 'general')
  const b = rows.find((r) => r.concurrency === c && r.client === 'minimal')
  const e = rows.find((r) => r.concurrency === c && r.client === 'etcd')
  const ratio = g !== undefined && b !== undefined ? ` | ratio ${(g.commitsPerSec / Math.max(1, b.commitsPerSec)).toFixed(2)}×, p50 ${(g.latency.p50Us / Math.max(1, b.latency.p50Us)).toFixed(2)}×` : ''
  const etcdRatio = g !== undefined && e !== undefined ? ` | general / etcd ${pairRatio(runs.general, runs.etcd).toFixed(2)}× (per run pair)` : ''
  console.log(`client-path c=${String(c).padStart(3)}: general ${g?.commitsPerSec ?? '-'}/s p50 ${g?.latency.p50Us ?? '-'} µs | minimal ${b?.commitsPerSec ?? '-'}/s p50 ${b?.latency.p50Us ?? '-'} µs${ratio} | etcd TLS ${e?.commitsPerSec ?? '-'}/s p50 ${e?.latency.p50Us ?? '-'} µs${etcdRatio}`)
}
const file = writeResult(args.out ?? 'client-path', {
  name: 'The general client (QuorateClient, TLS + client certificate, binary protocol, sessions) vs the minimal benchmark client (B2), 3 node processes with fsync',
  date: new Date().toISOString(),
  node: process.version,
  command: `npm run bench:client -- ${argv.join(' ')}`.trim(),
  generalPath: INSECURE ? 'insecure (plaintext, no authentication): not the default path' : 'TLS with a client certificate (the default)',
  runsPerPoint: RUNS,
  warmupMs: args.warmupMs,
  measureMs: args.measureMs,
  loadAverage1m: { ...load, end: loadavg()[0] },
  etcd: etcdLoad !== null ? { version: etcdVersion, setup: '3 members on 127.0.0.1, fsync on, https peer and client URLs with client-certificate authentication; bench/peers/etcd-load (clientv3 Put to the leader, 4 connections)' } : { skipped: etcdSkipped },
  rows
})
console.log(`wrote ${file}`)

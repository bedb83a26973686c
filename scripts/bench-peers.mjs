#!/usr/bin/env node
/**
 * `npm run bench:peers`: quorate B2 (3 node processes, classic-level with fsync, mutual TLS —
 * quorate's default — and plain TCP), etcd 3.4 (3 members, fsync on, TLS with client
 * certificates on peer and client URLs, and plain; bench/peers/etcd.mjs), hashicorp/raft
 * 1.1.2 (3 processes, BoltDB with fsync, mutual TLS; bench/peers/hashicorp-raft.mjs) and
 * skiff 1.10 (npm, 3 nodes in one process) at the same value size and concurrency.
 *
 * Repeatability: `--runs N` (default 3) rounds; in each round every system runs once (the
 * order rotating from round to round), a fresh cluster per concurrency level, and the
 * machine's floor (bench/raw-limits.ts --floor: fsync, loopback round trip, raw classic-level
 * sync batches at B2's leader batch size) is measured beside them. Figures are medians over
 * the rounds with the spread; ratios are per round pair (bench/peers/stats.ts). Installs what
 * is missing (apt-get, npm install in bench/peers/skiff); a peer that cannot be installed or
 * run is reported as such, no number is ever substituted.
 * Writes bench/results/peers-runs.json and regenerates the bench:peers section of
 * docs/benchmarks.md (bench/peers/report.ts).
 *
 *   npm run bench:peers [-- --runs 3 --concurrency 1,16,256 --warmup-ms 2000 --measure-ms 10000]
 *       [--only quorate,quorate-insecure,etcd,etcd-insecure,hashicorp-raft,hashicorp-raft-insecure,skiff]
 *       [--insecure]   only the plaintext variants (quorate, etcd, hashicorp/raft without TLS) and skiff
 *       [--quick]      1 run, 300 ms warm-up, 1,500 ms windows: checks that everything runs
 *       [--out NAME]   result file name; anything but the default leaves docs/benchmarks.md alone
 *       [--report]     only regenerate docs/benchmarks.md from bench/results/peers-runs.json
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildEtcdLoad, ensureEtcd, runEtcdLoad, startEtcd } from '../bench/peers/etcd.mjs'
import { buildHashicorpRaft, ensureHashicorpRaft, hashicorpRaftVersion, runHashicorpLoad, startHashicorpRaft } from '../bench/peers/hashicorp-raft.mjs'
import { log } from '../bench/peers/tools.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const { analyzePeers, renderPeersMarkdown, replacePeersSection, highConcurrency } = await import(join(root, 'dist/bench/peers/report.js'))
const { leaderBatchEntries } = await import(join(root, 'dist/bench/peers/stats.js'))

const argv = process.argv.slice(2)
const VALUE_FLAGS = ['--runs', '--concurrency', '--warmup-ms', '--measure-ms', '--only', '--out']
const SWITCHES = ['--quick', '--insecure', '--report']
for (let i = 0; i < argv.length; i++) {
  if (VALUE_FLAGS.includes(argv[i])) {
    if (argv[i + 1] === undefined || argv[i + 1].startsWith('--')) throw new Error(`${argv[i]} needs a value`)
    i++
  } else if (!SWITCHES.includes(argv[i])) {
    throw new Error(`unknown option ${argv[i]} (known: ${[...VALUE_FLAGS, ...SWITCHES].join(', ')})`)
  }
}
const flag = (f, d) => { const i = argv.indexOf(f); return i >= 0 ? argv[i + 1] : d }
const quick = argv.includes('--quick')
const insecureOnly = argv.includes('--insecure')
const concurrency = flag('--concurrency', '1,16,256').split(',').map(Number)
const runs = Number(flag('--runs', quick ? '1' : '3'))
const warmupMs = Number(flag('--warmup-ms', quick ? '300' : '2000'))
const measureMs = Number(flag('--measure-ms', quick ? '1500' : '10000'))
const VALUE_BYTES = 100
const ALL = ['quorate', 'quorate-insecure', 'etcd', 'etcd-insecure', 'hashicorp-raft', 'hashicorp-raft-insecure', 'skiff']
const DEFAULT = insecureOnly
  ? ['quorate-insecure', 'etcd-insecure', 'hashicorp-raft-insecure', 'skiff']
  : ['quorate', 'quorate-insecure', 'etcd', 'etcd-insecure', 'hashicorp-raft', 'skiff']
const only = flag('--only', DEFAULT.join(',')).split(',')
const outName = flag('--out', 'peers-runs')
const resultsDir = join(root, 'bench/results')
const docPath = join(root, 'docs/benchmarks.md')

for (const [name, v] of [['--runs', runs], ['--warmup-ms', warmupMs], ['--measure-ms', measureMs]]) {
  if (!Number.isSafeInteger(v) || v < (name === '--runs' ? 1 : 0)) throw new Error(`${name} must be a ${name === '--runs' ? 'positive' : 'non-negative'} integer, got ${v}`)
}
if (concurrency.some((c) => !Number.isSafeInteger(c) || c < 1)) throw new Error(`--concurrency must be positive integers, got ${flag('--concurrency')}`)
for (const s of only) if (!ALL.includes(s)) throw new Error(`--only: unknown system ${s} (known: ${ALL.join(', ')})`)

function readJson (file) { return JSON.parse(readFileSync(file, 'utf8')) }

function storageRatios () {
  const file = join(resultsDir, 'storage-append.json')
  return existsSync(file) ? readJson(file).ratios ?? [] : []
}

function writeDocs (result) {
  const analysis = analyzePeers(result, storageRatios())
  const doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Benchmarks\n'
  writeFileSync(docPath, replacePeersSection(doc, renderPeersMarkdown(result, analysis)))
  log(`wrote the bench:peers section of ${docPath}`)
  return analysis
}

if (argv.includes('--report')) {
  writeDocs(readJson(join(resultsDir, 'peers-runs.json')))
  process.exit(0)
}

const level = { concurrency, warmupMs, measureMs, valueBytes: VALUE_BYTES }
const fmt = (row) => `${row.commitsPerSec} commits/s  p50 ${row.latency.p50Us} µs  p99 ${row.latency.p99Us} µs  p99.9 ${row.latency.p999Us} µs${row.errors > 0 ? `  errors ${row.errors}` : ''}`

/** One round of a peer: a fresh cluster (`start`) for each concurrency level, loaded by `load`. */
async function freshClusterPerLevel (label, start, load) {
  const rows = []
  for (const c of concurrency) {
    const cluster = await start()
    try {
      const row = await load(cluster, c)
      rows.push(row)
      log(`${label} c=${c}: ${fmt(row)}`)
    } finally { await cluster.stop() }
  }
  return rows
}

/** Each system: how to prepare it once, and how to run one round (all concurrency levels). */
function quorateSystem (insecure) {
  return {
    label: insecure ? 'quorate (plain TCP)' : 'quorate',
    security: insecure ? 'insecure' : 'mtls',
    setup: `B2: 3 node processes, tcpTransport on 127.0.0.1 (${insecure ? 'plain TCP, insecure: true' : 'mutual TLS, certificates from createDevCertificates'}), classic-level with sync, closed-loop client in a 4th process over 4 plain connections to the leader`,
    version: readJson(join(root, 'package.json')).version,
    prepare: () => null,
    async round (run) {
      const out = `${outName}-quorate${insecure ? '-insecure' : ''}-run${run}`
      execFileSync('node', [join(root, 'dist/bench/cluster-tcp.js'), '--concurrency', concurrency.join(','), '--warmup-ms', String(warmupMs), '--measure-ms', String(measureMs), '--out', out, ...(insecure ? ['--insecure'] : [])], { stdio: 'inherit' })
      const file = join(resultsDir, `${out}.json`)
      const rows = readJson(file).rows
      rmSync(file)
      return rows
    }
  }
}

function etcdSystem (tls) {
  let binary = null
  return {
    label: tls ? 'etcd' : 'etcd (plain)',
    security: tls ? 'tls' : 'insecure',
    setup: `3 members on 127.0.0.1, fsync on (etcd default), ${tls ? 'https peer and client URLs with client-certificate authentication (--client-cert-auth, --peer-client-cert-auth)' : 'plain http peer and client URLs'}; bench/peers/etcd-load (clientv3 Put to the leader, 4 connections)`,
    version: 'unknown',
    prepare () {
      const reason = ensureEtcd()
      if (reason !== null) return reason
      try { binary = buildEtcdLoad() } catch (err) { return `building bench/peers/etcd-load failed: ${err.message}` }
      return null
    },
    async round () {
      return await freshClusterPerLevel(this.label, async () => {
        const cluster = await startEtcd({ tls })
        this.version = cluster.version
        return cluster
      }, async (cluster, c) => runEtcdLoad(binary, cluster, { ...level, concurrency: c }))
    }
  }
}

function hashicorpSystem (tls) {
  let binary = null
  return {
    label: tls ? 'hashicorp/raft' : 'hashicorp/raft (plain TCP)',
    security: tls ? 'mtls' : 'insecure',
    setup: `3 processes of bench/peers/hashicorp-raft: NetworkTransport on 127.0.0.1 (${tls ? 'mutual TLS stream layer' : 'raft.NewTCPTransport, plain TCP'}), raft-boltdb with fsync behind a 512-entry LogCache, file snapshots, default config; driven by quorate's closed-loop client (dist/bench/tcp-client.js, 4 connections to the leader)`,
    version: 'unknown',
    prepare () {
      const reason = ensureHashicorpRaft()
      if (reason !== null) return reason
      try { binary = buildHashicorpRaft() } catch (err) { return `building bench/peers/hashicorp-raft failed: ${err.message}` }
      this.version = hashicorpRaftVersion()
      return null
    },
    async round () {
      return await freshClusterPerLevel(this.label, async () => await startHashicorpRaft(binary, { tls }),
        async (cluster, c) => await runHashicorpLoad(cluster, { ...level, concurrency: c }))
    }
  }
}

function skiffSystem () {
  const dir = join(root, 'bench/peers/skiff')
  return {
    label: 'skiff',
    security: 'insecure',
    setup: '3 nodes in one process, skiff TCP network on 127.0.0.1 (plain), leveldown with skiff\'s own (non-sync) writes',
    version: 'unknown',
    prepare () {
      try {
        if (!existsSync(join(dir, 'node_modules/skiff'))) {
          log('installing skiff 1.10 into bench/peers/skiff (its own package.json, with overrides)')
          execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save'], { cwd: dir, stdio: 'inherit' })
        }
      } catch (err) { return `npm install in bench/peers/skiff failed: ${err.message}` }
      this.version = readJson(join(dir, 'node_modules/skiff/package.json')).version
      return null
    },
    async round () {
      // Rows are read as they are printed, so a level that hangs does not lose the others.
      const r = spawnSync('node', ['run.js', '--concurrency', concurrency.join(','), '--warmup-ms', String(warmupMs), '--measure-ms', String(measureMs)], {
        cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: (warmupMs + measureMs + 30_000) * concurrency.length, killSignal: 'SIGKILL'
      })
      const rows = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
      for (const row of rows) log(`skiff c=${row.concurrency}: ${fmt(row)}${row.unanswered > 0 ? `  (${row.unanswered} puts never answered)` : ''}`)
      if (rows.length < concurrency.length) throw Object.assign(new Error(`skiff: no result at some levels: ${r.error?.message ?? `exit ${r.status}`}`), { rows })
      return rows
    }
  }
}

const factories = {
  quorate: () => quorateSystem(false),
  'quorate-insecure': () => quorateSystem(true),
  etcd: () => etcdSystem(true),
  'etcd-insecure': () => etcdSystem(false),
  'hashicorp-raft': () => hashicorpSystem(true),
  'hashicorp-raft-insecure': () => hashicorpSystem(false),
  skiff: skiffSystem
}

/** The floor beside round `run`, at the batch size B2's leader wrote at high concurrency so far. */
function measureFloor (quorateRuns) {
  const high = concurrency.includes(256) ? 256 : Math.max(...concurrency)
  const batch = quorateRuns === undefined ? 1 : (leaderBatchEntries({ runs: quorateRuns }, high) ?? 1)
  const out = execFileSync('node', [join(root, 'dist/bench/raw-limits.js'), '--floor', '--batch', String(batch), '--duration-ms', quick ? '500' : '3000'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const floor = JSON.parse(out.trim().split('\n').pop())
  log(`floor: fsync p50 ${floor.fsync.p50Us} µs (append + fdatasync ${floor.appendSync?.p50Us} µs), loopback RTT p50 ${floor.loopbackRtt.p50Us} µs, classic-level sync batches of ${batch}: ${floor.levelBatch.entriesPerSec} entries/s`)
  return floor
}

const startLoad = loadavg()[0]
const systems = {}
const entries = {}
for (const key of only) {
  const s = factories[key]()
  log(`preparing ${s.label}`)
  const reason = s.prepare()
  systems[key] = s
  entries[key] = { label: s.label, version: s.version, setup: s.setup, security: s.security, available: reason === null, ...(reason === null ? {} : { reason }), runs: [], failures: [] }
  if (reason !== null) log(`${s.label}: NOT MEASURED — ${reason}`)
}
const floorRuns = []
let floorReason
for (let run = 1; run <= runs; run++) {
  log(`round ${run} of ${runs}`)
  // The order rotates by one system per round, so that a drift in the machine's load over a
  // round does not always favour the same system.
  const order = only.map((_, i) => only[(i + run - 1) % only.length])
  for (const key of order) {
    const e = entries[key]
    if (!e.available) continue
    log(`${e.label}, round ${run}`)
    try {
      e.runs.push(await systems[key].round(run))
    } catch (err) {
      // A failed round keeps what it measured (skiff) and says why the rest is missing.
      e.runs.push(err.rows ?? [])
      e.failures.push(`round ${run}: ${err.message.split('\n')[0]}`)
      log(`${e.label} round ${run} failed: ${err.message}`)
    }
    e.version = systems[key].version
  }
  try { floorRuns.push(measureFloor(entries.quorate?.runs)) } catch (err) { floorRuns.push(null); floorReason = `raw-limits --floor failed: ${err.message}` }
}

const result = {
  name: 'quorate vs etcd vs hashicorp/raft vs skiff, closed loop, medians of fresh-cluster runs',
  date: new Date().toISOString(),
  command: `npm run bench:peers${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
  quick,
  runs,
  warmupMs,
  measureMs,
  valueBytes: VALUE_BYTES,
  concurrency,
  loadAverage1m: { start: +startLoad.toFixed(2), end: +loadavg()[0].toFixed(2) },
  systems: entries,
  floor: { runs: floorRuns, ...(floorReason === undefined ? {} : { reason: floorReason }) }
}
mkdirSync(resultsDir, { recursive: true })
writeFileSync(join(resultsDir, `${outName}.json`), JSON.stringify(result, null, 2) + '\n')
const analysis = outName === 'peers-runs' ? writeDocs(result) : analyzePeers(result, storageRatios())
console.log(`\ntargets (medians of ${runs} run${runs === 1 ? '' : 's'}${quick ? ', QUICK: not figures' : ''}; c=${highConcurrency(result)} stands for high concurrency):`)
for (const t of analysis.targets) {
  const m = t.measured === null || t.measured.n === 0 ? 'not measured' : `${t.measured.median.toFixed(t.target.includes('×') ? 2 : 0)} (${t.measured.min.toFixed(2)}–${t.measured.max.toFixed(2)}, n=${t.measured.n})`
  console.log(`  ${t.status.padEnd(12)} ${t.figure} ${t.target}: ${m}`)
}

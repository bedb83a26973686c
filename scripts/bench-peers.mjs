#!/usr/bin/env node
/**
 * `npm run bench:peers`: quorate (B2: 3 node processes, TCP loopback, classic-level with
 * fsync), etcd 3.4 (Debian's etcd-server: 3 members on loopback, fsync on, driven by
 * bench/peers/etcd-load built against Debian's clientv3 sources) and skiff 1.10 (npm, 3 nodes
 * in one process) at the same value size and concurrency, one after the other in one run.
 * Installs what is missing (apt-get for etcd and Go, npm install in bench/peers/skiff). A peer
 * that cannot be installed or run is reported as such; no number is ever substituted.
 * Writes bench/results/peers.json and regenerates the tables in docs/benchmarks.md.
 *
 *   npm run bench:peers [-- --concurrency 1,16,256 --warmup-ms 2000 --measure-ms 10000 --only etcd,skiff,quorate --out peers]
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildEtcdLoad, ensureEtcdPackages, startEtcd } from '../bench/peers/etcd.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const argv = process.argv.slice(2)
const flag = (f, d) => { const i = argv.indexOf(f); return i >= 0 ? argv[i + 1] : d }
const concurrency = flag('--concurrency', '1,16,256').split(',').map(Number)
const warmupMs = Number(flag('--warmup-ms', '2000'))
const measureMs = Number(flag('--measure-ms', '10000'))
const only = new Set(flag('--only', 'quorate,etcd,skiff').split(','))
/** Result file name; anything but the default leaves docs/benchmarks.md alone (for trial runs). */
const outName = flag('--out', 'peers')
const log = (...a) => console.log('[bench:peers]', ...a)

function run (cmd, args, options = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024, ...options })
}

async function benchEtcd () {
  const reason = ensureEtcdPackages()
  if (reason !== null) return { available: false, reason }
  let binary
  try { binary = buildEtcdLoad() } catch (err) { return { available: false, reason: `building bench/peers/etcd-load failed: ${err.message}` } }
  const rows = []
  let version = 'unknown'
  for (const c of concurrency) {
    const cluster = await startEtcd()
    version = cluster.version
    try {
      // Clients talk to the leader directly, as quorate's clients do.
      const out = run(binary, ['-endpoints', cluster.leaderEndpoint, '-concurrency', String(c), '-conns', String(Math.min(4, c)), '-value', '100', '-warmup', `${warmupMs}ms`, '-measure', `${measureMs}ms`])
      const row = JSON.parse(out.trim().split('\n').pop())
      rows.push(row)
      log(`etcd ${version} c=${c}: ${row.commitsPerSec} commits/s  p50 ${row.latency.p50Us} µs  p99 ${row.latency.p99Us} µs  p99.9 ${row.latency.p999Us} µs`)
    } finally { await cluster.stop() }
  }
  return { available: true, version, setup: '3 members on 127.0.0.1, fsync on (etcd default), clientv3 Put to the leader, 4 connections', rows }
}

function benchSkiff () {
  const dir = join(root, 'bench/peers/skiff')
  try {
    if (!existsSync(join(dir, 'node_modules/skiff'))) {
      log('installing skiff 1.10 into bench/peers/skiff (its own package.json, with overrides)')
      execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save'], { cwd: dir, stdio: 'inherit' })
    }
  } catch (err) { return { available: false, reason: `npm install in bench/peers/skiff failed: ${err.message}` } }
  const version = JSON.parse(readFileSync(join(dir, 'node_modules/skiff/package.json'), 'utf8')).version
  // Rows are read as they are printed, so a level that hangs does not lose the others.
  const r = spawnSync('node', ['run.js', '--concurrency', concurrency.join(','), '--warmup-ms', String(warmupMs), '--measure-ms', String(measureMs)], {
    cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: (warmupMs + measureMs + 30_000) * concurrency.length, killSignal: 'SIGKILL'
  })
  const rows = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
  for (const row of rows) log(`skiff c=${row.concurrency}: ${row.commitsPerSec} commits/s  p50 ${row.latency.p50Us} µs  p99 ${row.latency.p99Us} µs  p99.9 ${row.latency.p999Us} µs${row.unanswered > 0 ? `  (${row.unanswered} puts never answered)` : ''}`)
  if (rows.length === 0) return { available: false, reason: `skiff run failed: ${r.error?.message ?? `exit ${r.status}`}` }
  const missing = concurrency.filter((c) => !rows.some((row) => row.concurrency === c))
  return {
    available: true,
    version,
    setup: '3 nodes in one process, skiff TCP network on 127.0.0.1, leveldown with skiff\'s own (non-sync) writes',
    rows,
    ...(missing.length > 0 ? { missing: `no result at concurrency ${missing.join(', ')}: ${r.error?.message ?? `exit ${r.status}`}` } : {})
  }
}

function benchQuorate () {
  try {
    execFileSync('node', [join(root, 'dist/bench/cluster-tcp.js'), '--concurrency', concurrency.join(','), '--warmup-ms', String(warmupMs), '--measure-ms', String(measureMs), '--out', `${outName}-quorate`], { stdio: 'inherit' })
    const r = JSON.parse(readFileSync(join(root, 'bench/results', `${outName}-quorate.json`), 'utf8'))
    return { available: true, version: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version, setup: '3 node processes, TCP loopback, classic-level with sync, client in a 4th process (B2)', rows: r.rows }
  } catch (err) { return { available: false, reason: `quorate B2 failed: ${err.message}` } }
}

const startLoad = loadavg()[0]
const peers = {}
if (only.has('quorate')) { log('quorate (B2)'); peers.quorate = benchQuorate() }
if (only.has('etcd')) { log('etcd'); try { peers.etcd = await benchEtcd() } catch (err) { peers.etcd = { available: false, reason: err.message } } }
if (only.has('skiff')) { log('skiff'); peers.skiff = benchSkiff() }

const ratios = []
for (const c of concurrency) {
  const q = peers.quorate?.rows?.find((r) => r.concurrency === c)
  for (const name of ['etcd', 'skiff']) {
    const p = peers[name]
    if (p === undefined) continue
    if (!p.available) continue
    const r = p.rows.find((x) => x.concurrency === c)
    if (q === undefined || r === undefined) continue
    ratios.push({ peer: name, concurrency: c, throughputRatio: +(q.commitsPerSec / r.commitsPerSec).toFixed(2), p50Ratio: +(q.latency.p50Us / r.latency.p50Us).toFixed(2) })
  }
}
console.log('\nquorate / peer (throughput ratio > 1 is better for quorate; p50 ratio < 1 is better for quorate)')
for (const name of ['etcd', 'skiff']) {
  const p = peers[name]
  if (p !== undefined && !p.available) console.log(`  ${name}: NOT MEASURED — ${p.reason}`)
}
for (const r of ratios) console.log(`  vs ${r.peer.padEnd(5)} c=${String(r.concurrency).padStart(3)}: throughput ×${r.throughputRatio}  p50 ×${r.p50Ratio}`)

mkdirSync(join(root, 'bench/results'), { recursive: true })
writeFileSync(join(root, 'bench/results', `${outName}.json`), JSON.stringify({
  name: 'quorate vs etcd vs skiff, closed loop, 100-byte values',
  date: new Date().toISOString(),
  command: 'npm run bench:peers',
  warmupMs, measureMs, concurrency,
  loadAverage1m: { start: +startLoad.toFixed(2), end: +loadavg()[0].toFixed(2) },
  peers,
  ratios
}, null, 2) + '\n')
if (outName === 'peers') execFileSync('node', [join(root, 'scripts/bench-report.mjs')], { stdio: 'inherit' })

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
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const argv = process.argv.slice(2)
const flag = (f, d) => { const i = argv.indexOf(f); return i >= 0 ? argv[i + 1] : d }
const concurrency = flag('--concurrency', '1,16,256').split(',').map(Number)
const warmupMs = Number(flag('--warmup-ms', '2000'))
const measureMs = Number(flag('--measure-ms', '10000'))
const only = new Set(flag('--only', 'quorate,etcd,skiff').split(','))
/** Result file name; anything but the default leaves docs/benchmarks.md alone (for trial runs). */
const outName = flag('--out', 'peers')
const GOCODE = '/usr/share/gocode'
const CLIENTV3 = join(GOCODE, 'src/go.etcd.io/etcd/clientv3')
const log = (...a) => console.log('[bench:peers]', ...a)

function have (cmd) {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true } catch { return false }
}

function run (cmd, args, options = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024, ...options })
}

/** apt-get install of what etcd and its load generator need; returns a reason string if impossible. */
function ensureEtcdPackages () {
  const missing = []
  if (!have('etcd')) missing.push('etcd-server')
  if (!have('go')) missing.push('golang-go')
  if (!existsSync(CLIENTV3)) missing.push('golang-etcd-server-dev')
  if (missing.length === 0) return null
  if (process.getuid?.() !== 0 && !have('sudo')) return `missing ${missing.join(', ')} and not root (apt-get install -y ${missing.join(' ')})`
  const sudo = process.getuid?.() === 0 ? [] : ['sudo']
  log(`installing ${missing.join(' ')} with apt-get`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const aptGet = (...args) => execFileSync(sudo.length > 0 ? 'sudo' : 'apt-get', [...(sudo.length > 0 ? ['apt-get'] : []), ...args], { stdio: 'inherit', env })
  try {
    try {
      aptGet('install', '-y', '--no-install-recommends', ...missing)
    } catch {
      // A fresh machine may have no package lists yet.
      aptGet('update')
      aptGet('install', '-y', '--no-install-recommends', ...missing)
    }
  } catch (err) {
    return `apt-get install ${missing.join(' ')} failed: ${err.message}`
  }
  if (!have('etcd') || !have('go') || !existsSync(CLIENTV3)) return `apt-get ran but ${missing.join(', ')} are still missing`
  return null
}

/** Builds bench/peers/etcd-load in GOPATH mode against Debian's sources (no module download). */
function buildEtcdLoad () {
  const gopath = mkdtempSync(join(tmpdir(), 'quorate-gopath-'))
  const out = join(tmpdir(), 'quorate-etcd-load')
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: `${gopath}:${GOCODE}`, GOFLAGS: '', GOPROXY: 'off', GOCACHE: join(tmpdir(), 'quorate-go-cache') }
  try {
    execFileSync('go', ['build', '-o', out, '.'], { cwd: join(root, 'bench/peers/etcd-load'), env, stdio: 'inherit' })
  } finally { rmSync(gopath, { recursive: true, force: true }) }
  return out
}

async function freePorts (n) {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const s = createServer(); s.once('error', reject); s.listen(0, '127.0.0.1', () => resolve(s))
  })))
  const ports = servers.map((s) => s.address().port)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Three etcd members on loopback (fsync is etcd's default and is left on). */
async function startEtcd () {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-etcd-'))
  const ports = await freePorts(6)
  const names = ['e1', 'e2', 'e3']
  const initial = names.map((n, i) => `${n}=http://127.0.0.1:${ports[3 + i]}`).join(',')
  const procs = names.map((name, i) => spawn('etcd', [
    '--name', name, '--data-dir', join(dir, name),
    '--listen-client-urls', `http://127.0.0.1:${ports[i]}`, '--advertise-client-urls', `http://127.0.0.1:${ports[i]}`,
    '--listen-peer-urls', `http://127.0.0.1:${ports[3 + i]}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${ports[3 + i]}`,
    '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'quorate-bench',
    '--log-level', 'error', '--logger', 'zap'
  ], { stdio: ['ignore', 'ignore', 'pipe'] }))
  let stderr = ''
  for (const p of procs) p.stderr.on('data', (d) => { stderr += d })
  const stop = async () => {
    for (const p of procs) p.kill('SIGTERM')
    await Promise.all(procs.map((p) => p.exitCode !== null ? null : new Promise((resolve) => p.once('exit', resolve))))
    rmSync(dir, { recursive: true, force: true })
  }
  // The leader: ask each member's grpc-gateway for its status.
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    try {
      const status = await Promise.all(ports.slice(0, 3).map(async (port) => {
        const r = await fetch(`http://127.0.0.1:${port}/v3/maintenance/status`, { method: 'POST', body: '{}' })
        return await r.json()
      }))
      const leaderId = status[0]?.leader
      const i = status.findIndex((s) => s.header?.member_id === leaderId)
      if (leaderId !== undefined && leaderId !== '0' && i >= 0 && status.every((s) => s.leader === leaderId)) {
        return { leaderEndpoint: `127.0.0.1:${ports[i]}`, stop, version: status[i].version }
      }
    } catch {}
    await sleep(100)
  }
  await stop()
  throw new Error(`etcd cluster did not elect a leader in 30 s: ${stderr.slice(-2000)}`)
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

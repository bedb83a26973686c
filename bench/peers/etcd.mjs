/**
 * The etcd peer of the benchmarks, shared by scripts/bench-peers.mjs and bench/ha-b2.ts:
 * installing etcd and its load generator from Debian's packages, building
 * bench/peers/etcd-load (GOPATH mode, no module download), starting and stopping a
 * three-member cluster on loopback (fsync on, etcd's default) and running the load generator
 * against its leader. Moved here from scripts/bench-peers.mjs unchanged, plus runEtcdLoad.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const log = (...a) => console.log('[etcd]', ...a)

const GOCODE = '/usr/share/gocode'
const CLIENTV3 = join(GOCODE, 'src/go.etcd.io/etcd/clientv3')

function have (cmd) {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true } catch { return false }
}

/** apt-get install of what etcd and its load generator need; returns a reason string if impossible. */
export function ensureEtcdPackages () {
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
export function buildEtcdLoad () {
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
export async function startEtcd () {
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

/**
 * One closed-loop run of the etcd-load `binary` against `endpoint` (the leader): `concurrency`
 * clients Putting fresh keys with `valueBytes`-byte values over min(4, concurrency)
 * connections. Returns its result row (the same shape as bench/closed-loop.ts's).
 */
export function runEtcdLoad (binary, endpoint, { concurrency, valueBytes = 100, warmupMs, measureMs }) {
  const out = execFileSync(binary, ['-endpoints', endpoint, '-concurrency', String(concurrency), '-conns', String(Math.min(4, concurrency)), '-value', String(valueBytes), '-warmup', `${warmupMs}ms`, '-measure', `${measureMs}ms`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 })
  return JSON.parse(out.trim().split('\n').pop())
}

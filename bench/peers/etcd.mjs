/**
 * etcd 3.4 for the peers benchmark (moved out of scripts/bench-peers.mjs): Debian's
 * etcd-server as three members on loopback with fsync on (etcd's default), and the
 * closed-loop load generator bench/peers/etcd-load built against Debian's clientv3 sources.
 * With `tls`, both the peer URLs and the client URLs are https with client-certificate
 * authentication (mutual TLS on both, etcd's documented secure setup); without, plain http.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLoopbackCertificates } from './certs.mjs'
import { binDir, ensurePackages, freePorts, GOCODE, goBuild, have, sleep, stopAll } from './tools.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))
const CLIENTV3 = join(GOCODE, 'src/go.etcd.io/etcd/clientv3')
const NAMES = ['e1', 'e2', 'e3']

/** Installs etcd-server, Go and clientv3's sources when missing; a reason string if impossible. */
export function ensureEtcd () {
  return ensurePackages({ 'etcd-server': () => have('etcd'), 'golang-go': () => have('go'), 'golang-etcd-server-dev': () => existsSync(CLIENTV3) })
}

/** Builds bench/peers/etcd-load; returns the binary's path. */
export function buildEtcdLoad () {
  return goBuild(join(here, 'etcd-load'), join(binDir(), 'etcd-load'))
}

/** POSTs a JSON body to etcd's grpc-gateway and parses the answer. */
function postJson (url, body, tls) {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest
  const options = { method: 'POST', timeout: 2000, ...(tls === null ? {} : { ca: readFileSync(tls.ca), cert: readFileSync(tls.client.cert), key: readFileSync(tls.client.key) }) }
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => { text += d })
      res.on('end', () => { try { resolve(JSON.parse(text)) } catch (err) { reject(err) } })
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

/**
 * Starts three members and waits until all agree on a leader.
 * @param {{ tls: boolean }} options
 * @returns {Promise<{ leaderEndpoint: string, loadArgs: string[], version: string, stop: () => Promise<void> }>}
 */
export async function startEtcd ({ tls }) {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-etcd-'))
  const scheme = tls ? 'https' : 'http'
  let certs = null
  if (tls) {
    const made = createLoopbackCertificates(join(dir, 'certs'), [...NAMES, 'client'])
    certs = { ca: made.ca, member: made.files, client: made.files('client') }
  }
  const ports = await freePorts(6)
  const client = (i) => `${scheme}://127.0.0.1:${ports[i]}`
  const peer = (i) => `${scheme}://127.0.0.1:${ports[3 + i]}`
  const initial = NAMES.map((n, i) => `${n}=${peer(i)}`).join(',')
  const tlsFlags = (name) => certs === null
    ? []
    : [
        '--cert-file', certs.member(name).cert, '--key-file', certs.member(name).key, '--trusted-ca-file', certs.ca, '--client-cert-auth',
        '--peer-cert-file', certs.member(name).cert, '--peer-key-file', certs.member(name).key, '--peer-trusted-ca-file', certs.ca, '--peer-client-cert-auth'
      ]
  const procs = NAMES.map((name, i) => spawn('etcd', [
    '--name', name, '--data-dir', join(dir, name),
    '--listen-client-urls', client(i), '--advertise-client-urls', client(i),
    '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i),
    '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'quorate-bench',
    ...tlsFlags(name),
    '--log-level', 'error', '--logger', 'zap'
  ], { stdio: ['ignore', 'ignore', 'pipe'] }))
  let stderr = ''
  for (const p of procs) p.stderr.on('data', (d) => { stderr += d })
  const stop = async () => {
    await stopAll(procs)
    rmSync(dir, { recursive: true, force: true })
  }
  const loadTls = certs === null ? [] : ['-cacert', certs.ca, '-cert', certs.client.cert, '-key', certs.client.key]
  // The leader: ask each member's grpc-gateway for its status.
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    try {
      const status = await Promise.all(NAMES.map(async (_, i) => await postJson(`${client(i)}/v3/maintenance/status`, {}, certs)))
      const leaderId = status[0]?.leader
      const i = status.findIndex((s) => s.header?.member_id === leaderId)
      if (leaderId !== undefined && leaderId !== '0' && i >= 0 && status.every((s) => s.leader === leaderId)) {
        return { leaderEndpoint: client(i), loadArgs: loadTls, version: status[i].version, stop }
      }
    } catch {}
    await sleep(100)
  }
  await stop()
  throw new Error(`etcd cluster did not elect a leader in 30 s: ${stderr.slice(-2000)}`)
}

/** One closed-loop run of etcd-load against the leader; returns its JSON row. */
export function runEtcdLoad (binary, cluster, { concurrency, warmupMs, measureMs, valueBytes }) {
  const out = execFileSync(binary, [
    '-endpoints', cluster.leaderEndpoint, '-concurrency', String(concurrency), '-conns', String(Math.min(4, concurrency)),
    '-value', String(valueBytes), '-warmup', `${warmupMs}ms`, '-measure', `${measureMs}ms`, ...cluster.loadArgs
  ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024, timeout: warmupMs + measureMs + 60_000 })
  return JSON.parse(out.trim().split('\n').pop())
}

/**
 * hashicorp/raft for the peers benchmark: three processes of bench/peers/hashicorp-raft
 * (its NetworkTransport over TCP — mutual TLS on a TLS stream layer with `tls`, plain
 * raft.NewTCPTransport without — raft-boltdb with fsync, a counting FSM), built in GOPATH
 * mode against Debian's golang-github-hashicorp-raft-dev and -raft-boltdb-dev. They speak
 * the benchmark's client protocol (bench/client-wire.ts), so quorate's own closed-loop
 * driver (dist/bench/tcp-client.js, 4 connections to the leader) measures them.
 */
import { execFileSync, fork, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createLoopbackCertificates } from './certs.mjs'
import { binDir, ensurePackages, freePorts, GOCODE, goBuild, have, stopAll } from './tools.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))
const root = fileURLToPath(new URL('../..', import.meta.url))
const RAFT_SRC = join(GOCODE, 'src/github.com/hashicorp/raft')
const NAMES = ['h1', 'h2', 'h3']
const CONNECTIONS = 4

export function ensureHashicorpRaft () {
  return ensurePackages({
    'golang-go': () => have('go'),
    'golang-github-hashicorp-raft-dev': () => existsSync(RAFT_SRC),
    'golang-github-hashicorp-raft-boltdb-dev': () => existsSync(join(GOCODE, 'src/github.com/hashicorp/raft-boltdb'))
  })
}

export function buildHashicorpRaft () {
  return goBuild(join(here, 'hashicorp-raft'), join(binDir(), 'hashicorp-raft'))
}

/** The Debian package versions of hashicorp/raft and raft-boltdb (the sources carry none). */
export function hashicorpRaftVersion () {
  const version = (pkg) => {
    try { return execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' }).trim() } catch { return 'unknown' }
  }
  return `${version('golang-github-hashicorp-raft-dev')} (raft-boltdb ${version('golang-github-hashicorp-raft-boltdb-dev')})`
}

/**
 * Starts three members and resolves once one reports it is leader.
 * @returns {Promise<{ leaderClientPort: number, stop: () => Promise<void> }>}
 */
export async function startHashicorpRaft (binary, { tls }) {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-hraft-'))
  const certs = tls ? createLoopbackCertificates(join(dir, 'certs'), NAMES) : null
  const ports = await freePorts(NAMES.length * 2)
  const members = NAMES.map((n, i) => `${n}=127.0.0.1:${ports[i]}`).join(',')
  let stderr = ''
  let onLeader = () => {}
  const leader = new Promise((resolve) => { onLeader = resolve })
  const procs = NAMES.map((name, i) => {
    const p = spawn(binary, [
      '-id', name, '-raft', `127.0.0.1:${ports[i]}`, '-client', `127.0.0.1:${ports[NAMES.length + i]}`,
      '-dir', join(dir, name), '-members', members,
      ...(certs === null ? [] : ['-tls-ca', certs.ca, '-tls-cert', certs.files(name).cert, '-tls-key', certs.files(name).key])
    ], { stdio: ['pipe', 'pipe', 'pipe'] })
    p.stderr.on('data', (d) => { stderr += d })
    createInterface({ input: p.stdout }).on('line', (line) => { if (line.trim() === 'leader') onLeader(i) })
    return p
  })
  const stop = async () => {
    for (const p of procs) p.stdin.end()
    await stopAll(procs)
    rmSync(dir, { recursive: true, force: true })
  }
  let timer
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(-1), 30_000) })
  const i = await Promise.race([leader, timeout])
  clearTimeout(timer)
  if (i < 0) {
    await stop()
    throw new Error(`hashicorp/raft cluster did not elect a leader in 30 s: ${stderr.slice(-2000)}`)
  }
  return { leaderClientPort: ports[NAMES.length + i], stop }
}

/** One closed-loop run of quorate's driver (dist/bench/tcp-client.js) against the leader. */
export async function runHashicorpLoad (cluster, { concurrency, warmupMs, measureMs }) {
  const child = fork(join(root, 'dist/bench/tcp-client.js'), [JSON.stringify({
    port: cluster.leaderClientPort, concurrency, warmupMs, measureMs, connections: Math.min(CONNECTIONS, concurrency)
  })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('hashicorp/raft load did not finish in time')) }, warmupMs + measureMs + 60_000)
    child.on('message', (m) => { if (m?.result !== undefined) { clearTimeout(timer); resolve(m.result) } })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`load generator exited (${code}) without a result`)) })
  })
}

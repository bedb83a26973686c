/**
 * What the peer launchers share: installing Debian packages when missing, building a Go
 * program in GOPATH mode against Debian's sources under /usr/share/gocode (no module
 * download), free loopback ports, and waiting for a child's line on stdout.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const GOCODE = '/usr/share/gocode'
export const log = (...a) => console.log('[bench:peers]', ...a)
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export function have (cmd) {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true } catch { return false }
}

/**
 * apt-get install of the packages whose check fails ({ package: () => boolean }); returns a
 * reason string if they cannot be had, null when all are there.
 */
export function ensurePackages (checks) {
  const missing = Object.entries(checks).filter(([, ok]) => !ok()).map(([name]) => name)
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
  const still = Object.entries(checks).filter(([, ok]) => !ok()).map(([name]) => name)
  return still.length === 0 ? null : `apt-get ran but ${still.join(', ')} are still missing`
}

let bin = null
/**
 * A directory of this process's own for built binaries, removed at exit: a fixed path under
 * /tmp would be shared with every other checkout on the machine running the benchmark.
 */
export function binDir () {
  if (bin === null) {
    bin = mkdtempSync(join(tmpdir(), 'quorate-peers-bin-'))
    process.once('exit', () => rmSync(bin, { recursive: true, force: true }))
  }
  return bin
}

/** Builds the Go program in `dir` to `out` in GOPATH mode against Debian's sources. */
export function goBuild (dir, out) {
  const gopath = mkdtempSync(join(tmpdir(), 'quorate-gopath-'))
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: `${gopath}:${GOCODE}`, GOFLAGS: '', GOPROXY: 'off', GOCACHE: join(tmpdir(), 'quorate-go-cache') }
  try {
    execFileSync('go', ['build', '-o', out, '.'], { cwd: dir, env, stdio: 'inherit' })
  } finally { rmSync(gopath, { recursive: true, force: true }) }
  return out
}

export async function freePorts (n) {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const s = createServer(); s.once('error', reject); s.listen(0, '127.0.0.1', () => resolve(s))
  })))
  const ports = servers.map((s) => s.address().port)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}

/** Stops child processes with SIGTERM (SIGKILL after `graceMs`) and waits for them to exit. */
export async function stopAll (procs, graceMs = 5000) {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM')
  await Promise.all(procs.map((p) => p.exitCode !== null || p.signalCode !== null
    ? null
    : new Promise((resolve) => {
      const timer = setTimeout(() => p.kill('SIGKILL'), graceMs)
      p.once('exit', () => { clearTimeout(timer); resolve() })
    })))
}

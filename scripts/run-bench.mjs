#!/usr/bin/env node
/**
 * `npm run bench`: the whole benchmark suite on the built output (dist/bench/*.js), one
 * process per benchmark, then the Markdown tables in docs/benchmarks.md. About 8 minutes.
 * The peers (etcd, skiff) run separately: `npm run bench:peers`.
 *
 *   npm run bench [-- --only raw-limits,quorum,log,storage-append,codec,tuples,b1,b1-level,b2,b6] [-- --trials 25]
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const argv = process.argv.slice(2)
const flag = (f, d) => { const i = argv.indexOf(f); return i >= 0 ? argv[i + 1] : d }
const trials = flag('--trials', '25')

/** name → script under dist/bench and its arguments. Order: raw limits first, while the disk is cold. */
const STEPS = [
  ['raw-limits', 'raw-limits.js', []],
  ['quorum', 'quorum.js', []],
  ['log', 'log.js', []],
  ['storage-append', 'storage-append.js', []],
  ['codec', 'codec.js', []],
  ['tuples', 'tuples.js', []],
  ['b1', 'cluster-memory.js', []],
  ['b1-level', 'cluster-memory.js', ['--storage', 'memory-level', '--concurrency', '256', '--out', 'b1-memory-level']],
  ['b2', 'cluster-tcp.js', []],
  ['b6', 'election.js', ['--trials', trials]]
]
const only = new Set(flag('--only', STEPS.map((s) => s[0]).join(',')).split(','))

const steps = []
let failed = 0
for (const [name, script, args] of STEPS) {
  if (!only.has(name)) continue
  const command = `node dist/bench/${script} ${args.join(' ')}`.trim()
  console.log(`\n=== ${name}: ${command}`)
  const load = loadavg()[0]
  const t0 = Date.now()
  const r = spawnSync('node', [join(root, 'dist/bench', script), ...args], { cwd: root, stdio: 'inherit' })
  const ok = r.status === 0
  if (!ok) failed++
  steps.push({ name, command, ok, seconds: Math.round((Date.now() - t0) / 100) / 10, loadAverage1m: { start: +load.toFixed(2), end: +loadavg()[0].toFixed(2) } })
}
// Steps run with --only replace their earlier record; the others keep theirs.
const runFile = join(root, 'bench/results/run.json')
const earlier = existsSync(runFile) ? JSON.parse(readFileSync(runFile, 'utf8')).steps ?? [] : []
const merged = [...earlier.filter((s) => !steps.some((n) => n.name === s.name)), ...steps]
  .sort((a, b) => STEPS.findIndex((s) => s[0] === a.name) - STEPS.findIndex((s) => s[0] === b.name))
mkdirSync(join(root, 'bench/results'), { recursive: true })
writeFileSync(runFile, JSON.stringify({ name: 'npm run bench', date: new Date().toISOString(), node: process.version, steps: merged }, null, 2) + '\n')
spawnSync('node', [join(root, 'scripts/bench-report.mjs')], { cwd: root, stdio: 'inherit' })
if (failed > 0) {
  console.error(`${failed} benchmark(s) failed`)
  process.exit(1)
}

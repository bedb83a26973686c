/**
 * Issue 16's end-to-end target, written to bench/results/ha-failover.json: a worker node
 * crashed → its services running elsewhere, with the coordinator, on real processes and the
 * defaults (target p50 ≤ 3 s, p99 ≤ 8 s); beside it, issue 15's coordinator host crashed → a
 * new coordinator acting.
 *
 * Each trial is one fresh run of the built demo (`node dist/demo/demo.js`): three station node
 * processes (classic-level with fsync, mutual TLS, the graph and a coordinator supervisor each),
 * `quorate-agent` worker processes running real demo services, per-run keys. The demo SIGKILLs
 * a worker (its agent and its services) and measures, from the kill, the node-dead event, the
 * coordinator's move decision and the moved services running on another worker (their pids
 * alive, as the agents report them); then it SIGKILLs the coordinator's host and measures the
 * new coordinator's first act under a higher token. A trial counts only if the demo exits 0
 * (every check passed: each service once, 0 acknowledged writes or events lost, replicas
 * agree); its summary lines are the measurements. The trials run one after another, so the
 * kill lands at a different phase of the heartbeats each time.
 *
 *   npm run build && node dist/bench/ha-failover.js [--trials 10] [--duration 4]
 */
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkFlags } from './cli.js'
import { RESULTS_DIR } from './measure.js'

const argv = process.argv.slice(2)
checkFlags('bench/ha-failover', argv, ['--trials', '--duration'])
const arg = (name: string, fallback: number): number => {
  const at = argv.indexOf(name)
  const value = at >= 0 ? Number(argv[at + 1]) : fallback
  if (!Number.isInteger(value) || value < 1) throw new Error(`bench/ha-failover: ${name} must be a positive integer, got ${argv[at + 1]}`)
  return value
}
const TRIALS = arg('--trials', 10)
const DURATION_S = arg('--duration', 4)
const DEMO = fileURLToPath(new URL('../demo/demo.js', import.meta.url))

/** The demo's summary lines this benchmark reads (demo/ha.ts writes them). */
const WORKER_LINE = /worker (\S+) killed: declared dead in (\d+) ms, services moved \(decided\) in (\d+) ms, running elsewhere in (\d+) ms/
const COORDINATOR_LINE = /coordinator host (\S+) killed: new coordinator on (\S+) in (\d+) ms, fencing token (\d+) -> (\d+)/
const WRITES_LINE = /writes: (\d+) acknowledged, lost: (\d+)/

interface Trial {
  readonly worker: string
  readonly deadMs: number
  readonly decidedMs: number
  readonly runningElsewhereMs: number
  readonly coordinatorHost: string
  readonly newCoordinatorMs: number
  readonly tokens: readonly [number, number]
  readonly writesAcknowledged: number
  readonly load1m: number
  readonly wallMs: number
}

function runDemo (): Promise<{ code: number | null, out: string, wallMs: number }> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, '--duration', String(DURATION_S)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { out += s })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, out, wallMs: performance.now() - started }))
  })
}

function parseTrial (out: string, load1m: number, wallMs: number): Trial {
  const w = WORKER_LINE.exec(out)
  const c = COORDINATOR_LINE.exec(out)
  const writes = WRITES_LINE.exec(out)
  if (w === null || c === null || writes === null) throw new Error(`bench/ha-failover: the demo's summary lacks ${w === null ? 'the worker line' : c === null ? 'the coordinator line' : 'the writes line'}; its output ends:\n${out.slice(-2000)}`)
  if (Number(writes[2]) !== 0) throw new Error(`bench/ha-failover: the demo lost ${writes[2]} acknowledged writes`)
  return {
    worker: w[1]!,
    deadMs: Number(w[2]),
    decidedMs: Number(w[3]),
    runningElsewhereMs: Number(w[4]),
    coordinatorHost: c[1]!,
    newCoordinatorMs: Number(c[3]),
    tokens: [Number(c[4]), Number(c[5])],
    writesAcknowledged: Number(writes[1]),
    load1m,
    wallMs: Math.round(wallMs)
  }
}

/** Nearest-rank percentiles; with 10 trials p99 is the slowest one. */
function stats (xs: readonly number[]): { count: number, p50Ms: number, p99Ms: number, minMs: number, maxMs: number } {
  const s = [...xs].sort((a, b) => a - b)
  const rank = (p: number): number => s[Math.max(0, Math.ceil(p * s.length) - 1)]!
  return { count: s.length, p50Ms: rank(0.5), p99Ms: rank(0.99), minMs: s[0]!, maxMs: s[s.length - 1]! }
}

const trials: Trial[] = []
const loadStart = loadavg()[0]!
for (let i = 1; i <= TRIALS; i++) {
  const load1m = +loadavg()[0]!.toFixed(2)
  const { code, out, wallMs } = await runDemo()
  if (code !== 0) throw new Error(`bench/ha-failover: trial ${i}: the demo exited ${code}; its output ends:\n${out.slice(-2000)}`)
  const trial = parseTrial(out, load1m, wallMs)
  trials.push(trial)
  console.log(`trial ${i}/${TRIALS} (load ${load1m}): ${trial.worker} dead ${trial.deadMs} ms, decided ${trial.decidedMs} ms, running elsewhere ${trial.runningElsewhereMs} ms; new coordinator ${trial.newCoordinatorMs} ms (token ${trial.tokens[0]} -> ${trial.tokens[1]})`)
}

const elsewhere = stats(trials.map((t) => t.runningElsewhereMs))
const result = {
  benchmark: 'ha-failover',
  date: new Date().toISOString(),
  node: process.version,
  command: `node dist/bench/ha-failover.js --trials ${TRIALS} --duration ${DURATION_S}`,
  loadAverage1m: { start: +loadStart.toFixed(2), end: +loadavg()[0]!.toFixed(2) },
  setup: 'node dist/demo/demo.js per trial: 3 station node processes (classic-level with fsync, mutual TLS, graph + coordinator supervisor), quorate-agent workers with real demo services, defaults',
  workerKilledToDead: stats(trials.map((t) => t.deadMs)),
  workerKilledToMoveDecided: stats(trials.map((t) => t.decidedMs)),
  workerKilledToRunningElsewhere: { ...elsewhere, targetP50Ms: 3000, targetP99Ms: 8000, met: elsewhere.p50Ms <= 3000 && elsewhere.p99Ms <= 8000 },
  coordinatorHostKilledToNewCoordinator: stats(trials.map((t) => t.newCoordinatorMs)),
  trials
}
console.log('worker killed -> services running elsewhere', result.workerKilledToRunningElsewhere)
console.log('coordinator host killed -> new coordinator', result.coordinatorHostKilledToNewCoordinator)
await mkdir(RESULTS_DIR, { recursive: true })
await writeFile(join(RESULTS_DIR, 'ha-failover.json'), JSON.stringify(result, null, 2) + '\n')

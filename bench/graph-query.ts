/**
 * Graph query latency at scale: N resources (default 100,000: N/10 hosts each running 9
 * services, one `runs` edge per service) answered from the local replica. Each query is timed
 * per call; every figure is the median over `--runs` runs (default 5) of that run's p50 and
 * p99. Run with `npm run build && node dist/bench/graph-query.js [--resources 100000] [--runs 5]`;
 * writes bench/results/graph-query.json.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { GraphStateMachine, byField, byKind, defineSchema, encodeCommand, follow, neighbours } from '../src/graph/index.js'
import type { GraphOp } from '../src/graph/index.js'

const argv = process.argv.slice(2)
const arg = (name: string, fallback: number): number => { const at = argv.indexOf(name); return at >= 0 ? Number(argv[at + 1]) : fallback }
const N = arg('--resources', 100_000)
const RUNS = arg('--runs', 5)
const CALLS = 200

const schema = defineSchema({
  kinds: { host: { fields: { address: 'string' } }, service: { fields: { name: 'string', port: 'integer' } } },
  relations: { runs: { from: 'host', to: 'service', outgoing: 'many', incoming: 'one' } },
  roots: ['host']
})

function populate (sm: GraphStateMachine): void {
  let index = 0
  for (let base = 0; base < N; base += 10_000) {
    const ops: GraphOp[] = []
    for (let i = base; i < Math.min(N, base + 10_000); i++) {
      if (i % 10 === 0) ops.push({ op: 'put', id: `h${i}`, kind: 'host', fields: { address: `10.0.${i % 256}.${i % 7}` } })
      else {
        ops.push({ op: 'put', id: `s${i}`, kind: 'service', fields: { name: `svc-${i}`, port: 1000 + (i % 5000) } })
        ops.push({ op: 'connect', relation: 'runs', from: `h${i - (i % 10)}`, to: `s${i}` })
      }
    }
    sm.apply(encodeCommand({ type: 'tx', time: index, expect: [], ops, trim: [] }), ++index)
  }
}

function percentile (sorted: number[], p: number): number { return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! }
function median (xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]! }

/** Times `fn` CALLS times; returns [p50, p99] in microseconds. */
function time (fn: (i: number) => unknown): [number, number] {
  const us: number[] = []
  let sink = 0
  for (let i = 0; i < CALLS; i++) {
    const t0 = process.hrtime.bigint()
    const r = fn(i)
    us.push(Number(process.hrtime.bigint() - t0) / 1000)
    sink += Array.isArray(r) ? r.length : 1
  }
  if (sink === 0) throw new Error('the queries returned nothing: the benchmark would measure nothing')
  us.sort((a, b) => a - b)
  return [percentile(us, 0.5), percentile(us, 0.99)]
}

async function main (): Promise<void> {
  const sm = new GraphStateMachine(schema)
  const t0 = Date.now()
  populate(sm)
  const populateMs = Date.now() - t0
  const g = sm.graph
  const hosts = N / 10
  const queries: Record<string, (i: number) => unknown> = {
    getById: (i) => g.get(`s${(i * 7919) % N || 1}`),
    neighboursOfHost: (i) => neighbours(g, `h${((i * 7919) % hosts) * 10}`, 'runs', 'out'),
    hostOfService: (i) => neighbours(g, `s${((i * 7919) % N) | 1}`, 'runs', 'in'),
    twoHops: (i) => follow(g, `s${((i * 7919) % N) | 1}`, [{ relation: 'runs', direction: 'in' }, { relation: 'runs', direction: 'out' }]),
    byField: (i) => byField(g, 'service', 'port', 1000 + (i % 5000)),
    byKindHosts: () => byKind(g, 'host')
  }
  const results: Record<string, { p50us: number, p99us: number, runs: Array<[number, number]> }> = {}
  for (const [name, fn] of Object.entries(queries)) {
    const runs: Array<[number, number]> = []
    for (let r = 0; r < RUNS; r++) runs.push(time(fn))
    results[name] = { p50us: median(runs.map((x) => x[0])), p99us: median(runs.map((x) => x[1])), runs }
    console.log(`${name}: p50 ${results[name].p50us.toFixed(1)} µs, p99 ${results[name].p99us.toFixed(1)} µs (median of ${RUNS} runs of ${CALLS} calls)`)
  }
  const out = { benchmark: 'graph-query', resources: N, relations: N - hosts, populateMs, callsPerRun: CALLS, runs: RUNS, queries: results, date: new Date().toISOString() }
  await mkdir('bench/results', { recursive: true })
  await writeFile('bench/results/graph-query.json', JSON.stringify(out, null, 2) + '\n')
}

await main()

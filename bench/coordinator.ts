/**
 * The recovery coordinator's targets (issue 15), machine-readable in bench/results/coordinator.json:
 *
 * - failover: the coordinator's host crashed -> a coordinator acting again on another node, in
 *   the coordinator simulation (3 and 5 real Raft nodes, virtual time, so the figure is the
 *   protocol's, not this machine's) with the supervisor's default lease (2 s); p50/p99/max over
 *   `--seeds` seeds (target: p99 <= 3 s);
 * - decision latency: `simulate` (the rules' decision, what the coordinator runs per event) at
 *   10,000 resources (500 nodes, 9,500 instances), per event, over node-dead, instance-exited and
 *   instance-started events (target: p99 <= 10 ms);
 * - replay: a new coordinator handling 10,000 untrimmed events on an in-process replica (direct
 *   submit: the coordinator's own cost, not Raft's), wall time, with the check that no command
 *   was executed twice (target: <= 1 s). The mix: 9 in 10 instance-started (a state change),
 *   1 in 10 node-alive (20 start commands each, so 20,000 commands in all).
 *
 *   npm run build && node dist/bench/coordinator.js [--seeds 40] [--events 10000] [--only failover,decision,replay] [--batch 64]
 *
 * `--batch` is the replay coordinator's batchMaxEvents (1: one event per entry, as before batching).
 *
 * `--only` runs a subset (the others are left out of the result, and the results file is not
 * written, so a partial run never replaces a full one).
 */
import { checkFlags } from './cli.js'
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { runCoordinatorSimulation } from '../src/testing/coordinator-sim/index.js'
import { GraphStateMachine } from '../src/graph/state-machine.js'
import { EventsQueue } from '../src/graph/events-client.js'
import { encodeCommand } from '../src/graph/codec.js'
import type { GraphOp } from '../src/graph/change.js'
import { encodeHaEvent } from '../src/agent/protocol.js'
import type { AgentCommand, AgentReply, HaEvent } from '../src/agent/protocol.js'
import { Coordinator, COORDINATOR_DEFAULTS, coordinatorSchema, simulate, SUPERVISOR_DEFAULTS } from '../src/coordinator/index.js'

const argv = process.argv.slice(2)
checkFlags('bench/coordinator', argv, ['--seeds', '--events', '--only', '--batch'])
const arg = (name: string, fallback: number): number => { const at = argv.indexOf(name); return at >= 0 ? Number(argv[at + 1]) : fallback }
const SEEDS = arg('--seeds', 40)
const EVENTS = arg('--events', 10_000)
const BATCH = arg('--batch', COORDINATOR_DEFAULTS.batchMaxEvents)
const PARTS = ['failover', 'decision', 'replay']
const onlyAt = argv.indexOf('--only')
const only = onlyAt >= 0 ? (argv[onlyAt + 1] ?? '').split(',') : PARTS
for (const p of only) if (!PARTS.includes(p)) throw new Error(`bench/coordinator: --only takes a comma-separated subset of ${PARTS.join(',')}, not ${JSON.stringify(p)}`)
const schema = coordinatorSchema()

function pct (xs: number[], p: number): number { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]! }

async function failover (): Promise<Record<string, unknown>> {
  const ms: number[] = []
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = await runCoordinatorSimulation({ seed, leaseMs: SUPERVISOR_DEFAULTS.durationMs, faults: [{ at: 3000, kind: 'crash-holder', downFor: 6000 }], stationNodes: seed % 2 === 0 ? 5 : 3 })
    if (!r.ok) throw new Error(`seed ${seed} failed: ${[...r.violations, ...r.liveness].join('; ')}`)
    ms.push(...r.failoverMs)
  }
  return { leaseMs: SUPERVISOR_DEFAULTS.durationMs, runs: ms.length, p50Ms: pct(ms, 0.5), p99Ms: pct(ms, 0.99), maxMs: Math.max(...ms), targetP99Ms: 3000 }
}

/** 500 nodes (kind worker, labels) and 9,500 instances, 19 per node; one Raft-free replica. */
function bigGraph (): GraphStateMachine {
  const m = new GraphStateMachine(schema)
  const ops: GraphOp[] = []
  for (let n = 0; n < 500; n++) ops.push({ op: 'put', id: `n${n}`, kind: 'ha.node', fields: { kind: 'worker', labels: n % 2 === 0 ? 'ssd' : '', state: 'up' } })
  for (let i = 0; i < 9500; i++) {
    ops.push({ op: 'put', id: `i${i}`, kind: 'ha.instance', fields: { service: '{"command":"svc"}', parameters: '{}', state: 'running', failures: 0, failuresSince: 0, attempt: 1, avoid: '{}', ...(i % 5 === 0 ? { group: `g${i % 50}` } : {}) } })
    ops.push({ op: 'connect', relation: 'ha.runs', from: `n${i % 500}`, to: `i${i}` })
  }
  m.apply(encodeCommand({ type: 'tx', time: 0, expect: [], ops, trim: [] }), 1)
  return m
}

function decisionLatency (): Record<string, unknown> {
  const m = bigGraph()
  const byType: Record<string, number[]> = { 'node-dead': [], 'instance-exited': [], 'instance-started': [] }
  for (let k = 0; k < 600; k++) {
    const events: HaEvent[] = [
      { type: 'node-dead', node: `n${k % 500}`, observer: 'm', at: 1000 },
      { type: 'instance-exited', node: `n${k % 500}`, instance: `i${k}`, exitCode: 1, signal: null, at: 1000 },
      { type: 'instance-started', node: `n${k % 500}`, instance: `i${k}`, token: 1, pid: 1, at: 1000 }
    ]
    for (const e of events) {
      const t0 = process.hrtime.bigint()
      simulate(m, e, { eventId: `b${k}` })
      byType[e.type]!.push(Number(process.hrtime.bigint() - t0) / 1e6)
    }
  }
  const all = Object.values(byType).flat()
  const out: Record<string, unknown> = { resources: 10_000, decisions: all.length, p50Ms: pct(all, 0.5), p99Ms: pct(all, 0.99), maxMs: Math.max(...all), targetP99Ms: 10 }
  for (const [t, xs] of Object.entries(byType)) out[t] = { p50Ms: pct(xs, 0.5), p99Ms: pct(xs, 0.99) }
  return out
}

async function replay (): Promise<Record<string, unknown>> {
  const m = new GraphStateMachine(schema, { events: { maxQueuedEvents: EVENTS + 10 }, historyEntries: 0 })
  let index = 0
  let bytes = 0
  const submit = async (c: Uint8Array): Promise<unknown> => { bytes += c.length; return m.apply(c, ++index) }
  const ops: GraphOp[] = []
  for (let n = 0; n < 50; n++) ops.push({ op: 'put', id: `n${n}`, kind: 'ha.node', fields: { kind: 'worker', labels: '', state: 'up' } })
  for (let i = 0; i < 1000; i++) {
    ops.push({ op: 'put', id: `i${i}`, kind: 'ha.instance', fields: { service: '{"command":"svc"}', parameters: '{}', state: 'starting', failures: 0, failuresSince: 0, attempt: 1, avoid: '{}' } })
    ops.push({ op: 'connect', relation: 'ha.runs', from: `n${i % 50}`, to: `i${i}` })
  }
  await submit(encodeCommand({ type: 'tx', time: 0, expect: [], ops, trim: [] }))
  const events = new EventsQueue({ machine: m, submit })
  for (let k = 0; k < EVENTS; k++) {
    const i = k % 1000
    const e: HaEvent = k % 10 === 9
      ? { type: 'node-alive', node: `n${k % 50}`, observer: 'm', at: 10 + k }
      : { type: 'instance-started', node: `n${i % 50}`, instance: `i${i}`, token: 1, pid: 1, at: 10 + k }
    await events.emit({ id: `e${k}`, payload: encodeHaEvent(e) })
  }
  const executed = new Map<string, number>()
  const channel = { send: async (node: string, c: AgentCommand): Promise<AgentReply> => { executed.set(`${node}/${c.id}`, (executed.get(`${node}/${c.id}`) ?? 0) + 1); return { id: c.id, ok: true, instances: [] } } }
  const stop = new AbortController()
  const coordinator = new Coordinator({ machine: m, submit, schema, channel, fence: { lease: 'bench', token: 1 }, decisionHistory: 100, batchMaxEvents: BATCH })
  const setup = { entries: index, bytes }
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  let failed: unknown
  const run = coordinator.run(stop.signal).catch((err: unknown) => { failed = err })
  while (coordinator.stats.decisions < EVENTS && failed === undefined) await new Promise<void>((resolve) => { setImmediate(resolve) })
  if (failed !== undefined) throw failed
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  const cpu = process.cpuUsage(cpu0)
  stop.abort()
  await run
  const duplicates = [...executed.values()].filter((n) => n > 1).length
  // CPU time as well: on a loaded machine it varies less than the wall time.
  return { events: EVENTS, batchMaxEvents: BATCH, ms, cpuMs: (cpu.user + cpu.system) / 1000, eventsPerSecond: Math.round(EVENTS / (ms / 1000)), entries: index - setup.entries, bytes: bytes - setup.bytes, commandsSent: coordinator.stats.sent, duplicateExecutions: duplicates, targetMs: 1000 }
}

const result = {
  benchmark: 'coordinator',
  date: new Date().toISOString(),
  node: process.version,
  loadAverage: loadavg()[0],
  ...(only.includes('failover') ? { failover: await failover() } : {}),
  ...(only.includes('decision') ? { decision: decisionLatency() } : {}),
  ...(only.includes('replay') ? { replay: await replay() } : {})
}
console.log(JSON.stringify(result, null, 2))
if (PARTS.every((p) => only.includes(p))) {
  await mkdir(new URL('../../bench/results/', import.meta.url), { recursive: true })
  await writeFile(new URL('../../bench/results/coordinator.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')
}

/**
 * Transponders at scale: the simulated targets of issue 17 side by side with the same workload
 * sent direct, plus a real run over loopback sockets.
 *
 * Simulated (virtual time, runTransponderSim): 5,000 agents heartbeating once a second behind
 * 50 transponders; core inbound messages per second in steady state (and per transponder),
 * death detection, fan-out reach, re-home time; the same workload direct; the gain as a ratio.
 *
 * Real (wall-clock, one process): `--agents` agent connections (AgentRelayClient over
 * SocketAgentLinks, plain TCP on loopback: `--tls` uses mutual TLS with per-agent dev
 * certificates, slower to set up) to `--transponders` TransponderServers uplinking in-process
 * to one TrackingStation. Measures connections held, station batches per second while the
 * agents heartbeat for `--seconds`, event acknowledgement latency through the relay, and a
 * status fan-out to every agent (time to 99% and 100% of signed replies); then the same with
 * `--tls-agents` agents over mutual TLS (unless --tls already was). Each connection is
 * two file descriptors here (both ends in one process): the ceiling is `ulimit -n` / 2.
 *
 *   npm run build && node dist/bench/transponder.js [--seed 1] [--agents 200] [--transponders 4] [--seconds 5] [--tls] [--tls-agents 20] [--real-only]
 *
 * Writes bench/results/transponder.json.
 *
 * Processes (`--processes`, transponder-real.ts): every part its own OS process — 3 quorate-node
 * processes with the graph, `--relays` quorate-transponder processes with mutual TLS uplinks,
 * `--load-processes` processes holding the agents' sockets — for each agent count of `--ramp`,
 * through the relays and direct to the core in the same run (`--insecure`: plain TCP):
 *
 *   node dist/bench/transponder.js --processes [--ramp 500,1000,2000] [--relays 4] [--load-processes 2] [--seconds 5] [--seed 1] [--insecure] [--out NAME]
 *
 * Writes bench/results/transponder-real.json (or NAME.json), again after every size of the ramp.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { runTransponderSim } from '../src/testing/transponder-sim/index.js'
import {
  AgentRelayClient, KeyRing, RelayedCommandChannel, SocketAgentLinks, TrackingStation, TransponderServer, createSigningKeys, signer
} from '../src/transponder/index.js'
import { createDevCertificates } from '../src/transport/index.js'
import { QuorateError } from '../src/errors.js'
import { checkFlags } from './cli.js'
import { writeResult } from './measure.js'
import { runProcessBench } from './transponder-real.js'

const argv = process.argv.slice(2)
checkFlags('bench/transponder', argv,
  ['--seed', '--agents', '--transponders', '--seconds', '--tls-agents', '--ramp', '--relays', '--load-processes', '--out'],
  ['--tls', '--real-only', '--processes', '--insecure'])
const arg = (name: string, fallback: number): number => { const at = argv.indexOf(name); return at >= 0 ? Number(argv[at + 1]) : fallback }
const SEED = arg('--seed', 1)
const AGENTS = arg('--agents', 200)
const TRANSPONDERS = arg('--transponders', 4)
const SECONDS = arg('--seconds', 5)
const TLS = argv.includes('--tls')
/** A second, small real run over mutual TLS (per-agent dev certificates from openssl); 0 skips it. */
const TLS_AGENTS = arg('--tls-agents', 20)
/** Only the real run (for profiling it); the results file is not written. */
const REAL_ONLY = argv.includes('--real-only')
const PROCESSES = argv.includes('--processes')

function quantile (xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!
}
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const round = (x: number): number => Math.round(x * 100) / 100

async function simulated (): Promise<Record<string, unknown>> {
  const relayed = await runTransponderSim({ seed: SEED })
  const direct = await runTransponderSim({ seed: SEED, direct: true })
  const gain = direct.coreInboundPerSecond / relayed.coreInboundPerSecond
  console.log(`simulated: core inbound ${relayed.coreInboundPerSecond}/s via ${relayed.transponders} transponders (${relayed.coreInboundPerSecondPerTransponder}/s each) vs ${direct.coreInboundPerSecond}/s direct: ${gain.toFixed(1)}x`)
  console.log(`simulated: death seen in p99 ${relayed.deathDetectionMs.p99} ms, fan-out p99 ${relayed.fanoutReachMs.p99} ms (${(relayed.fanoutWithin2s * 100).toFixed(2)}% within 2 s), re-home max ${relayed.rehomeMs?.max} ms, violations ${relayed.violations.length + direct.violations.length}`)
  return { relayed, direct, gain: round(gain) }
}

async function real (AGENTS: number, TRANSPONDERS: number, TLS: boolean): Promise<Record<string, unknown>> {
  const agentIds = Array.from({ length: AGENTS }, (_, i) => `a${i}`)
  const tIds = Array.from({ length: TRANSPONDERS }, (_, i) => `t${i}`)
  const keys = createSigningKeys([...agentIds, 'coord'])
  const ring = new KeyRing(keys.publicKeys)
  const certs = TLS ? await createDevCertificates({ nodeIds: [...tIds, ...agentIds] }) : undefined
  const security = (id: string): { tls: { key: string, cert: string, ca: string } } | { insecure: true } =>
    certs === undefined ? { insecure: true } : { tls: { ...certs.nodes[id]!, ca: certs.ca } }
  let batches = 0
  const stored = new Set<string>()
  const station = new TrackingStation({ id: 'station', keys: ring, emit: async (e) => { stored.add(e.id) } })
  await station.open()
  const servers = new Map<string, TransponderServer>()
  for (const id of tIds) {
    const server = new TransponderServer({
      listen: { host: '127.0.0.1', port: 0 },
      ...security(id),
      transponder: { id, uplink: async (batch, { signal }) => { batches++; await station.receive(batch, { signal }) } }
    })
    await server.open()
    servers.set(id, server)
  }
  const addresses = Object.fromEntries([...servers].map(([id, s]) => [id, s.address()]))
  const agents: Array<{ client: AgentRelayClient, links: SocketAgentLinks }> = []
  const t0 = performance.now()
  for (const id of agentIds) {
    const links = new SocketAgentLinks({ id, transponders: addresses, ...security(id) })
    const client = new AgentRelayClient({
      signer: signer(id, keys.privateKeys[id]!), keys: ring, station: 'station', transponders: tIds, links,
      execute: async (c) => ({ id: c.id, ok: true, instances: [] })
    })
    links.serve(async (bytes) => await client.handleCommand(bytes))
    await client.open()
    agents.push({ client, links })
  }
  while (station.stats().aliveAgents < AGENTS && performance.now() - t0 < 30_000) await sleep(50)
  const connectMs = performance.now() - t0
  const connections = [...servers.values()].reduce((n, s) => n + s.connections, 0)
  console.log(`real: ${connections} agent connections (${TLS ? 'mutual TLS' : 'plain TCP'}) to ${TRANSPONDERS} transponders in ${connectMs.toFixed(0)} ms; ${station.stats().aliveAgents} alive at the station`)

  // Steady state: heartbeats only.
  await sleep(1500)
  const b0 = batches
  await sleep(SECONDS * 1000)
  const steadyPerSecond = (batches - b0) / SECONDS

  // Events: every agent emits one, concurrently; latency until acknowledged.
  const latencies: number[] = []
  await Promise.all(agents.map(async ({ client }, i) => {
    const start = performance.now()
    await client.emit({ id: `ev-${i}`, payload: new TextEncoder().encode('{}') })
    latencies.push(performance.now() - start)
  }))

  // Fan-out: a status command to every agent through its transponder.
  const channel = new RelayedCommandChannel({
    signer: signer('coord', keys.privateKeys.coord!), keys: ring, route: (a) => station.routeOf(a),
    transponder: (t) => { const s = servers.get(t); return s === undefined ? undefined : async (c, o) => await s.transponder.deliver(c, o) }
  })
  const fanStart = performance.now()
  const replyTimes: number[] = []
  const command = { kind: 'status' as const, id: 'bench-fanout', fence: { lease: 'quorate/coordinator', token: 1 } }
  const results = await Promise.all(agentIds.map(async (node) => {
    const r = await channel.send(node, command).catch((e: unknown) => e)
    replyTimes.push(performance.now() - fanStart)
    return r
  }))
  const failedReplies = results.filter((r) => r instanceof QuorateError).length
  console.log(`real: ${steadyPerSecond.toFixed(1)} station batches/s for ${AGENTS} heartbeating agents; event ack p50 ${quantile(latencies, 0.5).toFixed(1)} ms p99 ${quantile(latencies, 0.99).toFixed(1)} ms; fan-out 99% in ${quantile(replyTimes, 0.99).toFixed(1)} ms, all in ${Math.max(...replyTimes).toFixed(1)} ms, ${failedReplies} failed`)

  for (const { client, links } of agents) { await client.close(); links.close() }
  for (const s of servers.values()) await s.close()
  await station.close()
  return {
    agents: AGENTS,
    transponders: TRANSPONDERS,
    security: TLS ? 'mutual TLS' : 'plain TCP (loopback)',
    connections,
    connectMs: round(connectMs),
    steadySeconds: SECONDS,
    stationBatchesPerSecond: round(steadyPerSecond),
    directEquivalentPerSecond: AGENTS,
    eventsStored: stored.size,
    eventAckMs: { p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)), max: round(Math.max(...latencies)) },
    fanoutMs: { p99: round(quantile(replyTimes, 0.99)), max: round(Math.max(...replyTimes)), failed: failedReplies }
  }
}

/** `--ramp 500,1000,2000`: positive integers, increasing. */
function rampArg (): number[] {
  const at = argv.indexOf('--ramp')
  const ramp = at < 0 ? [500, 1000, 2000] : argv[at + 1]!.split(',').map(Number)
  if (ramp.some((n, i) => !Number.isInteger(n) || n < 1 || (i > 0 && n <= ramp[i - 1]!))) {
    process.stderr.write(`bench/transponder: --ramp must be increasing positive integers, got ${argv[at + 1]}\n`)
    process.exit(2)
  }
  return ramp
}

async function processes (): Promise<void> {
  const counts = { relays: arg('--relays', 4), loadProcesses: arg('--load-processes', 2), seconds: SECONDS }
  for (const [k, v] of Object.entries(counts)) {
    if (!Number.isInteger(v) || v < 1) { process.stderr.write(`bench/transponder: ${k} must be a positive integer, got ${v}\n`); process.exit(2) }
  }
  const at = argv.indexOf('--out')
  const name = at < 0 ? 'transponder-real' : argv[at + 1]!
  const command = `node dist/bench/transponder.js ${argv.join(' ')}`
  const onStep = (doc: Record<string, unknown>): void => { writeResult(name, { ...doc, command }) }
  const out = await runProcessBench({ seed: SEED, ramp: rampArg(), ...counts, insecure: argv.includes('--insecure'), onStep })
  console.log(`wrote ${writeResult(name, { ...out, command })}`)
}

async function main (): Promise<void> {
  if (PROCESSES) { await processes(); return }
  const load = loadavg()[0]
  if (REAL_ONLY) { await real(AGENTS, TRANSPONDERS, TLS); return }
  const sim = await simulated()
  const live = await real(AGENTS, TRANSPONDERS, TLS)
  const tlsRun = TLS || TLS_AGENTS === 0 ? null : await real(TLS_AGENTS, Math.min(TRANSPONDERS, 2), true)
  const out = {
    benchmark: 'transponder',
    seed: SEED,
    simulated: sim,
    real: live,
    realTls: tlsRun,
    loadavg1: round(load!),
    note: 'simulated figures are virtual time (machine-independent); real figures are one process on a shared machine: a validation at small scale, not a capacity claim',
    date: new Date().toISOString()
  }
  await mkdir('bench/results', { recursive: true })
  await writeFile('bench/results/transponder.json', JSON.stringify(out, null, 2) + '\n')
  console.log('wrote bench/results/transponder.json')
}

await main()

/**
 * The process-level transponder benchmark (issue 17: "a benchmark runs as many real agent
 * connections as this machine holds", side by side with agents talking directly to the core).
 * Run by `node dist/bench/transponder.js --processes [...]`; writes
 * bench/results/transponder-real.json.
 *
 * What runs, all real processes on this host:
 * - the core: 3 `quorate-node` processes (ProcessCluster: classic-level, fsync, mutual TLS)
 *   with the resource graph mounted, and this process as the tracking station's front
 *   (transponder-station.ts) writing every event and every node-dead into their events queue;
 * - `--relays` `quorate-transponder` processes (src/transponder/relay-process.ts) with mutual
 *   TLS uplinks to the front's StationServer and mutual TLS downlinks (one certificate per
 *   agent), or plain TCP on both hops with `--insecure`;
 * - `--load-processes` load processes (transponder-load.ts) holding the agents, one socket
 *   each, heartbeating once a second, plus one process holding one agent that is SIGKILLed.
 *
 * For each agent count of `--ramp` it runs the same workload twice, through the relays and
 * direct (the agents' sockets on the core itself), and measures: agents seen alive by the
 * station and the time to get there; messages per second the core received in steady state
 * (`--seconds`), per relay; ack latency of one event per agent spread over one second; a status
 * command fanned out to every agent (share that ran it within 2 s); the SIGKILLed agent's
 * node-dead committed in the graph. A step whose agents are not all seen alive within the
 * connect timeout ends the ramp: that is the ceiling this machine held, reported with the
 * open-file limit of the load processes.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ProcessCluster, readLines } from '../src/cluster/launcher.js'
import type { QuorateClient } from '../src/cluster/quorate-client.js'
import { HA_KINDS, HA_RELATIONS } from '../src/coordinator/index.js'
import { QuorateError } from '../src/errors.js'
import { KeyRing, createSigningKeys, signer } from '../src/transponder/index.js'
import type { SigningKeyMaterial } from '../src/transponder/index.js'
import { TRANSPONDER_READY_PREFIX } from '../src/transponder/relay-process.js'
import { createDevCertificates } from '../src/transport/index.js'
import type { DevCertificates } from '../src/transport/index.js'
import type { TcpAddress } from '../src/transport/tcp.js'
import { sleep } from './measure.js'
import { forkScript, nextMessage, openFileLimit, waitExit } from './proc.js'
import type { LoadSpec } from './transponder-load.js'
import { openStationFront } from './transponder-station.js'
import type { FrontMode, StationFront } from './transponder-station.js'

const RELAY_BIN = fileURLToPath(new URL('../src/transponder/relay-process.js', import.meta.url))
const LOAD_SCRIPT = fileURLToPath(new URL('./transponder-load.js', import.meta.url))
const VICTIM = 'victim'
const FENCE = { lease: 'quorate/coordinator', token: 1 }
/** After every agent is alive, before the steady window: the relays' first full reports are out. */
const SETTLE_MS = 2000
const EVENT_SPREAD_MS = 1000
const DEATH_WAIT_MS = 15_000

export interface ProcessBenchOptions {
  readonly seed: number
  readonly ramp: readonly number[]
  readonly relays: number
  readonly loadProcesses: number
  readonly seconds: number
  readonly insecure: boolean
}

interface Quantiles { readonly count: number, readonly p50: number, readonly p99: number, readonly max: number }

export interface PhaseResult {
  readonly mode: FrontMode
  readonly agents: number
  /** Agents (the victim included) the station saw alive, and how long after the load processes started. */
  readonly aliveAtStation: number
  readonly connectMs: number
  readonly allConnected: boolean
  /** Messages the core received per second in the steady window: in total, and per relay (relay mode). */
  readonly coreInboundPerSecond: number
  readonly coreInboundPerSecondPerRelay: { readonly mean: number, readonly min: number, readonly max: number } | null
  readonly eventAckMs: Quantiles & { readonly failed: number, readonly committed: number }
  readonly fanout: { readonly reachMs: Quantiles, readonly within2s: number, readonly failed: number }
  /** SIGKILL of the victim's process → its node-dead committed in the cluster's events queue, ms (null: not within 15 s). */
  readonly nodeDeadVisibleMs: number | null
}

function quantiles (xs: readonly number[]): Quantiles {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number): number => s.length === 0 ? NaN : round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!)
  return { count: s.length, p50: at(0.5), p99: at(0.99), max: at(1) }
}
const round = (x: number): number => Math.round(x * 100) / 100
const sum = (m: ReadonlyMap<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0)

async function until (what: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms
  while (!what()) { if (performance.now() > end) return false; await sleep(25) }
  return true
}

interface Shared {
  readonly options: ProcessBenchOptions
  readonly client: QuorateClient
  readonly keys: SigningKeyMaterial
  readonly ring: KeyRing
  readonly certs: DevCertificates | undefined
  readonly dir: string
}

const tlsOf = (certs: DevCertificates, id: string): { key: string, cert: string, ca: string } => ({ ...certs.nodes[id]!, ca: certs.ca })

/** One quorate-transponder process; resolves once it printed its ready line. */
async function startRelay (s: Shared, id: string, station: TcpAddress): Promise<{ child: ChildProcess, listen: TcpAddress }> {
  const security = s.certs === undefined
    ? { insecure: true }
    : { tls: { keyFile: join(s.dir, `${id}.key`), certFile: join(s.dir, `${id}.crt`), caFile: join(s.dir, 'ca.crt') } }
  const file = join(s.dir, `${id}.json`)
  await writeFile(file, JSON.stringify({ id, listen: { host: '127.0.0.1', port: 0 }, station: { host: station.host, port: station.port }, ...security }))
  const child = spawn(process.execPath, [RELAY_BIN, '--config', file, '--exit-with-stdin'], { stdio: ['pipe', 'pipe', 'inherit'] })
  child.stdin!.on('error', () => {})
  const listen = await new Promise<TcpAddress>((resolve, reject) => {
    readLines(child.stdout!, (line) => { if (line.startsWith(TRANSPONDER_READY_PREFIX)) resolve((JSON.parse(line.slice(TRANSPONDER_READY_PREFIX.length)) as { listen: TcpAddress }).listen) })
    child.once('exit', (code) => { reject(new Error(`relay ${id} exited (${String(code)}) before it was ready`)) })
  })
  return { child, listen }
}

/** One load process holding `agents`; resolves once all are opened. */
async function startLoad (s: Shared, name: string, agents: readonly string[], transponders: Readonly<Record<string, TcpAddress>>): Promise<{ child: ChildProcess, fdLimit: number | null }> {
  const spec: LoadSpec = {
    seed: s.options.seed,
    agents: agents.map((id) => ({ id, privateKey: s.keys.privateKeys[id]!, ...(s.certs === undefined ? {} : { tls: s.certs.nodes[id]! }) })),
    ...(s.certs === undefined ? {} : { ca: s.certs.ca }),
    publicKeys: { coord: s.keys.publicKeys.coord! },
    transponders,
    heartbeatMs: 1000,
    chunk: 50,
    chunkPauseMs: 25
  }
  const file = join(s.dir, `${name}.json`)
  await writeFile(file, JSON.stringify(spec))
  const child = forkScript(LOAD_SCRIPT, file)
  const ready = await nextMessage<{ opened: number, fdLimit: number | null }>(child, 'ready', 300_000)
  return { child, fdLimit: ready.fdLimit }
}

async function stopAll (children: readonly ChildProcess[]): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
  await Promise.all(children.map(async (c) => { await waitExit(c, 5000) }))
}

/** The same workload for `n` agents, through the relays or direct. */
async function phase (s: Shared, mode: FrontMode, n: number, fdLimits: Set<number | null>): Promise<PhaseResult> {
  const front: StationFront = await openStationFront({
    mode, client: s.client, keys: s.ring, coordinator: signer('coord', s.keys.privateKeys.coord!),
    ...(s.certs === undefined ? {} : { tls: { station: tlsOf(s.certs, 'station'), core: tlsOf(s.certs, 'core') } })
  })
  const relays: ChildProcess[] = []
  const loads: ChildProcess[] = []
  try {
    let transponders: Record<string, TcpAddress>
    if (mode === 'relay') {
      transponders = {}
      const ids = Array.from({ length: s.options.relays }, (_, i) => `t${i}`)
      for (const r of await Promise.all(ids.map(async (id) => ({ id, ...await startRelay(s, id, front.uplinkAddress!) })))) {
        relays.push(r.child)
        transponders[r.id] = r.listen
      }
    } else transponders = { ...front.coreAddress! }

    const agents = Array.from({ length: n }, (_, i) => `a${i}`)
    const slices = Array.from({ length: s.options.loadProcesses }, (_, k) => agents.filter((_, i) => i % s.options.loadProcesses === k))
    const t0 = performance.now()
    const started = await Promise.all([
      ...slices.map(async (slice, k) => await startLoad(s, `load-${mode}-${n}-${k}`, slice, transponders)),
      startLoad(s, `victim-${mode}-${n}`, [VICTIM], transponders)
    ])
    for (const l of started) { loads.push(l.child); fdLimits.add(l.fdLimit) }
    const victim = loads.at(-1)!
    const workers = loads.slice(0, -1)
    const allConnected = await until(() => front.station.stats().aliveAgents >= n + 1, 30_000 + n * 20)
    const connectMs = round(performance.now() - t0)
    const aliveAtStation = front.station.stats().aliveAgents
    console.log(`${mode} ${n}: ${aliveAtStation}/${n + 1} agents alive at the station after ${connectMs.toFixed(0)} ms`)

    // Steady state: heartbeats only.
    await sleep(SETTLE_MS)
    const before = new Map(front.inbound())
    await sleep(s.options.seconds * 1000)
    const after = new Map(front.inbound())
    const perSender = [...after].map(([k, v]) => (v - (before.get(k) ?? 0)) / s.options.seconds)
    const coreInboundPerSecond = round((sum(after) - sum(before)) / s.options.seconds)
    const perRelay = mode === 'relay'
      ? { mean: round(coreInboundPerSecond / s.options.relays), min: round(Math.min(...perSender)), max: round(Math.max(...perSender)) }
      : null

    // Events: one per agent, spread over a second; acknowledged only once committed in the cluster.
    const tag = `ev-${mode}-${n}`
    const emitted = await Promise.all(workers.map(async (w) => {
      const answer = nextMessage<{ latencies: number[], failed: number }>(w, 'emitted', 120_000)
      w.send({ emit: { tag, spreadMs: EVENT_SPREAD_MS } })
      return await answer
    }))
    const latencies = emitted.flatMap((e) => e.latencies)
    const committed = agents.filter((a) => front.committed.has(`${tag}-${a}`)).length

    // Fan-out: one status command to every agent, grouped per transponder.
    const commandId = `fanout-${mode}-${n}`
    const fanStart = Date.now()
    const results = await front.channel.sendMany(agents.map((node) => ({ node, command: { kind: 'status' as const, id: commandId, fence: FENCE } })))
    const failed = results.filter((r) => r instanceof QuorateError).length
    const runs = await Promise.all(workers.map(async (w) => {
      const answer = nextMessage<Record<string, number>>(w, 'runs')
      w.send({ runs: commandId })
      return await answer
    }))
    const reach = runs.flatMap((r) => Object.values(r)).map((t) => t - fanStart)

    // A SIGKILLed agent: its relay (or the core) stops hearing it; node-dead committed in the graph.
    const killedAt = Date.now()
    victim.kill('SIGKILL')
    const seen = await until(() => front.deaths.has(VICTIM), DEATH_WAIT_MS)
    const result: PhaseResult = {
      mode,
      agents: n,
      aliveAtStation,
      connectMs,
      allConnected,
      coreInboundPerSecond,
      coreInboundPerSecondPerRelay: perRelay,
      eventAckMs: { ...quantiles(latencies), failed: emitted.reduce((k, e) => k + e.failed, 0), committed },
      fanout: { reachMs: quantiles(reach), within2s: round(reach.filter((t) => t <= 2000).length / n), failed },
      nodeDeadVisibleMs: seen ? front.deaths.get(VICTIM)! - killedAt : null
    }
    console.log(`${mode} ${n}: core inbound ${coreInboundPerSecond}/s${perRelay === null ? '' : ` (${perRelay.mean}/s per relay)`}; event ack p50 ${result.eventAckMs.p50} ms p99 ${result.eventAckMs.p99} ms (${committed} committed, ${result.eventAckMs.failed} failed); fan-out ${(result.fanout.within2s * 100).toFixed(1)}% within 2 s (p99 ${result.fanout.reachMs.p99} ms, ${failed} failed); node-dead after ${String(result.nodeDeadVisibleMs)} ms`)
    return result
  } finally {
    await stopAll([...loads, ...relays])
    await front.close()
  }
}

/** The whole ramp; returns the results document (the caller writes it). */
export async function runProcessBench (options: ProcessBenchOptions): Promise<Record<string, unknown>> {
  const loadStart = loadavg()[0]!
  const max = Math.max(...options.ramp)
  const agents = Array.from({ length: max }, (_, i) => `a${i}`)
  const relayIds = Array.from({ length: options.relays }, (_, i) => `t${i}`)
  const dir = await mkdtemp(join(tmpdir(), 'quorate-bench-relays-'))
  const cluster = await ProcessCluster.create({ nodes: 3, nodeConfig: () => ({ graph: { schema: { kinds: HA_KINDS, relations: HA_RELATIONS } } }) })
  const client = cluster.quorateClient()
  try {
    const c0 = performance.now()
    const certs = options.insecure ? undefined : await createDevCertificates({ nodeIds: ['station', 'core', ...relayIds, VICTIM, ...agents] })
    const certSetupMs = round(performance.now() - c0)
    if (certs !== undefined) {
      await writeFile(join(dir, 'ca.crt'), certs.ca)
      for (const id of relayIds) {
        await writeFile(join(dir, `${id}.key`), certs.nodes[id]!.key)
        await writeFile(join(dir, `${id}.crt`), certs.nodes[id]!.cert)
      }
    }
    const keys = createSigningKeys([...agents, VICTIM, 'coord'])
    const shared: Shared = { options, client, keys, ring: new KeyRing(keys.publicKeys), certs, dir }
    await cluster.startAll()
    const fdLimits = new Set<number | null>([openFileLimit()])
    const steps: Array<Record<string, unknown>> = []
    let ceiling: number | null = null
    for (const n of options.ramp) {
      const relay = await phase(shared, 'relay', n, fdLimits)
      const direct = await phase(shared, 'direct', n, fdLimits)
      steps.push({
        agents: n,
        relay,
        direct,
        ratio: {
          coreInbound: round(direct.coreInboundPerSecond / relay.coreInboundPerSecond),
          eventAckP50: round(relay.eventAckMs.p50 / direct.eventAckMs.p50),
          fanoutReachP99: round(relay.fanout.reachMs.p99 / direct.fanout.reachMs.p99)
        }
      })
      if (!relay.allConnected || !direct.allConnected) { ceiling = n; break }
    }
    return {
      benchmark: 'transponder-real',
      date: new Date().toISOString(),
      seed: options.seed,
      options,
      core: '3 quorate-node processes (classic-level, fsync, mutual TLS), graph mounted; the station front in the benchmark process',
      security: options.insecure ? 'plain TCP on both hops' : 'mutual TLS on both hops (one certificate per agent)',
      certSetupMs,
      openFileLimits: [...fdLimits],
      ceiling: ceiling === null ? `every step held (up to ${max} agents)` : `${ceiling} agents: not all seen alive within the connect timeout`,
      loadavg1: { start: round(loadStart), end: round(loadavg()[0]!) },
      steps,
      note: 'real processes on one shared 2-core machine: figures under load (see loadavg1); ratio.coreInbound is direct / relay messages per second at the core'
    }
  } finally {
    await client.close()
    await cluster.close()
    await rm(dir, { recursive: true, force: true })
  }
}

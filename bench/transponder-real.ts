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
 * node-dead committed in the graph; resident memory and open file descriptors of every
 * process with the agents connected (bench/proc.ts processUsage).
 *
 * Every wait is bounded and its outcome is data, never an exit: a leg that cannot keep up at a
 * size (agents not all seen alive within the connect timeout, events not acknowledged within
 * EVENT_DEADLINE_MS, fan-out commands unanswered, or a process that failed) is recorded with
 * attempted / completed / failed / timed-out counts and why, and is skipped at the larger
 * sizes, while the ramp goes on for the other leg. Its ceiling is the largest size it kept up
 * at. The results document is handed to `onStep` after every size, so a run cut short keeps
 * the sizes it measured.
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
import { forkScript, nextMessage, openFileLimit, processUsage, waitExit } from './proc.js'
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
/** An event not acknowledged this long after the load process was told to emit is timed out. */
const EVENT_DEADLINE_MS = 30_000
/** Beyond a child's own deadline, how long its answer may take before the child counts as hung. */
const ANSWER_GRACE_MS = 15_000

export interface ProcessBenchOptions {
  readonly seed: number
  readonly ramp: readonly number[]
  readonly relays: number
  readonly loadProcesses: number
  readonly seconds: number
  readonly insecure: boolean
  /** Called with the results document so far after every size of the ramp. */
  readonly onStep?: (document: Record<string, unknown>) => void
}

interface Quantiles { readonly count: number, readonly p50: number, readonly p99: number, readonly max: number }

/** One stage's operations: how many were attempted and how each ended (completed + failed + timedOut = attempted). */
export interface Tally { readonly attempted: number, readonly completed: number, readonly failed: number, readonly timedOut: number }

/** Resident memory of a process, MiB, and its open file descriptors, with the agents connected. */
interface Usage { readonly rssMiB: number, readonly fds: number }

export interface PhaseResult {
  readonly mode: FrontMode
  readonly agents: number
  /** Every agent seen alive, every event acknowledged, every fan-out command answered, no process failed. */
  readonly keptUp: boolean
  /** Why it did not keep up (each stage that fell short, and errors); empty when it did. */
  readonly shortfalls: readonly string[]
  /** Agents (the victim included) the station saw alive, and how long after the load processes started. */
  readonly aliveAtStation: number
  readonly connectMs: number
  readonly allConnected: boolean
  /** Messages the core received per second in the steady window: in total, and per relay (relay mode). */
  readonly coreInboundPerSecond: number | null
  readonly coreInboundPerSecondPerRelay: { readonly mean: number, readonly min: number, readonly max: number } | null
  /** One event per agent; completed = acknowledged (committed in the cluster). */
  readonly events: (Tally & { readonly ackMs: Quantiles, readonly committed: number }) | null
  /** One status command per agent; completed = a verified reply came back. */
  readonly fanout: (Tally & { readonly reachMs: Quantiles, readonly within2s: number }) | null
  /** SIGKILL of the victim's process → its node-dead committed in the cluster's events queue, ms (null: not within 15 s). */
  readonly nodeDeadVisibleMs: number | null
  /**
   * With the agents connected: the core (this process: station front, plus the agents' sockets
   * when direct), each relay, each load process; per connection, KiB: the growth of the relays'
   * (or, direct, the core's) RSS since before the agents came, over the agents connected, and
   * a load process's RSS beyond the one-agent victim's over its agents.
   */
  readonly memory: {
    readonly core: Usage
    readonly relays: readonly Usage[]
    readonly loads: readonly Usage[]
    readonly perConnectionKiB: { readonly serverSide: number | null, readonly agentSide: number | null }
  } | null
}

function quantiles (xs: readonly number[]): Quantiles {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number): number => s.length === 0 ? NaN : round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!)
  return { count: s.length, p50: at(0.5), p99: at(0.99), max: at(1) }
}
const round = (x: number): number => Math.round(x * 100) / 100
const sum = (m: ReadonlyMap<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0)
const MiB = 1024 * 1024
const usageOf = (pid: number | undefined): Usage => {
  const u = pid === undefined ? null : processUsage(pid)
  return u === null ? { rssMiB: NaN, fds: NaN } : { rssMiB: round(u.rssBytes / MiB), fds: u.fds }
}
const message = (err: unknown): string => err instanceof Error ? err.message : String(err)

async function until (what: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms
  while (!what()) { if (performance.now() > end) return false; await sleep(25) }
  return true
}

/** `promise`, or `fallback` after `ms` (the promise is left to settle on its own). */
async function within<T> (promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<T>((resolve) => { timer = setTimeout(() => { resolve(fallback) }, ms) })
  try { return await Promise.race([promise, late]) } finally { clearTimeout(timer) }
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

/** One quorate-transponder process; resolves once it printed its ready line (rejects if it exits first, or after 60 s). */
async function startRelay (s: Shared, id: string, station: TcpAddress): Promise<{ child: ChildProcess, listen: TcpAddress }> {
  const security = s.certs === undefined
    ? { insecure: true }
    : { tls: { keyFile: join(s.dir, `${id}.key`), certFile: join(s.dir, `${id}.crt`), caFile: join(s.dir, 'ca.crt') } }
  const file = join(s.dir, `${id}.json`)
  await writeFile(file, JSON.stringify({ id, listen: { host: '127.0.0.1', port: 0 }, station: { host: station.host, port: station.port }, ...security }))
  const child = spawn(process.execPath, [RELAY_BIN, '--config', file, '--exit-with-stdin'], { stdio: ['pipe', 'pipe', 'inherit'] })
  child.stdin!.on('error', () => {})
  try {
    const listen = await new Promise<TcpAddress>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`relay ${id} printed no ready line within 60 s`)) }, 60_000)
      readLines(child.stdout!, (line) => {
        if (line.startsWith(TRANSPONDER_READY_PREFIX)) { clearTimeout(timer); resolve((JSON.parse(line.slice(TRANSPONDER_READY_PREFIX.length)) as { listen: TcpAddress }).listen) }
      })
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`relay ${id} exited (${String(code)}) before it was ready`)) })
    })
    return { child, listen }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}

/** One load process holding `agents`; resolves once all are opened (rejects if it exits first, or after 300 s). */
async function startLoad (s: Shared, name: string, agents: readonly string[], transponders: Readonly<Record<string, TcpAddress>>, forked: (child: ChildProcess) => void): Promise<{ fdLimit: number | null }> {
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
  forked(child) // stopped by the phase even if it never gets ready
  const ready = await nextMessage<{ opened: number, fdLimit: number | null }>(child, 'ready', 300_000)
  return { fdLimit: ready.fdLimit }
}

async function stopAll (children: readonly ChildProcess[]): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
  await Promise.all(children.map(async (c) => { await waitExit(c, 5000) }))
}

/** Agent ids `a0`..`a(n-1)` split over the load processes, round-robin. */
function slicesOf (n: number, processes: number): string[][] {
  const slices: string[][] = Array.from({ length: processes }, () => [])
  for (let i = 0; i < n; i++) slices[i % processes]!.push(`a${i}`)
  return slices
}

/**
 * The same workload for `n` agents, through the relays or direct. Never throws for the
 * workload: a stage that fails or runs out of time is recorded in the result (shortfalls,
 * tallies), and the stages after it that need it are left null.
 */
async function phase (s: Shared, mode: FrontMode, n: number, fdLimits: Set<number | null>): Promise<PhaseResult> {
  const front: StationFront = await openStationFront({
    mode, client: s.client, keys: s.ring, coordinator: signer('coord', s.keys.privateKeys.coord!),
    ...(s.certs === undefined ? {} : { tls: { station: tlsOf(s.certs, 'station'), core: tlsOf(s.certs, 'core') } })
  })
  const relays: ChildProcess[] = []
  const loads: ChildProcess[] = []
  const shortfalls: string[] = []
  const slices = slicesOf(n, s.options.loadProcesses)
  const result: { -readonly [K in keyof PhaseResult]: PhaseResult[K] } = {
    mode, agents: n, keptUp: false, shortfalls, aliveAtStation: 0, connectMs: NaN, allConnected: false,
    coreInboundPerSecond: null, coreInboundPerSecondPerRelay: null, events: null, fanout: null, nodeDeadVisibleMs: null, memory: null
  }
  try {
    let transponders: Record<string, TcpAddress>
    if (mode === 'relay') {
      transponders = {}
      const ids = Array.from({ length: s.options.relays }, (_, i) => `t${i}`)
      const started = await Promise.allSettled(ids.map(async (id) => ({ id, ...await startRelay(s, id, front.uplinkAddress!) })))
      for (const r of started) if (r.status === 'fulfilled') { relays.push(r.value.child); transponders[r.value.id] = r.value.listen }
      const refused = started.filter((r) => r.status === 'rejected')
      if (refused.length > 0) throw new Error(`relays: ${refused.map((r) => message((r as PromiseRejectedResult).reason)).join('; ')}`)
    } else transponders = { ...front.coreAddress! }
    const serverBefore = mode === 'relay' ? relays.map((r) => processUsage(r.pid!)?.rssBytes ?? NaN) : [process.memoryUsage().rss]

    const t0 = performance.now()
    const L = s.options.loadProcesses
    const byIndex: ChildProcess[] = [] // the load processes, then the victim's
    const forked = (k: number) => (child: ChildProcess): void => { byIndex[k] = child; loads.push(child) }
    const started = await Promise.allSettled([
      ...slices.map(async (slice, k) => await startLoad(s, `load-${mode}-${n}-${k}`, slice, transponders, forked(k))),
      startLoad(s, `victim-${mode}-${n}`, [VICTIM], transponders, forked(L))
    ])
    for (const l of started) if (l.status === 'fulfilled') fdLimits.add(l.value.fdLimit)
    const notReady = started.filter((l) => l.status === 'rejected')
    if (notReady.length > 0) throw new Error(`load processes: ${notReady.map((l) => message((l as PromiseRejectedResult).reason)).join('; ')}`)
    const workers = byIndex.slice(0, L)
    const victim = byIndex[L]!
    result.allConnected = await until(() => front.station.stats().aliveAgents >= n + 1, 30_000 + n * 20)
    result.connectMs = round(performance.now() - t0)
    result.aliveAtStation = front.station.stats().aliveAgents
    if (!result.allConnected) shortfalls.push(`connect: ${result.aliveAtStation}/${n + 1} agents alive at the station within ${30_000 + n * 20} ms`)
    console.log(`${mode} ${n}: ${result.aliveAtStation}/${n + 1} agents alive at the station after ${result.connectMs.toFixed(0)} ms`)

    const core = usageOf(process.pid)
    const relayUsage = relays.map((r) => usageOf(r.pid))
    const loadUsage = workers.map((w) => usageOf(w.pid))
    const victimRss = usageOf(victim.pid).rssMiB
    const serverGrowth = mode === 'relay'
      ? relayUsage.reduce((k, u, i) => k + u.rssMiB * MiB - serverBefore[i]!, 0)
      : core.rssMiB * MiB - serverBefore[0]!
    const agentGrowth = loadUsage.reduce((k, u) => k + (u.rssMiB - victimRss) * MiB, 0)
    result.memory = {
      core,
      relays: relayUsage,
      loads: loadUsage,
      perConnectionKiB: {
        serverSide: Number.isFinite(serverGrowth) && result.aliveAtStation > 0 ? round(serverGrowth / result.aliveAtStation / 1024) : null,
        agentSide: Number.isFinite(agentGrowth) ? round(agentGrowth / n / 1024) : null
      }
    }

    // Steady state: heartbeats only.
    await sleep(SETTLE_MS)
    const before = new Map(front.inbound())
    await sleep(s.options.seconds * 1000)
    const after = new Map(front.inbound())
    const perSender = [...after].map(([k, v]) => (v - (before.get(k) ?? 0)) / s.options.seconds)
    result.coreInboundPerSecond = round((sum(after) - sum(before)) / s.options.seconds)
    result.coreInboundPerSecondPerRelay = mode === 'relay'
      ? { mean: round(result.coreInboundPerSecond / s.options.relays), min: round(Math.min(...perSender)), max: round(Math.max(...perSender)) }
      : null

    // Events: one per agent, spread over a second; acknowledged only once committed in the cluster.
    // Each load process answers by EVENT_DEADLINE_MS with what it has; one that does not
    // (hung, or exited) has its whole slice counted timed out, or failed.
    const tag = `ev-${mode}-${n}`
    const emitted = await Promise.all(workers.map(async (w, k) => {
      const answer = nextMessage<{ latencies: number[], failed: number, timedOut: number }>(w, 'emitted', EVENT_DEADLINE_MS + ANSWER_GRACE_MS)
      w.send({ emit: { tag, spreadMs: EVENT_SPREAD_MS, deadlineMs: EVENT_DEADLINE_MS } })
      return await answer.catch((err: unknown) => {
        shortfalls.push(`events: load process ${k}: ${message(err)}`)
        const lost = slices[k]!.length
        return w.exitCode !== null || w.signalCode !== null ? { latencies: [], failed: lost, timedOut: 0 } : { latencies: [], failed: 0, timedOut: lost }
      })
    }))
    const latencies = emitted.flatMap((e) => e.latencies)
    result.events = {
      attempted: n,
      completed: latencies.length,
      failed: emitted.reduce((k, e) => k + e.failed, 0),
      timedOut: emitted.reduce((k, e) => k + e.timedOut, 0),
      ackMs: quantiles(latencies),
      committed: slices.flat().filter((a) => front.committed.has(`${tag}-${a}`)).length
    }
    if (result.events.completed < n) shortfalls.push(`events: ${result.events.completed}/${n} acknowledged within ${EVENT_DEADLINE_MS} ms (${result.events.failed} failed, ${result.events.timedOut} timed out)`)

    // Fan-out: one status command to every agent, grouped per transponder; the channel bounds
    // each transponder's batch (RelayedCommandChannel timeoutMs), so sendMany settles.
    const commandId = `fanout-${mode}-${n}`
    const fanStart = Date.now()
    const agents = slices.flat()
    const results = await sendAllBounded(front, agents, commandId)
    const errors = results.filter((r): r is QuorateError => r instanceof QuorateError)
    const timedOut = errors.filter(ranOutOfTime).length
    const runs = await Promise.all(workers.map(async (w, k) => {
      const answer = nextMessage<Record<string, number>>(w, 'runs', ANSWER_GRACE_MS)
      w.send({ runs: commandId })
      return await answer.catch((err: unknown) => { shortfalls.push(`fan-out: load process ${k} did not report its runs: ${message(err)}`); return {} })
    }))
    const reach = runs.flatMap((r) => Object.values(r)).map((t) => t - fanStart)
    result.fanout = {
      attempted: n,
      completed: n - errors.length,
      failed: errors.length - timedOut,
      timedOut,
      reachMs: quantiles(reach),
      within2s: round(reach.filter((t) => t <= 2000).length / n)
    }
    if (errors.length > 0) shortfalls.push(`fan-out: ${n - errors.length}/${n} answered (${result.fanout.failed} failed, ${timedOut} timed out)`)

    // A SIGKILLed agent: its relay (or the core) stops hearing it; node-dead committed in the graph.
    const killedAt = Date.now()
    victim.kill('SIGKILL')
    const seen = await until(() => front.deaths.has(VICTIM), DEATH_WAIT_MS)
    result.nodeDeadVisibleMs = seen ? front.deaths.get(VICTIM)! - killedAt : null
    if (!seen) shortfalls.push(`death: no node-dead within ${DEATH_WAIT_MS} ms`)
  } catch (err) {
    shortfalls.push(`error: ${message(err)}`)
  } finally {
    await stopAll([...loads, ...relays])
    if (!await within(front.close().then(() => true), 30_000, false)) shortfalls.push('close: the station front did not close within 30 s')
  }
  result.keptUp = shortfalls.length === 0
  const ev = result.events
  const fo = result.fanout
  console.log(`${mode} ${n}: ${result.keptUp ? 'kept up' : `did not keep up (${shortfalls.join('; ')})`}; core inbound ${String(result.coreInboundPerSecond)}/s` +
    `${result.coreInboundPerSecondPerRelay === null ? '' : ` (${result.coreInboundPerSecondPerRelay.mean}/s per relay)`}` +
    (ev === null ? '' : `; events ${ev.completed}/${ev.attempted} acked p50 ${ev.ackMs.p50} ms p99 ${ev.ackMs.p99} ms (${ev.failed} failed, ${ev.timedOut} timed out)`) +
    (fo === null ? '' : `; fan-out ${fo.completed}/${fo.attempted}, ${(fo.within2s * 100).toFixed(1)}% within 2 s (p99 ${fo.reachMs.p99} ms)`) +
    `; node-dead after ${String(result.nodeDeadVisibleMs)} ms` +
    (result.memory === null ? '' : `; per connection ${String(result.memory.perConnectionKiB.serverSide)} KiB server side, ${String(result.memory.perConnectionKiB.agentSide)} KiB agent side`))
  return result
}

/** The fan-out, bounded once more here in case a transponder's batch never settles (the channel bounds it already). */
async function sendAllBounded (front: StationFront, agents: readonly string[], id: string): Promise<Array<unknown>> {
  const fallback = agents.map(() => new QuorateError('ABORTED', 'the fan-out did not settle within 60 s'))
  return await within<unknown[]>(front.channel.sendMany(agents.map((node) => ({ node, command: { kind: 'status' as const, id, fence: FENCE } }))), 60_000, fallback)
}

/** Whether an unanswered command's error (or a cause of it) is a timeout: "... within N ms". */
function ranOutOfTime (err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) if (/within \d+ (ms|s)\b/.test(e.message)) return true
  return false
}

/** A leg not run at a size because it did not keep up at a smaller one. */
interface Skipped { readonly mode: FrontMode, readonly agents: number, readonly skipped: string }

const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : round(a / b)

/** The whole ramp; returns the results document (the caller writes it; `onStep` gets it after every size). */
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
    /** Per leg: the largest size it kept up at, and the first it did not (then it is skipped). */
    const held: Record<FrontMode, number | null> = { relay: null, direct: null }
    const fell: Record<FrontMode, { agents: number, why: readonly string[] } | null> = { relay: null, direct: null }
    const { onStep, ...shown } = options
    const document = (): Record<string, unknown> => ({
      benchmark: 'transponder-real',
      date: new Date().toISOString(),
      seed: options.seed,
      options: shown,
      core: '3 quorate-node processes (classic-level, fsync, mutual TLS), graph mounted; the station front in the benchmark process',
      security: options.insecure ? 'plain TCP on both hops' : 'mutual TLS on both hops (one certificate per agent)',
      certSetupMs,
      openFileLimits: [...fdLimits],
      ceiling: Object.fromEntries((['relay', 'direct'] as const).map((m) => [m, {
        keptUpTo: held[m],
        firstShortfall: fell[m],
        summary: fell[m] === null ? `kept up at every size run (up to ${String(held[m])} agents)` : `kept up to ${String(held[m])} agents; not at ${fell[m]!.agents}: ${fell[m]!.why.join('; ')}`
      }])),
      loadavg1: { start: round(loadStart), end: round(loadavg()[0]!) },
      steps,
      note: 'real processes on one shared 2-core machine: figures under load (see loadavg1); ratio.coreInbound is direct / relay messages per second at the core'
    })
    for (const n of options.ramp) {
      const legs: Record<FrontMode, PhaseResult | Skipped> = { relay: { mode: 'relay', agents: n, skipped: '' }, direct: { mode: 'direct', agents: n, skipped: '' } }
      for (const mode of ['relay', 'direct'] as const) {
        const f = fell[mode]
        if (f !== null) { legs[mode] = { mode, agents: n, skipped: `did not keep up at ${f.agents} agents` }; continue }
        const r = await phase(shared, mode, n, fdLimits)
        legs[mode] = r
        if (r.keptUp) held[mode] = n
        else fell[mode] = { agents: n, why: r.shortfalls }
      }
      const relay = 'keptUp' in legs.relay ? legs.relay : null
      const direct = 'keptUp' in legs.direct ? legs.direct : null
      steps.push({
        agents: n,
        relay: legs.relay,
        direct: legs.direct,
        ratio: {
          coreInbound: ratio(direct?.coreInboundPerSecond, relay?.coreInboundPerSecond),
          eventAckP50: ratio(relay?.events?.ackMs.p50, direct?.events?.ackMs.p50),
          fanoutReachP99: ratio(relay?.fanout?.reachMs.p99, direct?.fanout?.reachMs.p99)
        }
      })
      onStep?.(document())
      if (fell.relay !== null && fell.direct !== null) break
    }
    return document()
  } finally {
    await client.close()
    await cluster.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * `npm start`: a Raft key-value cluster on this machine that loses its leader and recovers.
 * Options and what it shows: demo/args.ts and docs/demo.md.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ClusterHandle } from '../src/cluster/cluster-handle.js'
import { InProcessCluster } from '../src/cluster/in-process.js'
import { ProcessCluster } from '../src/cluster/launcher.js'
import type { NodeReport } from '../src/cluster/protocol.js'
import type { NodeId } from '../src/raft/types.js'
import { runDemoCommandLine } from './args.js'
import type { DemoOptions } from './args.js'
import { Display, RateMeter } from './display.js'
import { Monitor } from './monitor.js'
import { OPENSSL_MISSING, opensslAvailable } from './preflight.js'
import { DemoWorkspace } from './workspace.js'
import { HaStory, WORKERS, planHa, stationConfig } from './ha.js'
import { createViewerToken, watchLines } from './watch.js'
import type { WatchTarget } from './watch.js'

const CLIENTS = 16
/** A write still unanswered after this long is given up (and not counted as acknowledged). */
const WRITE_DEADLINE_MS = 10_000

/**
 * Puts unique keys from WORKERS concurrent loops until stopped; remembers what was acknowledged.
 * Keys and values carry a per-run id, so a rerun on the same `--dir` checks its own writes:
 * with fixed keys the previous run's values would answer for writes this run lost.
 */
class Workload {
  readonly acked = new Map<string, string>()
  readonly rate = new RateMeter()
  #stopping = false
  #loops: Array<Promise<void>> = []
  #onAck: (via: NodeId | null) => void = () => {}

  constructor (readonly cluster: ClusterHandle, readonly interrupt: AbortSignal, readonly runId: string) {}

  start (): void {
    this.#loops = Array.from({ length: CLIENTS }, async (_, w) => {
      for (let i = 0; !this.#stopping; i++) {
        const key = `demo-${this.runId}-${w}-${i}`
        const value = `${this.runId}-value-${i}`
        try {
          await this.cluster.client.put(key, value, { signal: AbortSignal.any([this.interrupt, AbortSignal.timeout(WRITE_DEADLINE_MS)]) })
        } catch {
          if (this.interrupt.aborted) return
          continue
        }
        this.acked.set(key, value)
        this.rate.record(performance.now())
        this.#onAck(this.cluster.client.leader)
      }
    })
  }

  /** Calls `fn` after each acknowledged write with the node that answered. */
  onAck (fn: (via: NodeId | null) => void): void { this.#onAck = fn }

  /** Lets every in-flight write finish, then resolves. */
  async stop (): Promise<void> {
    this.#stopping = true
    await Promise.all(this.#loops)
  }
}

async function openCluster (options: DemoOptions, dir: string, display: Display, viewer: ReturnType<typeof createViewerToken>, onStationLine: (id: NodeId, record: Record<string, unknown>) => boolean): Promise<{ cluster: ClusterHandle, plan: Awaited<ReturnType<typeof planHa>> | null }> {
  if (options.inProcess) {
    display.event(`starting ${options.nodes} RaftNodes in this process on the in-memory network, classic-level storage`)
    return { cluster: await InProcessCluster.create({ nodes: options.nodes, dir, tickMs: options.tickMs }), plan: null }
  }
  const security = options.insecure ? 'plain TCP (--insecure)' : 'mutual TLS'
  display.event(`starting ${options.nodes} node processes on 127.0.0.1, ${security}, classic-level storage; the tracking station: each mounts the resource graph and runs a coordinator supervisor`)
  const ids = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`)
  const plan = await planHa(ids)
  const cluster = await ProcessCluster.create({
    nodes: ids,
    dir,
    insecure: options.insecure,
    tickMs: options.tickMs,
    ...(options.insecure ? {} : { extraIdentities: [...WORKERS] }),
    nodeConfig: (id) => stationConfig(plan, id),
    // What `quorate status` and the dashboard read (demo/watch.ts); the configs hold the hash only.
    dashboard: true,
    tokens: [viewer.entry],
    onStderr: (id, line) => {
      const record = jsonRecord(line)
      if (record !== null && onStationLine(id, record)) return
      display.note(`  ${id} ${describeNodeLine(line)}`)
    }
  })
  return { cluster, plan }
}

function pidOf (cluster: ClusterHandle, id: NodeId): string {
  return cluster instanceof ProcessCluster ? ` (pid ${String(cluster.pid(id))})` : ''
}

/** Waits until every node reports the same applied index; returns those reports (with state hashes). */
async function settledReports (cluster: ClusterHandle, signal: AbortSignal): Promise<NodeReport[]> {
  for (;;) {
    signal.throwIfAborted()
    const all = await Promise.allSettled(cluster.ids.map(async (id) => await cluster.client.status(id)))
    const reports = all.flatMap((r) => r.status === 'fulfilled' ? [r.value] : [])
    if (reports.length === cluster.ids.length && reports.every((r) => r.appliedIndex === reports[0]!.appliedIndex)) return reports
    await sleep(100, undefined, { signal })
  }
}

/** What main() gives the run: where to print, when to stop, what to clean up, and its hooks. */
interface RunContext {
  readonly display: Display
  readonly interrupt: AbortSignal
  readonly workspace: DemoWorkspace
  /** Filled with the summary lines main prints. */
  readonly summary: string[]
  /** Told the cluster and the story as soon as they exist (for the exit hook). */
  readonly onCluster: (c: ClusterHandle, story: HaStory | null) => void
  /** --hold: prints the report and resolves once the run is interrupted; the cluster is still up meanwhile. */
  readonly hold: (code: number, watch: readonly string[]) => Promise<void>
}

/** How to reach a ProcessCluster's endpoints with the viewer token (none in process). */
function watchTarget (cluster: ClusterHandle, options: DemoOptions, token: string): WatchTarget | null {
  if (!(cluster instanceof ProcessCluster)) return null
  return { endpoints: cluster.ids.map((id) => cluster.clientAddress(id)), caFile: options.insecure ? null : join(cluster.dir, 'certs', 'ca.crt'), token }
}

/** Runs the scenario; resolves with the process exit code. */
async function run (options: DemoOptions, context: RunContext): Promise<number> {
  const { display, interrupt, workspace, summary } = context
  const durationMs = options.durationS * 1000
  let story: HaStory | null = null
  const viewer = createViewerToken()
  const { cluster, plan } = await openCluster(options, workspace.dir, display, viewer, (id, record) => story?.tracker.stationLine(id, record) ?? false)
  if (cluster instanceof ProcessCluster && plan !== null) story = new HaStory(cluster, plan, display, options.insecure)
  context.onCluster(cluster, story)
  const target = watchTarget(cluster, options, viewer.token)
  const watch = target === null ? [] : watchLines(target, options.hold)
  const runId = randomBytes(4).toString('hex')
  const workload = new Workload(cluster, interrupt, runId)
  const started = performance.now()
  const monitor = new Monitor(cluster, display, () => {
    const now = performance.now()
    return `${String(workload.rate.perSecond(now)).padStart(5)} commits/s | ${workload.acked.size} acked`
  })
  display.note(`  storage and configs in ${cluster.dir}${workspace.owned ? ' (removed at exit)' : ''}; this run's keys start with demo-${runId}-`)
  try {
    await cluster.startAll()
    display.event(`${cluster.ids.map((id) => `${id}${pidOf(cluster, id)}`).join(', ')} ready`)
    for (const line of watch) display.note(line)
    monitor.start()
    await monitor.until(() => monitor.leader !== null, interrupt)

    // A story step that times out is a failed check (exit 1), not a crash: the Raft part and
    // the closing checks still run, the timeline is still printed.
    let haFailure: string | null = null
    const step = async (fn: (s: HaStory) => Promise<void>): Promise<void> => {
      if (story === null || haFailure !== null) return
      try {
        await fn(story)
      } catch (err) {
        if (interrupt.aborted) throw err
        haFailure = err instanceof Error ? err.message : String(err)
        display.event(`HA STEP FAILED: ${haFailure}`)
      }
    }
    await step(async (s) => { await s.place(interrupt) })
    display.event(`writing unique keys from ${CLIENTS} concurrent clients for ${options.durationS} s`)
    workload.start()
    await step(async (s) => { await s.killWorker(interrupt) })
    await step(async (s) => { await s.killCoordinatorHost(interrupt, (id) => { monitor.killed(id) }) })
    const workloadStart = performance.now()
    await sleep(durationMs * 0.25, undefined, { signal: interrupt })

    const victim = monitor.leader?.id ?? cluster.ids[0]!
    const how = cluster instanceof ProcessCluster ? `SIGKILL leader ${victim}${pidOf(cluster, victim)}` : `stop leader ${victim} (node.close(), in-process)`
    display.event(how)
    monitor.killed(victim)
    const killedAt = performance.now()
    await cluster.kill(victim)
    workload.onAck((via) => {
      if (via === null || via === victim) return
      workload.onAck(() => {})
      const ackAt = performance.now()
      // The leader line first (monitor.ts: causal order), then this one. Station nodes forward
      // proposals, so the node that answered (`via`) need not be the leader: wait for the poll
      // that names the leader.
      void monitor.confirmLeader(via, ackAt)
        .then(async () => { await monitor.until(() => monitor.leader !== null && monitor.leader.id !== victim, interrupt) })
        .then(() => {
          display.event(`writes acknowledged again (leader ${monitor.leader!.id}, answered by ${via}), ${Math.round(ackAt - killedAt)} ms after the kill`)
        }, () => {})
    })

    await sleep(Math.max(0, workloadStart + durationMs * 0.5 - performance.now()), undefined, { signal: interrupt })
    const restartAt = performance.now()
    await cluster.start(victim)
    const catchUpTo = monitor.watchCatchUp(victim)
    display.event(`restarted ${victim}${pidOf(cluster, victim)} from its stored log in ${Math.round(performance.now() - restartAt)} ms; catching up to index ${catchUpTo}`)

    await sleep(Math.max(0, workloadStart + durationMs - performance.now()), undefined, { signal: interrupt })
    await workload.stop()
    const seconds = (performance.now() - workloadStart) / 1000
    display.event(`workload stopped: ${workload.acked.size} writes acknowledged (${Math.round(workload.acked.size / seconds)}/s on average)`)

    const keys = [...workload.acked.keys()]
    const values = await cluster.client.read(keys, { signal: AbortSignal.any([interrupt, AbortSignal.timeout(30_000)]) })
    const lost = keys.filter((k, i) => values[i] !== workload.acked.get(k))
    display.event(lost.length === 0
      ? `linearizable read of all ${keys.length} acknowledged keys: every value present`
      : `LOST ${lost.length} acknowledged writes, e.g. ${lost.slice(0, 3).join(', ')}`)

    const reports = await settledReports(cluster, interrupt)
    const hashes = new Set(reports.map((r) => r.stateHash))
    const r0 = reports[0]!
    display.event(hashes.size === 1
      ? `all ${reports.length} replicas agree at applied index ${r0.appliedIndex}: ${r0.keys} keys, state hash ${r0.stateHash.slice(0, 16)}`
      : `replicas DISAGREE at applied index ${r0.appliedIndex}: ${reports.map((r) => `${r.id}=${r.stateHash.slice(0, 12)}`).join(' ')}`)
    const ha = story === null ? [] : [...await story.check(interrupt), ...(haFailure === null ? [] : [{ ok: false, text: `a story step failed: ${haFailure}` }])]
    for (const c of ha) display.event(c.text)
    summary.push(...(story?.summary ?? []), `writes: ${workload.acked.size} acknowledged, lost: ${lost.length}; replicas ${hashes.size === 1 ? 'agree' : 'DISAGREE'}`, ...ha.map((c) => c.text))
    const code = lost.length === 0 && hashes.size === 1 && ha.every((c) => c.ok) ? 0 : 1
    if (options.hold) await context.hold(code, watch)
    return code
  } finally {
    monitor.stop()
    await workload.stop()
    await story?.close()
    await cluster.close()
    await workspace.remove()
    display.event(`cluster stopped${workspace.owned ? ', temporary directory removed' : `, data kept in ${workspace.dir}`} (${Math.round(performance.now() - started)} ms after start)`)
  }
}

async function main (options: DemoOptions): Promise<number> {
  if (!options.inProcess && !options.insecure && !await opensslAvailable()) {
    process.stderr.write(`quorate demo: ${OPENSSL_MISSING}\n`)
    return 1
  }
  const interrupt = new AbortController()
  // A reader that went away (`npm start | head`) stops the run like Ctrl-C, silently.
  const display = new Display(process.stdout, performance.now(), () => { interrupt.abort() })
  const onSignal = (signal: NodeJS.Signals): void => {
    // A second Ctrl-C exits at once; the exit hooks still SIGKILL the nodes and remove the
    // temporary directory (workspace.ts).
    if (interrupt.signal.aborted) process.exit(130)
    display.note(`\n${signal}: stopping the cluster and cleaning up (again to force)`)
    interrupt.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const live: { cluster: ClusterHandle | null, story: HaStory | null } = { cluster: null, story: null }
  const workspace = await DemoWorkspace.create(options.dir, () => {
    const c = live.cluster
    // Agents by pid, services by process group (negative: process.kill(-pgid) kills the group).
    return [...(c instanceof ProcessCluster ? c.ids.map((id) => c.pid(id)) : []), ...(live.story?.pids() ?? [])]
  })
  const summary: string[] = []
  let reported = false
  const report = (code: number): void => {
    if (reported) return
    reported = true
    display.printTimeline()
    if (summary.length > 0) display.note(`\nSummary (${code === 0 ? 'every check passed' : 'A CHECK FAILED'})\n${summary.map((l) => `  ${l}`).join('\n')}`)
  }
  // --hold: the report comes first, then the cluster stays up until Ctrl-C, SIGTERM or a closed
  // pipe aborts `interrupt`; that ends the hold like the end of the story (the run's own exit
  // code), and the usual cleanup follows.
  const hold = async (code: number, watch: readonly string[]): Promise<void> => {
    report(code)
    const kept = workspace.owned ? `and removes ${workspace.dir}` : `and keeps the data in ${workspace.dir}`
    display.note(`\nHolding (--hold): the station nodes, the agents and their services keep running. Watch them:\n${watch.slice(0, 2).join('\n')}\nCtrl-C (SIGINT) or SIGTERM stops everything ${kept}.`)
    await new Promise<void>((resolve) => {
      if (interrupt.signal.aborted) resolve()
      else interrupt.signal.addEventListener('abort', () => { resolve() }, { once: true })
    })
  }
  let code: number
  try {
    code = await run(options, { display, interrupt: interrupt.signal, workspace, summary, onCluster: (c, story) => { live.cluster = c; live.story = story }, hold })
  } catch (err) {
    if (!interrupt.signal.aborted) throw err
    code = display.closed ? 0 : 130
  } finally {
    await workspace.remove()
  }
  report(code)
  return code
}

await runDemoCommandLine(process.argv.slice(2), main)

/**
 * A node process's stderr line for the display: its JSON log records (pino layout) as
 * "log: <msg> (term T)", anything else as it came.
 */
function jsonRecord (line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null
  try { return JSON.parse(line) as Record<string, unknown> } catch { return null }
}

function describeNodeLine (line: string): string {
  if (line.startsWith('{')) {
    try {
      const record = JSON.parse(line) as { msg?: unknown, term?: unknown }
      if (typeof record.msg === 'string') return `log: ${record.msg}${typeof record.term === 'number' ? ` (term ${record.term})` : ''}`
    } catch {}
  }
  return `stderr: ${line}`
}

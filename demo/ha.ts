/**
 * The HA part of `npm start`: the 3 node processes are the tracking station (each mounts the
 * resource graph and runs a coordinator supervisor, src/cluster/station.ts); 3 worker nodes
 * are `quorate-agent` processes; 3 small demo services (demo/services/) are declared in the
 * graph and placed by the coordinator. The story kills a worker (its agent and its services,
 * SIGKILL), watches detection and the move, then kills the coordinator's host and watches a
 * new coordinator take over with a higher fencing token.
 *
 * What it knows, it learns from the processes themselves: the station nodes' log lines
 * (coordinator started / stopped with its token, each decision record their replica applied,
 * the graph's placement), the agents' stdout (commands as they arrive, events once the queue
 * committed them) and the services' beat files (demo/services/beat-file.ts). Every line it
 * prints follows what it reports: a move is printed after the decision that made it.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { createClientCertificate } from '../src/cluster/client-certs.js'
import type { ClusterNodeConfig } from '../src/cluster/config.js'
import { findFreePorts } from '../src/cluster/launcher.js'
import type { ProcessCluster } from '../src/cluster/launcher.js'
import type { AgentProcessConfig } from '../src/cluster/agent-process.js'
import { HA_KINDS, HA_RELATIONS, coordinatorSchema } from '../src/coordinator/schema.js'
import { ref } from '../src/graph/schema.js'
import type { NodeId } from '../src/raft/types.js'
import { AgentFleet } from './agents.js'
import type { BeatRecord } from './services/beat-file.js'
import type { Display } from './display.js'

export const WORKERS = ['w1', 'w2', 'w3'] as const
const HOST = '127.0.0.1'
const LEASE_MS = 2000
/** A beat record older than this is not a running service. */
const FRESH_MS = 1000
const STEP_TIMEOUT_MS = 20_000

type Address = { host: string, port: number }

interface Plan {
  readonly agents: Record<string, Address>
  readonly agentBeats: Record<string, Address>
  readonly stationBeats: Record<string, Address>
  readonly servicePorts: number[]
}

/** The ports of everything beyond the Raft nodes, picked before any config is written. */
export async function planHa (ids: readonly NodeId[]): Promise<Plan> {
  const ports = await findFreePorts(WORKERS.length * 2 + ids.length + 2, HOST)
  const take = (): Address => ({ host: HOST, port: ports.shift()! })
  const agents = Object.fromEntries(WORKERS.map((w) => [w, take()]))
  const agentBeats = Object.fromEntries(WORKERS.map((w) => [w, take()]))
  const stationBeats = Object.fromEntries(ids.map((id) => [id, take()]))
  return { agents, agentBeats, stationBeats, servicePorts: ports }
}

const others = (all: Record<string, Address>, self: string): Record<string, Address> => Object.fromEntries(Object.entries(all).filter(([id]) => id !== self))

/** The graph and coordinator sections of a station node's config. */
export function stationConfig (plan: Plan, id: NodeId): Pick<ClusterNodeConfig, 'graph' | 'coordinator'> {
  return {
    graph: { schema: { kinds: HA_KINDS, relations: HA_RELATIONS, roots: Object.keys(HA_KINDS) } },
    coordinator: {
      agents: plan.agents,
      leaseMs: LEASE_MS,
      heartbeat: { port: plan.stationBeats[id]!.port, peers: { ...others(plan.stationBeats, id), ...plan.agentBeats } }
    }
  }
}

interface Decision { readonly seq: number, readonly token: number, readonly rule: string, readonly input: string, readonly note: string, readonly at: number }

/** What the station's logs and the agents' lines have told so far. */
class Tracker {
  coordinators: Array<{ node: NodeId, token: number, at: number }> = []
  stopped = new Set<string>()
  decisions: Decision[] = []
  handled = new Set<string>()
  acked = new Set<string>()
  placement: Record<string, string> = {}
  token = 0
  queued = 0
  outbox = 0
  dead: Array<{ node: string, observer: string, at: number }> = []
  starts: Array<{ node: string, instance: string, token: number, at: number }> = []
  /** Set once the closing checks ran: the shutdown's own events (services stopped) are not the story. */
  quiet = false
  #lastSeq = -1

  constructor (readonly display: Display) {}

  /** The station node holding the coordinator now (started, not stopped), with its token. */
  current (): { node: NodeId, token: number } | undefined {
    for (let i = this.coordinators.length - 1; i >= 0; i--) {
      const c = this.coordinators[i]!
      if (!this.stopped.has(`${c.node}:${c.token}`)) return c
    }
    return undefined
  }

  /** A station node's JSON log line; true if it was one of the HA lines (else the demo shows it). */
  stationLine (node: NodeId, record: Record<string, unknown>): boolean {
    const now = performance.now()
    switch (record.msg) {
      case 'coordinator started':
        this.coordinators.push({ node, token: Number(record.token), at: now })
        this.display.event(`coordinator started on ${node} under lease quorate/coordinator, fencing token ${String(record.token)}`)
        return true
      case 'coordinator stopped':
        this.stopped.add(`${node}:${String(record.token)}`)
        if (!this.quiet) this.display.note(`  ${node}: coordinator (token ${String(record.token)}) stopped: ${String(record.reason)}`)
        return true
      case 'decision': {
        const seq = Number(record.seq)
        this.handled.add(String(record.input))
        if (seq <= this.#lastSeq) return true
        this.#lastSeq = seq
        const d: Decision = { seq, token: Number(record.token), rule: String(record.rule), input: String(record.input), note: String(record.note), at: now }
        this.decisions.push(d)
        if (d.note.length > 0 && !this.quiet) this.display.event(`decision #${seq} (token ${d.token}): ${d.note}`)
        return true
      }
      case 'graph':
        this.placement = record.placement as Record<string, string>
        this.token = Math.max(this.token, Number(record.token))
        this.queued = Number(record.queued)
        this.outbox = Number(record.outbox)
        return true
      case 'node-dead':
      case 'node-suspect':
      case 'node-alive':
        if (record.msg === 'node-dead') this.dead.push({ node: String(record.about), observer: node, at: now })
        return true
      default:
        return false
    }
  }
}

function nodeOfPlacement (p: string | undefined): string | undefined { return p?.split(':')[0] }
function stateOfPlacement (p: string | undefined): string | undefined { return p?.split(':')[1] }

export interface HaCheck { readonly ok: boolean, readonly text: string }

export class HaStory {
  readonly tracker: Tracker
  readonly fleet: AgentFleet
  readonly beats: string
  readonly #display: Display
  readonly #cluster: ProcessCluster
  readonly #plan: Plan
  readonly #insecure: boolean
  readonly #instances: string[] = ['counter-1', 'counter-2', 'ticker-1']
  readonly summary: string[] = []

  constructor (cluster: ProcessCluster, plan: Plan, display: Display, insecure: boolean) {
    this.#cluster = cluster
    this.#plan = plan
    this.#display = display
    this.#insecure = insecure
    this.tracker = new Tracker(display)
    this.beats = join(cluster.dir, 'beats')
    this.fleet = new AgentFleet({
      command: (node, c) => {
        if (c.kind === 'start' && c.instance !== null) this.tracker.starts.push({ node, instance: c.instance, token: c.token ?? 0, at: performance.now() })
      },
      event: (node, e) => {
        this.tracker.acked.add(e.id)
        if (e.type === 'node-dead') this.tracker.dead.push({ node: e.node, observer: e.observer ?? node, at: performance.now() })
      },
      stderr: (node, line) => { display.note(`  ${node} stderr: ${line}`) }
    })
  }

  /** Every pid the story knows of: agents, and (as negative process-group ids) services. */
  pids (): number[] {
    return [...this.fleet.pids, ...this.#beatRecords().map((b) => -b.pid)]
  }

  #beatRecords (): BeatRecord[] {
    let names: string[]
    try { names = readdirSync(this.beats).filter((n) => n.endsWith('.json')) } catch { return [] }
    return names.flatMap((n) => {
      try { return [JSON.parse(readFileSync(join(this.beats, n), 'utf8')) as BeatRecord] } catch { return [] }
    })
  }

  /** Running copies per instance: fresh beat records of live processes. */
  running (): Map<string, BeatRecord[]> {
    const now = Date.now()
    const out = new Map<string, BeatRecord[]>(this.#instances.map((i) => [i, []]))
    for (const b of this.#beatRecords()) if (now - b.at < FRESH_MS && alive(b.pid)) out.get(b.instance)?.push(b)
    return out
  }

  async #until (what: string, probe: () => boolean, signal: AbortSignal): Promise<void> {
    const limit = performance.now() + STEP_TIMEOUT_MS
    while (!probe()) {
      signal.throwIfAborted()
      if (performance.now() > limit) throw new Error(`timed out after ${STEP_TIMEOUT_MS} ms waiting for ${what}`)
      await sleep(25, undefined, { signal })
    }
  }

  /** Writes the agents' configs and certificates, declares the workers and services, starts the agents; resolves when every service runs. */
  async place (signal: AbortSignal): Promise<void> {
    const dir = this.#cluster.dir
    await mkdir(this.beats, { recursive: true })
    const certs = join(dir, 'certs')
    const stationIds = this.#cluster.ids
    let client: AgentProcessConfig['station']['client']
    if (!this.#insecure) {
      client = await createClientCertificate({ dir: certs, caCertFile: join(certs, 'ca.crt'), caKeyFile: join(certs, 'ca.key'), name: 'agents', role: 'read-write', file: 'client-agents' })
    }
    await this.fleet.configure(dir, WORKERS.map((w, j) => ({
      node: w,
      dir: join(dir, 'agents', w),
      listen: this.#plan.agents[w]!,
      ...(this.#insecure ? { insecure: true } : { tls: { keyFile: join(certs, `${stationIds.length + j}.key`), certFile: join(certs, `${stationIds.length + j}.crt`), caFile: join(certs, 'ca.crt') } }),
      station: { nodes: Object.fromEntries(stationIds.map((id) => [id, this.#cluster.clientAddress(id)])), ...(client === undefined ? {} : { client }) },
      heartbeat: { port: this.#plan.agentBeats[w]!.port, peers: { ...this.#plan.stationBeats, ...others(this.#plan.agentBeats, w) } },
      stopGraceMs: 2000
    })))
    await this.#until('a coordinator', () => this.tracker.current() !== undefined, signal)
    await this.#declare(signal)
    const started = performance.now()
    this.#display.event(`starting agents ${WORKERS.join(', ')}; each announces itself (node-alive) once it listens`)
    await Promise.all(WORKERS.map(async (w) => {
      await this.fleet.start(w)
      this.#display.event(`agent ${w} (pid ${String(this.fleet.pid(w))}) ready`)
    }))
    await this.#until('every service running once', () => [...this.running().values()].every((copies) => copies.length === 1) &&
      this.#instances.every((i) => stateOfPlacement(this.tracker.placement[i]) === 'running'), signal)
    const where = [...this.running()].map(([i, [b]]) => `${i} on ${b!.node} (pid ${b!.pid})`).join(', ')
    this.#display.event(`services placed by the coordinator and running: ${where}, ${Math.round(performance.now() - started)} ms after the agents started`)
  }

  async #declare (signal: AbortSignal): Promise<void> {
    const client = this.#cluster.quorateClient()
    try {
      const services = fileURLToPath(new URL('./services/', import.meta.url))
      const spec = (script: string, readiness: object): string => JSON.stringify({ command: process.execPath, args: [join(services, script)], readiness, stopGraceMs: 2000 })
      const instance = (service: string, parameters: Record<string, string>, group?: string): Record<string, unknown> => ({
        service, parameters: JSON.stringify({ ...parameters, beats: this.beats }), ...(group === undefined ? {} : { group }), state: 'starting', failures: 0, failuresSince: 0, attempt: 0, avoid: '{}'
      })
      const [p1, p2] = this.#plan.servicePorts
      const tx = client.graph(coordinatorSchema()).transaction()
      for (const w of WORKERS) tx.put(ref('ha.node', w), { kind: 'worker', labels: '', state: 'up' })
      tx.put(ref('ha.instance', 'counter-1'), instance(spec('counter.js', { kind: 'tcp', port: p1 }), { port: String(p1) }, 'counter') as never)
      tx.put(ref('ha.instance', 'counter-2'), instance(spec('counter.js', { kind: 'tcp', port: p2 }), { port: String(p2) }, 'counter') as never)
      tx.put(ref('ha.instance', 'ticker-1'), instance(spec('ticker.js', { kind: 'stdout', pattern: '^ready$' }), {}) as never)
      await tx.commit({ signal })
      this.#display.event(`declared in the graph: workers ${WORKERS.join(', ')} and services counter-1, counter-2 (anti-affinity group "counter", HTTP ports ${p1}, ${p2}) and ticker-1, none placed yet`)
    } finally {
      await client.close()
    }
  }

  /** SIGKILLs the worker running counter-1 (its agent and its services); resolves once they run elsewhere. */
  async killWorker (signal: AbortSignal): Promise<void> {
    const victim = nodeOfPlacement(this.tracker.placement['counter-1']) ?? 'w1'
    const mine = this.#beatRecords().filter((b) => b.node === victim)
    const killedAt = performance.now()
    const token = this.tracker.current()?.token
    await this.fleet.kill(victim)
    for (const b of mine) { try { process.kill(-b.pid, 'SIGKILL') } catch {} }
    this.#display.event(`SIGKILL worker ${victim}: its agent and its services ${mine.map((b) => `${b.instance} (pid ${b.pid})`).join(', ')}`)
    const moved = mine.map((b) => b.instance)
    await this.#until(`${victim} declared dead`, () => this.tracker.dead.some((d) => d.node === victim && d.at >= killedAt), signal)
    const dead = this.tracker.dead.find((d) => d.node === victim && d.at >= killedAt)!
    const detectMs = Math.round(dead.at - killedAt)
    this.#display.event(`${victim} declared dead by ${dead.observer}'s heartbeat monitor (refused connections, confirmed by a second observer), ${detectMs} ms after the kill`)
    await this.#until(`the coordinator moving ${moved.join(', ')}`, () => moved.every((i) => {
      const node = nodeOfPlacement(this.tracker.placement[i])
      return node !== undefined && node !== victim && node !== '-'
    }), signal)
    const decidedMs = Math.round(performance.now() - killedAt)
    await this.#until(`${moved.join(', ')} running elsewhere`, () => moved.every((i) => {
      const copies = this.running().get(i) ?? []
      return copies.length === 1 && copies[0]!.node !== victim && stateOfPlacement(this.tracker.placement[i]) === 'running'
    }), signal)
    const runningMs = Math.round(performance.now() - killedAt)
    const where = moved.map((i) => `${i} on ${this.running().get(i)![0]!.node}`).join(', ')
    this.#display.event(`moved and running again: ${where} (decided ${decidedMs} ms, running ${runningMs} ms after the kill, coordinator token ${String(token)})`)
    this.summary.push(`worker ${victim} killed: declared dead in ${detectMs} ms, services moved (decided) in ${decidedMs} ms, running elsewhere in ${runningMs} ms`)
  }

  /** SIGKILLs the station node running the coordinator; resolves once another one acts with a higher token, after restarting the killed node. */
  async killCoordinatorHost (signal: AbortSignal, onKill: (id: NodeId) => void): Promise<void> {
    const old = this.tracker.current()
    if (old === undefined) throw new Error('no coordinator is running')
    const wasLeader = await this.#cluster.client.status(old.node, { hash: false }).then((r) => r.role === 'leader', () => false)
    const killedAt = performance.now()
    onKill(old.node)
    this.#display.event(`SIGKILL ${old.node} (pid ${String(this.#cluster.pid(old.node))}): the coordinator's host (fencing token ${old.token})${wasLeader ? ', also the Raft leader' : ', a Raft follower'}`)
    await this.#cluster.kill(old.node)
    this.tracker.stopped.add(`${old.node}:${old.token}`)
    await this.#until('a new coordinator', () => this.tracker.coordinators.some((c) => c.at > killedAt && c.token > old.token), signal)
    const next = this.tracker.coordinators.find((c) => c.at > killedAt && c.token > old.token)!
    const ms = Math.round(next.at - killedAt)
    this.#display.event(`new coordinator on ${next.node}: fencing token ${next.token} > ${old.token}, ${ms} ms after the kill (lease ${LEASE_MS} ms)`)
    this.summary.push(`coordinator host ${old.node} killed: new coordinator on ${next.node} in ${ms} ms, fencing token ${old.token} -> ${next.token}`)
    await this.#cluster.start(old.node)
    this.#display.event(`restarted ${old.node} (pid ${String(this.#cluster.pid(old.node))}): its supervisor contends again`)
  }

  /** The closing checks: each service runs exactly once, where the graph places it; every acknowledged event was handled. */
  async check (signal: AbortSignal): Promise<HaCheck[]> {
    const settle = performance.now() + 10_000
    const unhandled = (): string[] => [...this.tracker.acked].filter((id) => !this.tracker.handled.has(id))
    // An event acknowledged to an agent just now (a restarted station node's node-alive, say)
    // is handled a watcher poll or two later; the `graph` line saying it is queued may come
    // after the acknowledgement, so "queued 0" alone does not mean it was decided. Lost means
    // still undecided when the settle time is up.
    while (performance.now() < settle && (this.tracker.queued > 0 || this.tracker.outbox > 0 || unhandled().length > 0 || ![...this.running().values()].every((c) => c.length === 1))) await sleep(50, undefined, { signal })
    const running = this.running()
    const wrong = [...running].filter(([i, copies]) => copies.length !== 1 || copies[0]!.node !== nodeOfPlacement(this.tracker.placement[i]))
    const lost = unhandled()
    const tokens = this.tracker.coordinators.map((c) => c.token)
    const increasing = tokens.every((t, i) => i === 0 || t > tokens[i - 1]!)
    this.tracker.quiet = true
    return [
      {
        ok: wrong.length === 0,
        text: wrong.length === 0
          ? `every service running exactly once, where the graph places it: ${[...running].map(([i, [b]]) => `${i}@${b!.node}`).join(', ')}`
          : `services NOT running exactly once: ${wrong.map(([i, c]) => `${i} x${c.length} (graph: ${String(this.tracker.placement[i])})`).join(', ')}`
      },
      {
        ok: lost.length === 0 && this.tracker.queued === 0,
        text: `events: ${this.tracker.acked.size} acknowledged to the agents, ${this.tracker.decisions.length} decisions, ${this.tracker.queued} still queued, lost: ${lost.length}${lost.length > 0 ? ` (${lost.slice(0, 3).join(', ')})` : ''}`
      },
      { ok: increasing, text: `fencing tokens of successive coordinators: ${tokens.join(' -> ')}${increasing ? ' (increasing)' : ' NOT INCREASING'}` }
    ]
  }

  async close (): Promise<void> {
    await this.fleet.close()
    // Services left by a killed agent (none if the story ran to its end) go with their groups.
    for (const b of this.#beatRecords()) { try { process.kill(-b.pid, 'SIGKILL') } catch {} }
  }
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

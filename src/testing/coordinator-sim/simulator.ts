/**
 * The coordinator simulation: a tracking station of 3 or 5 real RaftNodes (the lease table and
 * the graph machine on one router, one Raft group) on a MemoryNetwork with CrashStorage disks,
 * a LeaseManager and a Supervisor per station node running Coordinators, simulated node agents
 * on worker nodes, and monitors reporting failures into the events queue; all on one virtual
 * clock, every random choice from one seed.
 *
 * Faults (drawn per seed, or scripted): the coordinator's host killed (and restarted), frozen
 * for twice the lease then resumed (its timers, network and in-flight calls held, then
 * released), its coordinator hung past the ping timeout, partitions [2,1], [1,1,1] and
 * [2,2,1], clock drift within the lease's bound, wall-clock steps, instance crash loops,
 * worker nodes dying or cut off and coming back.
 *
 * Checked after every timer firing:
 * - never two coordinators acting at one instant of true time (acting: started, not exited,
 *   and `isLive()` — its lease valid by its own clock and not killed);
 * - every replica applies fenced graph writes in token order (an old epoch's write after a
 *   newer one is a violation: with the graph's fence check this cannot happen);
 * - every command an agent executed was committed in a decision's outbox first (persist
 *   before send), and an agent never executes an id twice;
 * - every event an entry trims has its decision recorded in that same entry (a batch never
 *   trims an event whose decision it does not carry);
 * and at the end, after every fault healed: a coordinator acts, the queue and the outbox are
 * empty, and each instance runs on exactly the node the graph places it on, nowhere else.
 */
import { RaftNode } from '../../node/node.js'
import { MemoryNetwork } from '../../transport/memory.js'
import { SeededRandom, randomInt } from '../../util/random.js'
import type { Random } from '../../util/random.js'
import type { Clock } from '../../util/clock.js'
import { StateMachineRouter } from '../../sm/router.js'
import { LeaseTable } from '../../lease/table.js'
import { LeaseManager } from '../../lease/manager.js'
import { GraphStateMachine } from '../../graph/state-machine.js'
import { Graph } from '../../graph/client.js'
import { EventsQueue } from '../../graph/events-client.js'
import { decodeCommand, encodeCommand } from '../../graph/codec.js'
import { ref } from '../../graph/schema.js'
import { encodeHaEvent } from '../../agent/protocol.js'
import type { AgentCommand, AgentReply, CommandChannel, HaEvent } from '../../agent/protocol.js'
import { QuorateError } from '../../errors.js'
import { Coordinator } from '../../coordinator/coordinator.js'
import { Supervisor } from '../../coordinator/supervisor.js'
import { coordinatorSchema } from '../../coordinator/schema.js'
import type { HaSpec } from '../../coordinator/schema.js'
import { coordinatorHooks, supervisorHooks } from '../../coordinator/test-hooks.js'
import { ManualClock } from '../manual-clock.js'
import { CrashStorage } from '../crash-storage.js'
import { NodeClock } from '../sim/node-clock.js'
import { ObservedTransport } from '../sim/observed-transport.js'
import { SimAgent } from './agents.js'

export const COORDINATOR_SIM_DEFAULTS = {
  leaseMs: 1000,
  tickMs: 20,
  maxDrift: 0.05,
  workers: 4,
  instances: 5,
  faultMs: 8000,
  settleMs: 20_000,
  minSettleMs: 1500,
  maxSteps: 2_000_000
} as const

export const COORDINATOR_SIM_LEASE = 'quorate/coordinator'

/** Deliberately broken behaviours the checkers must catch. */
export interface CoordinatorSimMutations {
  /** The supervisor fires the coordinator's signal and moves on without waiting or killing. */
  readonly skipStopWait?: boolean
  /** The graph machine ignores fences (the command's fence is dropped before apply). */
  readonly noGraphFence?: boolean
  /** The coordinator trims an event in its own entry before the change that handles it. */
  readonly trimBeforeChange?: boolean
  /** The coordinator trims a batch's last event without its decision (change, record and commands) in the entry. */
  readonly batchDropsLast?: boolean
}

export type CoordinatorFault =
  | { readonly at: number, readonly kind: 'crash-holder', readonly downFor: number }
  /**
   * The host pauses at its coordinator's next graph write (`during` 'ack': the next write
   * without a compare-and-set, an outbox acknowledgement; a crash loop is started to cause one)
   * and resumes after `duration`, the write then reaching the leader late.
   */
  | { readonly at: number, readonly kind: 'freeze-holder', readonly duration: number, readonly during?: 'commit' | 'ack' }
  | { readonly at: number, readonly kind: 'hang-coordinator', readonly duration: number }
  /** Station node i goes to group sides[i]. */
  | { readonly at: number, readonly kind: 'partition', readonly sides: readonly number[], readonly duration: number }
  | { readonly at: number, readonly kind: 'drift', readonly node: number, readonly rate: number }
  | { readonly at: number, readonly kind: 'wall-step', readonly node: number, readonly ms: number }
  /** Instance i exits `times` times, `every` ms apart (a crash loop). */
  | { readonly at: number, readonly kind: 'crash-loop', readonly instance: number, readonly times: number, readonly every: number }
  | { readonly at: number, readonly kind: 'worker-down', readonly worker: number, readonly processesDie: boolean, readonly downFor: number }
  /** Crash the coordinator's host at the mutant's trim-then-change gap (scripted, for the trim mutant). */
  | { readonly at: number, readonly kind: 'crash-between-trim-and-change' }

export interface CoordinatorSimOptions {
  readonly seed: number
  /** 3 or 5. @default drawn */
  readonly stationNodes?: number
  /** @default drawn from the seed */
  readonly faults?: readonly CoordinatorFault[]
  readonly mutations?: CoordinatorSimMutations
  /** @default COORDINATOR_SIM_DEFAULTS.faultMs */
  readonly faultMs?: number
  /** The coordinator lease's duration, ms (the benchmark runs the supervisor's default). @default COORDINATOR_SIM_DEFAULTS.leaseMs */
  readonly leaseMs?: number
  /** The coordinators' batchMaxEvents. @default drawn from the seed, 1..16 (1: no batching) */
  readonly batchMaxEvents?: number
  readonly log?: (line: string) => void
}

export interface CoordinatorSimResult {
  readonly seed: number
  readonly stationNodes: number
  readonly faults: readonly CoordinatorFault[]
  readonly violations: readonly string[]
  readonly liveness: readonly string[]
  readonly ok: boolean
  /** Host crashed or frozen -> a coordinator acting again elsewhere, true ms, one per such fault. */
  readonly failoverMs: readonly number[]
  readonly coverage: {
    readonly coordinators: number
    readonly decisions: number
    readonly executed: number
    readonly fencedAtAgents: number
    readonly fencedAtGraph: number
    readonly kills: number
    readonly restarts: number
  }
  readonly virtualMs: number
  /** The notes of the decisions kept in the most advanced replica's graph at the end, in order. */
  readonly decisions: readonly string[]
}

interface Station {
  readonly id: string
  readonly index: number
  clock: NodeClock
  wallOffset: number
  rate: number
  storage: CrashStorage
  node: RaftNode | null
  transport: ObservedTransport | null
  graph: ObservedGraph | null
  leases: LeaseManager | null
  supervisor: Supervisor | null
  down: boolean
  frozen: boolean
  /** Calls held while the host is frozen, released in order when it resumes. */
  held: Array<() => void>
  /** Proposes a graph command through this node's router. */
  propose: (command: Uint8Array, o?: { signal?: AbortSignal }) => Promise<unknown>
  /** A hang waiting for the coordinator's next step (taken by the first step that meets it). */
  hang: Promise<void> | null
  /** Freeze the host for this long at its coordinator's next commit (a pause with a write in flight). */
  freezeOnSubmit: { duration: number, ackOnly: boolean } | null
}

interface Instance { readonly host: string, readonly token: number, readonly isLive: () => boolean, exited: boolean, readonly coordinator: Coordinator }

const schema = coordinatorSchema()

/** The graph machine with an observer on every applied entry (and the no-fence mutant). */
class ObservedGraph extends GraphStateMachine {
  readonly #onApplied: ObservedGraph['onAppliedType']
  readonly #ignoreFence: boolean
  maxToken = 0
  constructor (onApplied: ObservedGraph['onAppliedType'], ignoreFence: boolean) {
    super(schema)
    this.#onApplied = onApplied
    this.#ignoreFence = ignoreFence
  }

  /** `undecided`: events the entry trims without recording their decision in it. */
  declare onAppliedType: (token: number | undefined, outboxIds: readonly string[], ok: boolean, code: string | undefined, undecided: readonly string[]) => void

  override apply (command: Uint8Array, index: number): ReturnType<GraphStateMachine['apply']> {
    let decoded
    try { decoded = decodeCommand(command) } catch { return super.apply(command, index) }
    const stripped = this.#ignoreFence && decoded.type === 'tx' && decoded.fence !== undefined
    const { fence: _dropped, ...unfenced } = decoded.type === 'tx' ? decoded : { fence: undefined }
    const r = super.apply(stripped ? encodeCommand(unfenced as typeof decoded) : command, index)
    if (decoded.type === 'tx') {
      const outbox = decoded.ops.filter((op) => op.op === 'put' && op.kind === 'ha.outbox').map((op) => (op as { id: string }).id.slice(4))
      const decided = new Set<string>()
      for (const op of decoded.ops) {
        if (op.op !== 'put' || op.kind !== 'ha.decision') continue
        const input = JSON.parse(String(op.fields.input)) as { kind: string, id?: string }
        if (input.kind === 'event' && input.id !== undefined) decided.add(input.id)
      }
      const undecided = decoded.trim.filter((id) => !decided.has(id))
      this.#onApplied(decoded.fence?.token, outbox, r.status === 'ok', r.status === 'refused' ? r.code : undefined, undecided)
    }
    return r
  }
}

export async function runCoordinatorSimulation (options: CoordinatorSimOptions): Promise<CoordinatorSimResult> {
  return await new CoordinatorSim(options).run()
}

class CoordinatorSim {
  readonly #o: CoordinatorSimOptions
  readonly #clock = new ManualClock()
  readonly #random: SeededRandom
  readonly #net: MemoryNetwork
  readonly #stations: Station[] = []
  readonly #agents = new Map<string, SimAgent>()
  readonly #instances: Instance[] = []
  readonly #violations: string[] = []
  readonly #liveness: string[] = []
  readonly #failover: number[] = []
  readonly #committedCommands = new Set<string>()
  readonly #executedIds = new Set<string>()
  readonly #faults: readonly CoordinatorFault[]
  readonly #mut: CoordinatorSimMutations
  readonly #leaseMs: number
  readonly #batchMaxEvents: number
  readonly #emitters = new AbortController()
  #waitingFailover: number | null = null
  /** The current partition: each station's group, and since when (true ms). */
  #partition: { readonly groupOf: ReadonlyMap<string, number>, readonly since: number } | null = null
  #trimCrashArmed = false
  #eventSeq = 0
  #coverage = { coordinators: 0, decisions: 0, executed: 0, fencedAtAgents: 0, fencedAtGraph: 0, kills: 0, restarts: 0 }
  readonly #instanceIds: string[]
  readonly #workers: string[]

  constructor (o: CoordinatorSimOptions) {
    this.#o = o
    this.#random = new SeededRandom(o.seed)
    const n = o.stationNodes ?? (this.#random.next() < 0.5 ? 3 : 5)
    this.#net = new MemoryNetwork({ clock: this.#clock, random: this.#random.fork(), latency: { min: 1, max: 4 } })
    this.#mut = o.mutations ?? {}
    this.#leaseMs = o.leaseMs ?? COORDINATOR_SIM_DEFAULTS.leaseMs
    // From a random of its own, so that adding it left every seed's other draws as they were.
    this.#batchMaxEvents = o.batchMaxEvents ?? 1 + randomInt(new SeededRandom(o.seed * 31 + 7), 0, 16)
    this.#workers = Array.from({ length: COORDINATOR_SIM_DEFAULTS.workers }, (_, i) => `w${i + 1}`)
    this.#instanceIds = Array.from({ length: COORDINATOR_SIM_DEFAULTS.instances }, (_, i) => `svc-${i + 1}`)
    for (let i = 0; i < n; i++) {
      this.#stations.push({ id: `s${i + 1}`, index: i, clock: new NodeClock(this.#clock), wallOffset: Math.floor(this.#random.next() * 1000), rate: 1, storage: new CrashStorage(), node: null, transport: null, graph: null, leases: null, supervisor: null, down: true, frozen: false, held: [], propose: async () => { throw new QuorateError('NODE_NOT_OPEN', 'down') }, hang: null, freezeOnSubmit: null })
    }
    this.#faults = o.faults ?? drawFaults(this.#random.fork(), n, o.faultMs ?? COORDINATOR_SIM_DEFAULTS.faultMs)
  }

  #log (line: string): void { this.#o.log?.(`${this.#clock.now().toFixed(1).padStart(8)} ${line}`) }

  #violation (what: string): void {
    if (this.#violations.length < 20) this.#violations.push(`t=${this.#clock.now()}: ${what}`)
    this.#log(`VIOLATION ${what}`)
  }

  // ---------------------------------------------------------------- the station

  async #start (s: Station): Promise<void> {
    s.clock = new NodeClock(this.#clock, s.rate)
    const router = new StateMachineRouter()
    const leaseRoute = router.mount('lease', new LeaseTable())
    const graph = new ObservedGraph((token, outbox, ok, code, undecided) => { this.#observeGraph(s, graph, token, outbox, ok, code, undecided) }, this.#mut.noGraphFence === true)
    const graphRoute = router.mount('graph', graph)
    s.transport = new ObservedTransport(this.#net.transport(s.id), { sent: () => {}, delivered: () => {} })
    const node = new RaftNode({
      id: s.id, voters: this.#stations.map((x) => x.id), storage: s.storage, transport: s.transport, stateMachine: router,
      clock: s.clock, random: this.#random.fork(), tickMs: COORDINATOR_SIM_DEFAULTS.tickMs, electionTicks: 10, forwardProposals: true, requestTimeoutTicks: 20
    })
    s.node = node
    s.graph = graph
    s.down = false
    await node.open()
    const leases = new LeaseManager({ node: leaseRoute.bind(node), table: leaseRoute.machine, clock: s.clock, maxDrift: COORDINATOR_SIM_DEFAULTS.maxDrift, maxLeaseDurationMs: this.#leaseMs, defaultDurationMs: this.#leaseMs })
    s.leases = leases
    const routed = graphRoute.bind(node)
    s.propose = async (c, o) => await routed.propose(c, o)
    const submit = async (command: Uint8Array, o?: { signal?: AbortSignal }): Promise<unknown> => {
      const armed = s.freezeOnSubmit
      if (armed !== null && (!armed.ackOnly || isAck(command))) { s.freezeOnSubmit = null; this.#freeze(s, armed.duration) }
      if (!s.frozen) return await this.#through(s, routed.propose(command, o))
      // Frozen with the write on its way: it goes out when the process resumes, whatever the
      // caller's deadline does meanwhile (the bytes were already handed to the network).
      await this.#pass(s)
      const sent = routed.propose(command)
      sent.then((r) => { this.#log(`${s.id}: the write held by the freeze applied: ${JSON.stringify(r).slice(0, 120)}`) }, (err) => { this.#log(`${s.id}: the write held by the freeze failed: ${String(err)}`) })
      return await this.#through(s, abortableWait(sent, o?.signal))
    }
    const barrier = async (o?: { signal?: AbortSignal }): Promise<void> => { await this.#pass(s); await this.#through(s, routed.read(o)) }
    const channel: CommandChannel = { send: async (to, command, o) => await this.#send(s, to, command, o?.signal) }
    const hooks = {
      beforeStep: async () => {
        await this.#pass(s)
        const hang = s.hang
        s.hang = null
        if (hang !== null) await hang
      },
      afterTrim: async () => {
        if (this.#trimCrashArmed) { this.#trimCrashArmed = false; this.#crashStation(s, 'between the trim and the change'); await new Promise(() => {}) }
      },
      ...(this.#mut.trimBeforeChange === true ? { trimBeforeChange: true } : {}),
      ...(this.#mut.batchDropsLast === true ? { batchDropsLast: true } : {})
    }
    const supervisorOptions = {
      leases,
      durationMs: this.#leaseMs,
      pingIntervalMs: 300,
      pingTimeoutMs: 200,
      stopGraceMs: 40,
      restartBackoffInitialMs: 50,
      restartBackoffMaxMs: 400,
      create: (ctx: { fence: { lease: string, token: number }, isLive: () => boolean }) => {
        const coordinator = new Coordinator(coordinatorHooks.with({
          machine: graph, submit, barrier, now: () => this.#wall(s), schema, channel, fence: ctx.fence, isLive: ctx.isLive, holder: s.id, clock: s.clock,
          settings: { restartBackoffInitialMs: 100, restartBackoffMaxMs: 800, maxRestarts: 2, failureExpiryMs: 4000, deferMs: 300, maxInFlight: 8 },
          commitTimeoutMs: 400, commandTimeoutMs: 200, retryMs: 50, batchMaxEvents: this.#batchMaxEvents
        }, hooks))
        const inst: Instance = { host: s.id, token: ctx.fence.token, isLive: ctx.isLive, exited: false, coordinator }
        this.#instances.push(inst)
        this.#coverage.coordinators++
        const run = coordinator.run.bind(coordinator)
        return {
          run: async (signal: AbortSignal) => { try { await run(signal) } finally { inst.exited = true } },
          ping: async (signal?: AbortSignal) => { await coordinator.ping(signal) }
        }
      }
    }
    const supervisor = new Supervisor(supervisorHooks.with(supervisorOptions, this.#mut.skipStopWait === true ? { skipStopWait: true } : {}))
    supervisor.on('stop', (e) => { if (e.killed) this.#coverage.kills++; if (e.reason === 'crashed' || e.reason === 'hung') this.#coverage.restarts++; this.#log(`${s.id} coordinator ${e.token}/${e.run} stopped: ${e.reason}${e.killed ? ' (killed)' : ''}`) })
    supervisor.on('start', (e) => { this.#log(`${s.id} coordinator ${e.token}/${e.run} started`) })
    s.supervisor = supervisor.open()
    this.#log(`${s.id} started`)
  }

  /** Wall-clock ms of station `s`: its monotonic clock plus an offset that steps. */
  #wall (s: Station): number { return Math.floor(s.clock.now() + s.wallOffset) }

  /** Resolves at once, or when the frozen host resumes. */
  async #pass (s: Station): Promise<void> {
    if (!s.frozen) return
    await new Promise<void>((resolve) => { s.held.push(resolve) })
  }

  /** `p`'s outcome, delivered only once the host is not frozen (a paused process sees replies late). */
  async #through<T> (s: Station, p: Promise<T>): Promise<T> {
    try {
      const v = await p
      await this.#pass(s)
      return v
    } catch (err) {
      await this.#pass(s)
      throw err
    }
  }

  #crashStation (s: Station, why: string): void {
    if (s.down) return
    this.#log(`${s.id} crashed (${why})`)
    s.down = true
    s.clock.kill()
    s.transport?.kill()
    if (s.frozen) { s.frozen = false; this.#net.resume(s.id) }
    for (const resolve of s.held.splice(0)) resolve()
    for (const inst of this.#instances) if (inst.host === s.id) inst.exited = true
    s.storage = s.storage.crash()
    void s.leases?.close()
    void s.node?.close()
    s.node = null; s.leases = null; s.supervisor = null; s.graph = null; s.transport = null
  }

  #holder (): Station | undefined {
    const acting = this.#instances.find((i) => !i.exited && i.isLive())
    return acting === undefined ? undefined : this.#stations.find((s) => s.id === acting.host)
  }

  // ---------------------------------------------------------------- agents and monitors

  async #send (from: Station, to: string, command: AgentCommand, signal: AbortSignal | undefined): Promise<AgentReply> {
    await this.#pass(from)
    const agent = this.#agents.get(to)
    const delay = 1 + randomInt(this.#random, 0, 4)
    const reply = await new Promise<AgentReply>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        if (agent === undefined || !agent.up || from.down) { reject(new QuorateError('AGENT_UNREACHABLE', `agent ${to} unreachable`)); return }
        resolve(agent.handle(command, this.#clock.now()))
      }, delay)
      const onAbort = (): void => { this.#clock.clearTimeout(timer); reject(new QuorateError('ABORTED', 'send aborted')) }
      if (signal?.aborted === true) { onAbort(); return }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
    await this.#pass(from)
    return reply
  }

  #observeExecuted (node: string, command: AgentCommand): void {
    this.#coverage.executed++
    const key = `${node}/${command.id}`
    if (this.#executedIds.has(key)) this.#violation(`agent ${node} executed command ${command.id} twice`)
    this.#executedIds.add(key)
    if (command.kind !== 'status' && !this.#committedCommands.has(command.id)) this.#violation(`agent ${node} executed ${command.kind} ${command.id} that no committed decision ordered (sent before it was persisted)`)
  }

  #observeGraph (s: Station, g: ObservedGraph, token: number | undefined, outbox: readonly string[], ok: boolean, code: string | undefined, undecided: readonly string[]): void {
    if (!ok) { if (code === 'LEASE_FENCED') this.#coverage.fencedAtGraph++; return }
    for (const id of undecided) this.#violation(`${s.id}'s graph trimmed event ${id} in an entry that does not record its decision (the event's effect is lost)`)
    for (const id of outbox) this.#committedCommands.add(id)
    if (outbox.length > 0 || token !== undefined) this.#coverage.decisions += outbox.length > 0 ? 1 : 0
    if (token === undefined) return
    if (token < g.maxToken) this.#violation(`${s.id}'s graph applied a write of token ${token} after one of token ${g.maxToken} (an old epoch's write took effect)`)
    g.maxToken = Math.max(g.maxToken, token)
  }

  /** A monitor or agent report, emitted into the queue through any live station node until committed. */
  #report (event: HaEvent): void {
    const id = `ev-${++this.#eventSeq}`
    const payload = encodeHaEvent(event)
    const attempt = async (): Promise<void> => {
      for (let i = 0; i < 200 && !this.#emitters.signal.aborted; i++) {
        const live = this.#stations.filter((x) => !x.down && !x.frozen && x.node !== null)
        const s = live[randomInt(this.#random, 0, Math.max(1, live.length))]
        if (s?.node !== null && s?.node !== undefined && s.graph !== null) {
          const events = new EventsQueue({ machine: s.graph, submit: s.propose, now: () => this.#wall(s), clock: this.#clock, random: this.#random, attemptTimeoutMs: 300, backoffMaxMs: 100 })
          const limit = new AbortController()
          const timer = this.#clock.setTimeout(() => { limit.abort() }, 1000)
          try { await events.emit({ id, payload }, { signal: limit.signal }); return } catch { /* another node */ } finally { this.#clock.clearTimeout(timer) }
        }
        await new Promise<void>((resolve) => { this.#clock.setTimeout(resolve, 50) })
      }
    }
    void attempt()
  }

  // ---------------------------------------------------------------- faults

  #apply (f: CoordinatorFault): void {
    const holder = this.#holder()
    switch (f.kind) {
      case 'crash-holder':
        if (holder === undefined) return
        this.#crashStation(holder, 'fault')
        this.#waitingFailover = this.#clock.now()
        this.#clock.setTimeout(() => { if (holder.down) void this.#start(holder) }, f.downFor)
        return
      case 'freeze-holder':
        if (holder === undefined || holder.frozen) return
        // Frozen at its next commit, so that a write is in flight while it is paused; as a
        // follower (leadership moved away first), so that the write reaches the new leader late.
        if (holder.node?.status().role === 'leader') holder.node.transferLeadership().catch(() => {})
        this.#clock.setTimeout(() => {
          holder.freezeOnSubmit = { duration: f.duration, ackOnly: f.during === 'ack' }
          if (f.during === 'ack') this.#apply({ at: 0, kind: 'crash-loop', instance: 2, times: 1, every: 1 })
          else this.#poke()
        }, 300)
        return
      case 'hang-coordinator': {
        if (holder === undefined || holder.frozen) return
        this.#log(`${holder.id}'s coordinator hangs for ${f.duration} ms`)
        // Only the coordinator's loop is held (its next step), not the host.
        holder.hang = new Promise<void>((resolve) => { this.#clock.setTimeout(resolve, f.duration) })
        this.#poke()
        return
      }
      case 'partition': {
        const groups = new Map<number, string[]>()
        this.#stations.forEach((s, i) => { const g = f.sides[i % f.sides.length]!; groups.set(g, [...(groups.get(g) ?? []), s.id]) })
        this.#log(`partition ${[...groups.values()].map((g) => `{${g.join(',')}}`).join(' ')} for ${f.duration} ms`)
        this.#net.partition(...groups.values())
        const groupOf = new Map<string, number>()
        for (const [g, ids] of groups) for (const id of ids) groupOf.set(id, g)
        const mine = { groupOf, since: this.#clock.now() }
        this.#partition = mine
        this.#clock.setTimeout(() => { this.#net.heal(); if (this.#partition === mine) this.#partition = null; this.#log('healed') }, f.duration)
        return
      }
      case 'drift': {
        const s = this.#stations[f.node % this.#stations.length]!
        s.rate = f.rate
        if (!s.down) s.clock.setRate(f.rate)
        return
      }
      case 'wall-step': {
        const s = this.#stations[f.node % this.#stations.length]!
        s.wallOffset += f.ms
        this.#log(`${s.id} wall clock steps ${f.ms} ms`)
        return
      }
      case 'crash-loop': {
        const id = this.#instanceIds[f.instance % this.#instanceIds.length]!
        for (let k = 0; k < f.times; k++) {
          this.#clock.setTimeout(() => {
            for (const a of this.#agents.values()) if (a.crashInstance(id, this.#clock.now())) this.#log(`${id} exits on ${a.node}`)
          }, k * f.every)
        }
        return
      }
      case 'worker-down': {
        const a = this.#agents.get(this.#workers[f.worker % this.#workers.length]!)!
        if (!a.up) return
        a.down(f.processesDie)
        this.#log(`${a.node} down (${f.processesDie ? 'dead' : 'cut off'}) for ${f.downFor} ms`)
        this.#clock.setTimeout(() => { this.#report({ type: 'node-dead', node: a.node, observer: 'monitor', at: this.#clock.now() }) }, 100)
        this.#clock.setTimeout(() => {
          a.up = true
          this.#log(`${a.node} back`)
          this.#report({ type: 'node-alive', node: a.node, observer: 'monitor', at: this.#clock.now() })
        }, f.downFor)
        return
      }
      case 'crash-between-trim-and-change':
        this.#trimCrashArmed = true
        // The next event the coordinator handles crashes it between the two entries.
        this.#report({ type: 'instance-exited', node: this.#placementOf(this.#instanceIds[0]!) ?? 'w1', instance: this.#instanceIds[0]!, exitCode: 1, signal: null, at: this.#clock.now() })
        for (const a of this.#agents.values()) a.running.delete(this.#instanceIds[0]!)
    }
  }

  /** A report no built-in rule acts on: the coordinator takes a step (and meets a pending hang or freeze). */
  #poke (): void { this.#report({ type: 'resource-health', node: 'w1', resource: 'probe', healthy: true, detail: 'probe', at: this.#clock.now() }) }

  #freeze (s: Station, duration: number): void {
    if (s.down || s.frozen) return
    this.#log(`${s.id} frozen for ${duration} ms`)
    s.frozen = true
    s.clock.pause()
    this.#net.pause(s.id)
    this.#waitingFailover = this.#clock.now()
    this.#clock.setTimeout(() => {
      if (s.down || !s.frozen) return
      this.#log(`${s.id} resumed`)
      s.frozen = false
      this.#net.resume(s.id)
      s.clock.resume()
      for (const resolve of s.held.splice(0)) resolve()
    }, duration)
  }

  #placementOf (instance: string): string | undefined {
    const s = this.#stations.find((x) => !x.down && x.graph !== null)
    if (s === undefined) return undefined
    return new Graph(schema as never, { machine: s.graph!, submit: async () => undefined }).local().neighbours(instance, 'ha.runs', 'in')[0]?.id
  }

  // ---------------------------------------------------------------- the run

  #check (): void {
    const acting = this.#instances.filter((i) => !i.exited && i.isLive())
    if (acting.length > 1) this.#violation(`two coordinators acting at once: ${acting.map((i) => `${i.host}/token ${i.token}`).join(', ')}`)
    // Without quorum a coordinator may act only until its lease runs out (it cannot renew).
    const p = this.#partition
    if (p !== null && acting.length === 1 && this.#clock.now() - p.since > this.#leaseMs * (1 + COORDINATOR_SIM_DEFAULTS.maxDrift)) {
      const group = p.groupOf.get(acting[0]!.host)
      const size = [...p.groupOf.values()].filter((g) => g === group).length
      if (size * 2 <= this.#stations.length) this.#violation(`coordinator on ${acting[0]!.host} still acting ${Math.round(this.#clock.now() - p.since)} ms into a partition that left it without quorum`)
    }
    if (this.#waitingFailover !== null && acting.length === 1 && acting[0]!.coordinator.stats.decisions + acting[0]!.coordinator.stats.sent >= 0 && acting[0]!.coordinator.running) {
      const host = this.#stations.find((s) => s.id === acting[0]!.host)
      if (host !== undefined && !host.frozen) { this.#failover.push(this.#clock.now() - this.#waitingFailover); this.#waitingFailover = null }
    }
  }

  async #runFor (ms: number, until?: () => boolean): Promise<void> {
    const end = this.#clock.now() + ms
    let steps = 0
    while (this.#clock.now() < end) {
      if (until?.() === true) return
      const due = this.#clock.nextDue()
      if (due === undefined || due > end) { this.#clock.advance(end - this.#clock.now()); break }
      this.#clock.runNext()
      await new Promise<void>((resolve) => { setImmediate(resolve) })
      this.#check()
      if (++steps > COORDINATOR_SIM_DEFAULTS.maxSteps) { this.#liveness.push('step limit reached (livelock?)'); return }
      if (this.#violations.length > 0) return
    }
  }

  async run (): Promise<CoordinatorSimResult> {
    for (const w of this.#workers) this.#agents.set(w, new SimAgent(w, { executed: (n, c) => { this.#observeExecuted(n, c) }, fenced: () => { this.#coverage.fencedAtAgents++ } }, (e) => { this.#report(e) }))
    for (const s of this.#stations) await this.#start(s)
    // The graph's initial content: workers and instances, placed round-robin (an operator's first write).
    await this.#runFor(3000, () => this.#holder() !== undefined)
    await this.#seed()
    const t0 = this.#clock.now()
    for (const f of this.#faults) this.#clock.setTimeout(() => { this.#apply(f) }, f.at)
    await this.#runFor(this.#o.faultMs ?? COORDINATOR_SIM_DEFAULTS.faultMs)
    // Heal: every node up and unfrozen, network whole, workers back; then the system must settle.
    this.#net.heal()
    this.#partition = null
    for (const s of this.#stations) {
      if (s.frozen) { s.frozen = false; this.#net.resume(s.id); s.clock.resume(); for (const r of s.held.splice(0)) r() }
      if (s.down) await this.#start(s)
    }
    for (const a of this.#agents.values()) if (!a.up) { a.up = true; this.#report({ type: 'node-alive', node: a.node, observer: 'monitor', at: this.#clock.now() }) }
    // Give the reports of the heal time to arrive before asking whether everything settled.
    if (this.#violations.length === 0) await this.#runFor(COORDINATOR_SIM_DEFAULTS.minSettleMs)
    if (this.#violations.length === 0) await this.#runFor(COORDINATOR_SIM_DEFAULTS.settleMs, () => this.#settled() === undefined)
    const unsettled = this.#violations.length === 0 ? this.#settled() : undefined
    if (unsettled !== undefined) this.#liveness.push(unsettled)
    this.#emitters.abort()
    const decisions = this.#decisionNotes()
    for (const s of this.#stations) if (!s.down) { void s.supervisor?.close(); this.#crashStation(s, 'end of run') }
    return {
      seed: this.#o.seed,
      stationNodes: this.#stations.length,
      faults: this.#faults,
      violations: this.#violations,
      liveness: this.#liveness,
      ok: this.#violations.length === 0 && this.#liveness.length === 0,
      failoverMs: this.#failover,
      coverage: { ...this.#coverage },
      virtualMs: this.#clock.now() - t0,
      decisions
    }
  }

  #decisionNotes (): string[] {
    const top = this.#stations.filter((s) => !s.down && s.graph !== null).sort((a, b) => b.graph!.appliedIndex - a.graph!.appliedIndex)[0]
    if (top === undefined) return []
    const view = new Graph(schema as never, { machine: top.graph!, submit: async () => undefined }).local() as unknown as ReturnType<Graph<HaSpec>['local']>
    return view.byKind('ha.decision').sort((a, b) => a.fields.seq - b.fields.seq).map((d) => `${d.fields.rule}: ${d.fields.note}`)
  }

  async #seed (): Promise<void> {
    const s = this.#stations.find((x) => !x.down && x.node !== null)!
    const graph = new Graph(schema as never, { machine: s.graph!, submit: s.propose, now: () => this.#wall(s) }) as unknown as Graph<HaSpec>
    const tx = graph.transaction()
    for (const w of this.#workers) tx.put(ref('ha.node', w), { kind: 'worker', labels: '', state: 'up' })
    this.#instanceIds.forEach((id, i) => {
      const w = this.#workers[i % this.#workers.length]!
      tx.put(ref('ha.instance', id), { service: JSON.stringify({ command: 'svc', args: [id] }), parameters: '{}', state: 'starting', failures: 0, failuresSince: 0, attempt: 0, avoid: '{}', ...(i < 2 ? { group: 'pair' } : {}) })
      tx.connect('ha.runs', ref('ha.node', w), ref('ha.instance', id))
    })
    for (let i = 0; i < 50; i++) {
      try { await this.#await(tx.commit()); break } catch { await this.#runFor(100) }
    }
    // Start every instance where placed (as an operator's deployment would).
    this.#instanceIds.forEach((id, i) => { this.#agents.get(this.#workers[i % this.#workers.length]!)!.running.set(id, 0) })
  }

  async #await<T> (p: Promise<T>): Promise<T> {
    let done = false
    const watched = p.finally(() => { done = true })
    watched.catch(() => {})
    await this.#runFor(5000, () => done)
    return await watched
  }

  /** Why the system has not settled yet, or undefined once it has. */
  #settled (): string | undefined {
    const acting = this.#instances.filter((i) => !i.exited && i.isLive())
    if (acting.length !== 1) return `${acting.length} coordinators acting after the faults healed`
    const host = this.#stations.find((s) => s.id === acting[0]!.host)!
    const g = host.graph!
    if (g.events.list().length > 0) return `${g.events.list().length} events still queued`
    const view = new Graph(schema as never, { machine: g, submit: async () => undefined }).local() as unknown as ReturnType<Graph<HaSpec>['local']>
    if (view.byKind('ha.outbox').length > 0) return `${view.byKind('ha.outbox').length} commands unacknowledged`
    if (view.byKind('ha.phase').length > 0) return `${view.byKind('ha.phase').length} phases pending`
    for (const id of this.#instanceIds) {
      const placed = view.neighbours(id, 'ha.runs', 'in')[0]?.id
      const runningOn = [...this.#agents.values()].filter((a) => a.running.has(id)).map((a) => a.node)
      if (placed === undefined || runningOn.length !== 1 || runningOn[0] !== placed) return `${id} is placed on ${placed ?? 'no node'} but runs on [${runningOn.join(', ')}]`
    }
    return undefined
  }
}

/** A fenced write without a compare-and-set (the coordinator's outbox acknowledgements). */
function isAck (command: Uint8Array): boolean {
  try {
    const d = decodeCommand(command)
    return d.type === 'tx' && d.fence !== undefined && d.expect.length === 0 && d.trim.length === 0
  } catch { return false }
}

/** `p`, or ABORTED when `signal` fires first (the operation itself goes on). */
async function abortableWait<T> (p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return await p
  if (signal.aborted) throw new QuorateError('ABORTED', 'aborted')
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(new QuorateError('ABORTED', 'aborted')) }
    signal.addEventListener('abort', onAbort, { once: true })
    p.then((v) => { signal.removeEventListener('abort', onAbort); resolve(v) }, (e) => { signal.removeEventListener('abort', onAbort); reject(e) })
  })
}

/** A fault schedule for one seed: each seed draws a few of every kind over the fault phase. */
export function drawFaults (random: Random, stations: number, faultMs: number): CoordinatorFault[] {
  const at = (): number => 500 + Math.floor(random.next() * (faultMs - 2000))
  const out: CoordinatorFault[] = []
  const lease = COORDINATOR_SIM_DEFAULTS.leaseMs
  const shapes = stations === 3 ? [[0, 0, 1], [0, 1, 2]] : [[0, 0, 1, 1, 2], [0, 1, 2, 0, 1]]
  const pick = (): number => random.next()
  if (pick() < 0.6) out.push({ at: at(), kind: 'crash-holder', downFor: 500 + Math.floor(pick() * 3000) })
  if (pick() < 0.5) out.push({ at: at(), kind: 'freeze-holder', duration: 2 * lease + Math.floor(pick() * lease), during: pick() < 0.5 ? 'commit' : 'ack' })
  if (pick() < 0.3) out.push({ at: at(), kind: 'hang-coordinator', duration: 400 + Math.floor(pick() * 800) })
  if (pick() < 0.5) out.push({ at: at(), kind: 'partition', sides: shapes[randomInt(random, 0, shapes.length)]!, duration: 500 + Math.floor(pick() * 3000) })
  const bound = COORDINATOR_SIM_DEFAULTS.maxDrift / 2.2
  for (let i = 0; i < 2; i++) if (pick() < 0.5) out.push({ at: at(), kind: 'drift', node: randomInt(random, 0, stations), rate: 1 - bound + 2 * bound * pick() })
  if (pick() < 0.4) out.push({ at: at(), kind: 'wall-step', node: randomInt(random, 0, stations), ms: Math.floor((pick() - 0.5) * 20_000) })
  if (pick() < 0.7) out.push({ at: at(), kind: 'crash-loop', instance: randomInt(random, 0, 8), times: 1 + randomInt(random, 0, 5), every: 150 + Math.floor(pick() * 600) })
  if (pick() < 0.5) out.push({ at: at(), kind: 'worker-down', worker: randomInt(random, 0, 8), processesDie: pick() < 0.5, downFor: 500 + Math.floor(pick() * 4000) })
  return out.sort((a, b) => a.at - b.at)
}

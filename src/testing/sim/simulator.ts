/**
 * The deterministic cluster simulator: real `RaftNode`s (the production shell) on a
 * `MemoryNetwork` with `CrashStorage` disks, in one process, on virtual time. Everything
 * random comes from one `SeededRandom(seed)`, so one seed replays a run exactly (the trace
 * hash proves it).
 *
 * A run: the cluster starts; clients issue operations while faults from the schedule hit the
 * network, disks, processes and clocks (the fault phase); then every fault is healed and the
 * cluster must elect a leader and settle every pending operation within 10 election timeouts
 * (the liveness phase). The safety checkers run after every step; at the end the clients'
 * history is checked for linearizability.
 *
 * Driving virtual time: the global `ManualClock` fires one due timer at a time, and after each
 * the simulator lets every microtask run (storage writes resolve in microtasks) before it
 * fires the next. Nothing waits on a real timer.
 *
 * @example
 * const result = await runSimulation({ seed: 42 })
 * if (!result.ok) console.log(result.violations, result.liveness, result.linearizability)
 */
import { RaftNode } from '../../raft/node.js'
import type { NodeMutations, NodeStatus } from '../../raft/node.js'
import type { StateMachine } from '../../raft/state-machine.js'
import type { Message, NodeId } from '../../raft/types.js'
import { RAFT_DEFAULTS } from '../../raft/options.js'
import { MemoryNetwork } from '../../transport/memory.js'
import { SeededRandom, randomInt } from '../../util/random.js'
import { QuorateError, isQuorateError } from '../../errors.js'
import type { ErrorCode } from '../../errors.js'
import { check, checkInt } from '../../util/validate.js'
import { ManualClock } from '../manual-clock.js'
import { CrashStorage } from '../crash-storage.js'
import { HistoryRecorder } from '../history.js'
import type { Operation } from '../history.js'
import { checkLinearizability } from '../linearizability.js'
import { NodeClock } from './node-clock.js'
import { ObservedTransport } from './observed-transport.js'
import { SafetyChecker } from './checkers.js'
import type { Violation } from './checkers.js'
import { DEFAULT_FAULT_RANGES, LEADER, describeFault, drawFaultSchedule } from './faults.js'
import type { FaultEvent, FaultRanges } from './faults.js'
import { SimTrace } from './trace.js'
import { kvSimWorkload } from './workload.js'
import type { SimWorkload } from './workload.js'

export const SIM_DEFAULTS = {
  tickMs: 10,
  electionTicks: 10,
  electionJitterTicks: 10,
  heartbeatTicks: 2,
  clients: 3,
  maxThinkMs: 20,
  livenessElectionTimeouts: 10,
  clientTimeoutElectionTimeouts: 20,
  checkTimeoutMs: 10_000,
  keys: 3
} as const

export interface SimulationOptions<Input = any, Output = any> {
  /** Reproduces the run: the cluster size (if not given), faults, timings and workload all derive from it. */
  seed: number
  /** Cluster size. @default 3 or 5, drawn from the seed */
  nodes?: number
  /** The fault schedule. @default drawn from the seed within `faultRanges` */
  faults?: readonly FaultEvent[]
  /** Ranges the default schedule is drawn from; also sets the length of the fault phase. @default DEFAULT_FAULT_RANGES */
  faultRanges?: Partial<FaultRanges>
  /** @default 10 */
  tickMs?: number
  /** @default 10 */
  electionTicks?: number
  /** @default 10 */
  electionJitterTicks?: number
  /** @default 2 */
  heartbeatTicks?: number
  /** @default true (RAFT_DEFAULTS.preVote) */
  preVote?: boolean
  /** @default true (RAFT_DEFAULTS.checkQuorum) */
  checkQuorum?: boolean
  /**
   * Largest append message. Small values (1: one entry per message) make replication advance
   * entry by entry, which exposes commit-rule bugs (Figure 8). @default 1 or 1 MiB, drawn from the seed
   */
  maxMessageBytes?: number
  /** Concurrent clients. @default 3 */
  clients?: number
  /** Longest pause between a client's operations, ms. @default 20 */
  maxThinkMs?: number
  /** A client gives up on an operation after this long (its outcome is then unknown). @default 20 election timeouts */
  clientTimeoutMs?: number
  /** The state machine and client operations. @default kvSimWorkload({ keys: 3 }) */
  workload?: SimWorkload<Input, Output, any>
  /** Deliberately broken behaviours (the mutation check). @default none */
  mutations?: NodeMutations
  /** Linearizability checker time budget; running out is a failure. @default 10000 */
  checkTimeoutMs?: number
  /** Stop at the first safety violation (skipping liveness and linearizability). @default true */
  stopOnViolation?: boolean
  /** Receives the readable event log (verbose replay). @default none */
  log?: (line: string) => void
}

export interface SimulationResult {
  readonly seed: number
  readonly nodes: readonly NodeId[]
  readonly faults: readonly FaultEvent[]
  readonly violations: readonly Violation[]
  /** Liveness failures after the faults stopped, one line each. */
  readonly liveness: readonly string[]
  /** 'skipped' when the run stopped at a safety violation. */
  readonly linearizability: 'ok' | 'illegal' | 'timeout' | 'skipped'
  readonly linearizabilityExplanation?: string
  /** Hash of the trace: equal for two runs of one seed. */
  readonly traceHash: string
  readonly events: number
  readonly virtualMs: number
  readonly operations: { readonly ok: number, readonly failed: number, readonly unknown: number }
  readonly history: ReadonlyArray<Operation<unknown, unknown>>
  /** No violation, no liveness failure, and a linearizable history. */
  readonly ok: boolean
}

/** Runs one simulation. Never rejects for a finding: violations are in the result. */
export async function runSimulation<Input, Output> (options: SimulationOptions<Input, Output>): Promise<SimulationResult> {
  return await new Simulation(options).run()
}

interface Member {
  readonly id: NodeId
  node: RaftNode | null
  machine: StateMachine | null
  transport: ObservedTransport | null
  clock: NodeClock | null
  storage: CrashStorage
  incarnation: number
  rate: number
  down: boolean
  paused: boolean
}

/** Errors after which the operation certainly had no effect. */
const DEFINITE_FAILURES = new Set<ErrorCode>(['RAFT_NOT_LEADER', 'RAFT_PROPOSAL_DROPPED', 'RAFT_TRANSFER_IN_PROGRESS', 'RAFT_PROPOSAL_TOO_LARGE', 'NODE_NOT_OPEN'])

interface AppliedResult { readonly index: number, readonly value: unknown }

interface ClientOp {
  readonly invoke: number
  readonly node: NodeId
  readonly describe: string
  readonly abort: AbortController
  timer: ReturnType<ManualClock['setTimeout']>
}

function validate (o: SimulationOptions): void {
  const C = 'SimulationOptions'
  check(typeof o === 'object' && o !== null, C, '(options)', 'an object', o)
  checkInt(o.seed, C, 'seed', 0, 0xffffffff)
  if (o.nodes !== undefined) checkInt(o.nodes, C, 'nodes', 1, 15)
  if (o.faults !== undefined) check(Array.isArray(o.faults), C, 'faults', 'an array of fault events', typeof o.faults)
  for (const f of ['maxMessageBytes', 'tickMs', 'electionTicks', 'electionJitterTicks', 'heartbeatTicks', 'clients', 'clientTimeoutMs', 'checkTimeoutMs'] as const) {
    if (o[f] !== undefined) checkInt(o[f], C, f, 1)
  }
  if (o.maxThinkMs !== undefined) checkInt(o.maxThinkMs, C, 'maxThinkMs', 0)
}

class Simulation<Input, Output> {
  readonly #o: SimulationOptions<Input, Output>
  readonly #random: SeededRandom
  readonly #clock = new ManualClock(0)
  readonly #network: MemoryNetwork
  readonly #ids: NodeId[]
  readonly #members = new Map<NodeId, Member>()
  readonly #faults: FaultEvent[]
  /** Random choices made while faults strike (after the schedule was drawn). */
  readonly #faultRandom: SeededRandom
  readonly #faultMs: number
  readonly #maxMessageBytes: number
  readonly #livenessMs: number
  readonly #clientTimeoutMs: number
  readonly #workload: SimWorkload<Input, Output, StateMachine>
  readonly #trace: SimTrace
  readonly #checker: SafetyChecker
  readonly #recorder = new HistoryRecorder<Input, Output>()
  readonly #liveness: string[] = []
  readonly #inflight = new Set<ClientOp>()
  readonly #lastCommit = new Map<NodeId, number>()
  #clogged: [NodeId, NodeId] | null = null
  /** While an isolateLeaders fault lasts: its settings and when it ends. */
  #leaderIsolator: { until: number, delayMs: number, isolateFor: number } | null = null
  /** Nodes cut off by isolateLeaders (apart from the network's partitions, each rejoins on its own). */
  readonly #isolated = new Set<NodeId>()
  #healed = false
  #counts = { ok: 0, failed: 0, unknown: 0 }

  constructor (options: SimulationOptions<Input, Output>) {
    validate(options)
    this.#o = options
    this.#random = new SeededRandom(options.seed)
    const size = options.nodes ?? (this.#random.next() < 0.5 ? 3 : 5)
    this.#ids = Array.from({ length: size }, (_, i) => `n${i + 1}`)
    this.#maxMessageBytes = options.maxMessageBytes ?? (this.#random.next() < 0.5 ? 1 : RAFT_DEFAULTS.maxMessageBytes)
    const ranges: FaultRanges = { ...DEFAULT_FAULT_RANGES, ...options.faultRanges }
    const faultRandom = this.#random.fork()
    this.#faults = options.faults !== undefined ? [...options.faults] : drawFaultSchedule(faultRandom, ranges)
    this.#faultRandom = faultRandom
    this.#faultMs = ranges.durationMs
    const electionMaxMs = this.#tickMs * (this.#electionTicks + (options.electionJitterTicks ?? SIM_DEFAULTS.electionJitterTicks))
    this.#livenessMs = SIM_DEFAULTS.livenessElectionTimeouts * electionMaxMs
    this.#clientTimeoutMs = options.clientTimeoutMs ?? SIM_DEFAULTS.clientTimeoutElectionTimeouts * electionMaxMs
    this.#workload = options.workload ?? (kvSimWorkload({ keys: SIM_DEFAULTS.keys }) as unknown as SimWorkload<Input, Output, StateMachine>)
    this.#network = new MemoryNetwork({ clock: this.#clock, random: this.#random.fork() })
    this.#trace = new SimTrace(options.log)
    this.#checker = new SafetyChecker({
      now: () => this.#clock.now(),
      onViolation: (v) => { this.#trace.record(v.at, `VIOLATION ${v.checker} ${v.node ?? ''}: ${v.message}`) }
    })
    for (const id of this.#ids) {
      this.#members.set(id, { id, node: null, machine: null, transport: null, clock: null, storage: new CrashStorage(), incarnation: 0, rate: 1, down: true, paused: false })
    }
  }

  get #tickMs (): number { return this.#o.tickMs ?? SIM_DEFAULTS.tickMs }
  get #electionTicks (): number { return this.#o.electionTicks ?? SIM_DEFAULTS.electionTicks }
  get #stopOnViolation (): boolean { return this.#o.stopOnViolation ?? true }
  get #stopped (): boolean { return this.#stopOnViolation && this.#checker.violations.length > 0 }

  async run (): Promise<SimulationResult> {
    const t = this.#trace
    t.record(0, `start seed=${this.#o.seed} nodes=${this.#ids.join(',')} maxMessageBytes=${this.#maxMessageBytes}`)
    for (const f of this.#faults) t.record(0, `schedule @${f.at} ${describeFault(f, this.#ids)}`)
    for (const id of this.#ids) this.#restart(this.#members.get(id)!)
    for (const f of this.#faults) {
      if (f.at < this.#faultMs) this.#clock.setTimeout(() => { this.#applyFault(f) }, f.at)
    }
    const generator = this.#workload.createGenerator(this.#random.fork())
    const clientRandom = this.#random.fork()
    const clients = this.#o.clients ?? SIM_DEFAULTS.clients
    for (let c = 0; c < clients; c++) void this.#client(c, generator, clientRandom)

    await this.#runUntil(this.#faultMs)
    if (!this.#stopped) {
      this.#heal()
      const deadline = this.#faultMs + this.#livenessMs
      let settledAt = -1
      await this.#runUntil(deadline, () => {
        if (this.#livenessProblems().length === 0) settledAt = this.#clock.now()
        return settledAt >= 0
      })
      if (!this.#stopped) {
        if (settledAt < 0) for (const p of this.#livenessProblems()) this.#failLiveness(p)
        else t.record(settledAt, `liveness ok after ${(settledAt - this.#faultMs).toFixed(1)}ms`)
      }
    }
    this.#shutdown()
    if (!this.#stopped) this.#checker.finish()

    const history = this.#recorder.history()
    let linearizability: SimulationResult['linearizability'] = 'skipped'
    let explanation: string | undefined
    if (!this.#stopped) {
      const r = checkLinearizability(this.#workload.model, history, { timeoutMs: this.#o.checkTimeoutMs ?? SIM_DEFAULTS.checkTimeoutMs })
      linearizability = r.result
      explanation = r.explanation
      t.record(this.#clock.now(), `linearizability ${r.result} (${history.length} operations)`)
    }
    const violations = this.#checker.violations
    return {
      seed: this.#o.seed,
      nodes: this.#ids,
      faults: this.#faults,
      violations,
      liveness: this.#liveness,
      linearizability,
      ...(explanation === undefined ? {} : { linearizabilityExplanation: explanation }),
      traceHash: t.digest(),
      events: t.events,
      virtualMs: this.#clock.now(),
      operations: { ...this.#counts },
      history: history as ReadonlyArray<Operation<unknown, unknown>>,
      ok: violations.length === 0 && this.#liveness.length === 0 && linearizability === 'ok'
    }
  }

  // ---------------------------------------------------------------- virtual time

  /** Fires due timers one at a time up to `until`, draining microtasks and checking after each. */
  async #runUntil (until: number, done?: () => boolean): Promise<void> {
    const clock = this.#clock
    for (;;) {
      if (this.#stopped) return
      const due = clock.nextDue()
      if (due === undefined || due > until) break
      clock.runNext()
      await drainMicrotasks()
      this.#afterStep()
      if (done?.() === true) return
    }
    if (clock.now() < until) clock.advance(until - clock.now())
  }

  #afterStep (): void {
    const observed = []
    for (const m of this.#members.values()) {
      const core = m.node?.debugCore() ?? null
      observed.push({ id: m.id, core })
      if (core !== null) {
        const c = core.log.committed
        if (this.#lastCommit.get(m.id) !== c) {
          this.#lastCommit.set(m.id, c)
          this.#trace.record(this.#clock.now(), `${m.id} commit ${c} (entry term ${core.log.term(c)}) as ${core.role} of term ${core.term}`)
        }
      }
    }
    this.#checker.afterStep(observed)
  }

  // ---------------------------------------------------------------- nodes

  #restart (m: Member): void {
    m.incarnation++
    m.down = false
    m.paused = false
    const id = m.id
    const clock = new NodeClock(this.#clock, m.rate)
    const machine = this.#workload.createStateMachine()
    const storage = m.storage
    const transport = new ObservedTransport(this.#network.transport(id), {
      sent: (msg) => { this.#checker.observeSend(id, msg, storage, m.node?.debugCore() ?? null) },
      delivered: (msg) => { this.#trace.record(this.#clock.now(), describeMessage(msg)) },
      blocked: (msg) => this.#isolated.size > 0 && (this.#isolated.has(msg.from) || this.#isolated.has(msg.to))
    })
    const checker = this.#checker
    const observedMachine: StateMachine = {
      apply (command, index) {
        checker.observeApply(id, index, command)
        const r = machine.apply(command, index)
        if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
          return (r as Promise<unknown>).then((value): AppliedResult => ({ index, value }))
        }
        return { index, value: r } satisfies AppliedResult
      },
      ...(machine.snapshot === undefined ? {} : { snapshot: () => machine.snapshot!() }),
      ...(machine.restore === undefined ? {} : { restore: async (chunks: AsyncIterable<Uint8Array>) => { await machine.restore!(chunks) } })
    }
    const node = new RaftNode({
      id,
      voters: this.#ids,
      storage,
      transport,
      stateMachine: observedMachine,
      clock,
      random: this.#random.fork(),
      tickMs: this.#tickMs,
      electionTicks: this.#electionTicks,
      electionJitterTicks: this.#o.electionJitterTicks ?? SIM_DEFAULTS.electionJitterTicks,
      heartbeatTicks: this.#o.heartbeatTicks ?? SIM_DEFAULTS.heartbeatTicks,
      preVote: this.#o.preVote ?? RAFT_DEFAULTS.preVote,
      checkQuorum: this.#o.checkQuorum ?? RAFT_DEFAULTS.checkQuorum,
      maxMessageBytes: this.#maxMessageBytes,
      mutations: this.#o.mutations ?? {},
      trace: (e) => {
        if (e.kind === 'role') {
          this.#trace.record(this.#clock.now(), `${e.node} role ${e.role ?? ''} term ${e.term ?? ''} leader ${e.leader ?? '-'}`)
          if (e.role === 'leader') this.#maybeIsolateNewLeader(m, node, e.term ?? 0)
        }
        else if (e.kind === 'apply') this.#trace.record(this.#clock.now(), `${e.node} applied ${e.index ?? ''}`)
        else if (e.kind === 'failed') this.#trace.record(this.#clock.now(), `${e.node} FAILED`)
      }
    })
    m.node = node
    m.machine = machine
    m.transport = transport
    m.clock = clock
    this.#checker.startIncarnation(id)
    this.#lastCommit.delete(id)
    this.#trace.record(this.#clock.now(), `${id} start #${m.incarnation}`)
    node.open().catch((err: unknown) => {
      this.#trace.record(this.#clock.now(), `${id} open failed: ${(err as Error).message}`)
    })
  }

  /** Power loss: timers and network stop at once, every unsynced write is gone. */
  #crash (m: Member): void {
    const node = m.node
    if (m.down || node === null) return
    m.clock!.kill()
    m.transport!.kill()
    m.storage = m.storage.crash()
    if (m.paused) this.#network.resume(m.id)
    m.down = true
    m.paused = false
    m.node = null
    m.machine = null
    m.transport = null
    m.clock = null
    // Fails the dead process's pending requests (NODE_CLOSED: their outcome is unknown).
    void node.close()
  }

  // ---------------------------------------------------------------- faults

  /** The node a fault selector names: LEADER is the live leader of the highest term (else n1). */
  #member (selector: number): Member {
    if (selector === LEADER) {
      let best: Member | null = null
      let bestTerm = -1
      for (const m of this.#members.values()) {
        const core = m.node?.debugCore() ?? null
        if (core !== null && core.role === 'leader' && core.term > bestTerm) { best = m; bestTerm = core.term }
      }
      return best ?? this.#members.get(this.#ids[0]!)!
    }
    return this.#members.get(this.#ids[Math.abs(selector) % this.#ids.length]!)!
  }

  #applyFault (f: FaultEvent): void {
    if (this.#healed) return
    const now = this.#clock.now()
    this.#trace.record(now, `fault ${describeFault(f, this.#ids)}`)
    const net = this.#network
    switch (f.kind) {
      case 'network':
        net.configure({ loss: f.loss, duplication: f.duplication, latency: { min: f.latencyMin, max: f.latencyMax }, reorder: f.reorder })
        return
      case 'partition': {
        const a = this.#ids.filter((_, i) => f.sides[i % f.sides.length] === 0)
        const b = this.#ids.filter((_, i) => f.sides[i % f.sides.length] !== 0)
        if (a.length > 0 && b.length > 0) net.partition(a, b)
        return
      }
      case 'cut': {
        const from = this.#member(f.from).id
        const to = this.#member(f.to).id
        if (from !== to) net.cut(from, to)
        return
      }
      case 'heal':
        net.heal()
        return
      case 'clog': {
        const from = this.#member(f.from).id
        const to = this.#member(f.to).id
        if (from === to) return
        if (this.#clogged !== null) net.unclog(...this.#clogged)
        const link: [NodeId, NodeId] = [from, to]
        this.#clogged = link
        net.clog(from, to)
        this.#later(f.duration, () => {
          if (this.#clogged !== link) return
          this.#clogged = null
          net.unclog(from, to)
        })
        return
      }
      case 'crash': {
        const m = this.#member(f.node)
        if (m.down) return
        this.#crash(m)
        this.#later(f.downFor, () => { if (m.down) this.#restart(m) })
        return
      }
      case 'pause': {
        const m = this.#member(f.node)
        if (m.down || m.paused) return
        m.paused = true
        m.clock!.pause()
        net.pause(m.id)
        const clock = m.clock!
        this.#later(f.duration, () => { if (m.clock === clock) this.#resume(m) })
        return
      }
      case 'drift': {
        const m = this.#member(f.node)
        m.rate = f.rate
        m.clock?.setRate(f.rate)
        return
      }
      case 'jump':
        this.#member(f.node).clock?.jump(f.ms)
        return
      case 'isolateLeaders':
        this.#leaderIsolator = { until: now + f.duration, delayMs: f.delayMs, isolateFor: f.isolateFor }
        return
    }
  }

  #maybeIsolateNewLeader (m: Member, node: RaftNode, term: number): void {
    const c = this.#leaderIsolator
    if (c === null || this.#healed || this.#clock.now() >= c.until) return
    // Half the new leaders, each after its own delay: some lose their first appends, some
    // lose leadership just after committing something.
    if (this.#faultRandom.next() < 0.5) return
    const isolateFor = Math.floor(this.#faultRandom.next() * c.isolateFor)
    const delay = Math.floor(this.#faultRandom.next() * (c.delayMs + 1))
    this.#clock.setTimeout(() => {
      const core = node.debugCore()
      if (this.#healed || m.node !== node || core === null || core.role !== 'leader' || core.term !== term) return
      this.#trace.record(this.#clock.now(), `fault isolate new leader ${m.id} for ${isolateFor}ms`)
      this.#isolated.add(m.id)
      this.#later(isolateFor, () => { this.#isolated.delete(m.id) })
    }, delay)
  }

  /** Runs `fn` after `ms`, unless the fault phase has ended by then (healing undoes everything). */
  #later (ms: number, fn: () => void): void {
    if (this.#clock.now() + ms >= this.#faultMs) return
    this.#clock.setTimeout(() => {
      if (this.#healed) return
      this.#trace.record(this.#clock.now(), 'fault ends')
      fn()
    }, ms)
  }

  #resume (m: Member): void {
    if (!m.paused) return
    m.paused = false
    m.clock?.resume()
    this.#network.resume(m.id)
  }

  /** End of the fault phase: a clean network, every node up and running. */
  #heal (): void {
    this.#healed = true
    const now = this.#clock.now()
    this.#trace.record(now, 'heal all faults')
    const net = this.#network
    net.heal()
    this.#isolated.clear()
    if (this.#clogged !== null) net.unclog(...this.#clogged)
    this.#clogged = null
    net.configure({ loss: 0, duplication: 0 })
    for (const m of this.#members.values()) {
      if (m.down) this.#restart(m)
      else this.#resume(m)
    }
    // From now on an operation that does not settle is a liveness failure, not a client giving up.
    const end = this.#faultMs + this.#livenessMs
    for (const op of this.#inflight) {
      if (op.invoke + this.#clientTimeoutMs > end) continue
      this.#clock.clearTimeout(op.timer)
      op.timer = this.#clock.setTimeout(() => { op.abort.abort() }, end + 1 - now)
    }
  }

  /** Why the cluster is not yet live: no leader known by a majority, unsettled operations, lagging nodes. */
  #livenessProblems (): string[] {
    const problems: string[] = []
    const statuses = [...this.#members.values()].map((m) => ({ id: m.id, s: m.node?.lifecycle === 'open' ? m.node.status() : null }))
    const leaders = statuses.filter((x) => x.s?.role === 'leader')
    const majority = Math.floor(this.#ids.length / 2) + 1
    let leader: { id: NodeId, commit: number, progress: NodeStatus['progress'] } | null = null
    for (const l of leaders) {
      const followers = statuses.filter((x) => x.s?.leader === l.id && x.s.term === l.s!.term).length
      if (followers >= majority) leader = { id: l.id, commit: l.s!.commitIndex, progress: l.s!.progress }
    }
    if (leader === null) {
      problems.push(`no leader known by a majority (leaders: ${leaders.map((l) => l.id).join(',') || 'none'})`)
    } else {
      for (const x of statuses) {
        const applied = x.s?.appliedIndex ?? -1
        const pr = leader.progress?.[x.id]
        const seen = pr === undefined ? '' : ` (leader's progress: ${pr.state} match ${pr.match} next ${pr.next} inflight ${pr.inflight})`
        if (applied < leader.commit) problems.push(`${x.id} applied ${applied} < leader ${leader.id}'s commit ${leader.commit}${seen}`)
      }
    }
    for (const op of this.#inflight) problems.push(`operation ${op.describe} on ${op.node} invoked at ${op.invoke.toFixed(1)}ms has not settled`)
    return problems
  }

  #failLiveness (problem: string): void {
    this.#liveness.push(problem)
    this.#trace.record(this.#clock.now(), `LIVENESS ${problem}`)
  }

  #shutdown (): void {
    for (const m of this.#members.values()) {
      m.clock?.kill()
      m.transport?.kill()
    }
    for (const op of this.#inflight) this.#clock.clearTimeout(op.timer)
  }

  // ---------------------------------------------------------------- clients

  async #sleep (ms: number): Promise<void> {
    await new Promise<void>((resolve) => { this.#clock.setTimeout(resolve, ms) })
  }

  async #client (c: number, generator: { next: (client: number) => Input }, random: SeededRandom): Promise<void> {
    const w = this.#workload
    let target = this.#ids[randomInt(random, 0, this.#ids.length)]!
    const maxThink = this.#o.maxThinkMs ?? SIM_DEFAULTS.maxThinkMs
    for (;;) {
      await this.#sleep(randomInt(random, 0, maxThink + 1))
      if (this.#healed || this.#stopped) return
      const input = generator.next(c)
      const read = w.isRead(input)
      // Reads go anywhere (ReadIndex through the leader); writes to the believed leader.
      const at = read && random.next() < 0.5 ? this.#ids[randomInt(random, 0, this.#ids.length)]! : target
      const member = this.#members.get(at)!
      const now = this.#clock.now()
      const id = this.#recorder.invoke(c, input, now)
      const describe = `#${id} c${c} ${read ? 'read' : 'write'}`
      const abort = new AbortController()
      const op: ClientOp = { invoke: now, node: at, describe, abort, timer: this.#clock.setTimeout(() => { abort.abort() }, this.#clientTimeoutMs) }
      this.#inflight.add(op)
      this.#trace.record(now, `client ${describe} -> ${at}: ${JSON.stringify(input)}`)
      try {
        const node = member.node
        if (node === null || member.down) throw new QuorateError('NODE_NOT_OPEN', `${at} is down`)
        let output: Output
        if (read) {
          const machine = member.machine!
          await node.read({ signal: abort.signal })
          output = w.query(machine, input)
        } else {
          const command = w.encode(input)
          const r = await node.propose(command, { signal: abort.signal }) as AppliedResult
          output = w.output(r.value, input)
          this.#checker.observeAck(r.index, command)
        }
        this.#recorder.ok(id, output, this.#clock.now())
        this.#counts.ok++
        this.#trace.record(this.#clock.now(), `client ${describe} ok ${JSON.stringify(output)}`)
      } catch (err) {
        const code = isQuorateError(err) ? err.code : null
        if (read || (code !== null && DEFINITE_FAILURES.has(code))) {
          this.#recorder.fail(id, this.#clock.now())
          this.#counts.failed++
        } else {
          this.#recorder.unknown(id)
          this.#counts.unknown++
        }
        this.#trace.record(this.#clock.now(), `client ${describe} ${code ?? String(err)}`)
        const leader = isQuorateError(err, 'RAFT_NOT_LEADER') ? err.info?.leader : undefined
        target = typeof leader === 'string' && this.#members.has(leader) ? leader : this.#ids[randomInt(random, 0, this.#ids.length)]!
      } finally {
        this.#clock.clearTimeout(op.timer)
        this.#inflight.delete(op)
      }
    }
  }
}

/** Lets every queued microtask (and those they queue) run: storage writes settle this way. */
async function drainMicrotasks (): Promise<void> {
  await new Promise<void>((resolve) => { setImmediate(resolve) })
}

function describeMessage (m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} t${m.term}`
  if (m.index !== 0 || m.logTerm !== 0) s += ` i${m.index}/${m.logTerm}`
  if (m.commit !== 0) s += ` c${m.commit}`
  if (m.entries.length > 0) s += ` +${m.entries.length}`
  if (m.reject) s += ' REJECT'
  if (m.context !== 0) s += ` ctx${m.context}`
  return s
}

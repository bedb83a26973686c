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
import { RaftNode } from '../../node/node.js'
import type { NodeStatus } from '../../node/node.js'
import type { NodeMutations } from '../../node/test-hooks.js'
import { coreOf, withMutations } from '../../node/test-hooks.js'
import type { StateMachine } from '../../node/state-machine.js'
import { isThenable } from '../../node/state-machine.js'
import type { ClusterConfig, Message, NodeId } from '../../raft/types.js'
import { isMember } from '../../raft/confchange.js'
import type { ConfigChange } from '../../raft/confchange.js'
import { RAFT_DEFAULTS } from '../../raft/options.js'
import { MemoryNetwork } from '../../transport/memory.js'
import { SeededRandom, randomInt } from '../../util/random.js'
import { QuorateError, isQuorateError } from '../../errors.js'
import type { ErrorCode } from '../../errors.js'
import { check, checkBool, checkInt } from '../../util/validate.js'
import { ManualClock } from '../manual-clock.js'
import { CrashStorage } from '../crash-storage.js'
import { HistoryRecorder } from '../history.js'
import type { Operation } from '../history.js'
import { checkLinearizability } from '../linearizability.js'
import { NodeClock } from './node-clock.js'
import { ObservedTransport } from './observed-transport.js'
import { SafetyChecker } from './checkers.js'
import type { Violation } from './checkers.js'
import { DEFAULT_FAULT_RANGES, LEADER, describeFault, drawFaultSchedule, leaseSafeSchedule } from './faults.js'
import type { FaultEvent, FaultRanges } from './faults.js'
import { SimTrace, fnv1a } from './trace.js'
import { kvSimWorkload } from './workload.js'
import { drawSettle, oversizedCommand } from './settle-draws.js'
import type { SettleDraws } from './settle-draws.js'
import { SettleChecker } from './settle-checker.js'
import { batchOf, describeApply, drawApply } from './apply-draws.js'
import type { ApplyDraws } from './apply-draws.js'
import { SnapshotDraws, SnapshotStormDetector } from './snapshot-draws.js'
import type { SnapshotDrawSummary } from './snapshot-draws.js'
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
  /**
   * The linearizability check's budget in search steps (about 20 s of one core at the worst):
   * a step budget gives the same verdict on a loaded machine as on an idle one.
   */
  checkMaxSteps: 20_000_000,
  keys: 3,
  /** Share of seeds that snapshot every 5-50 applied entries (the others keep the node default). */
  frequentSnapshotShare: 0.5,
  /** Share of seeds with a drawn schedule that serve reads from a leader lease (readMode 'lease'). */
  leaseReadShare: 0.1,
  /** Fresh node ids beyond the initial cluster that membership faults may add. */
  spares: 4,
  /** A membership change or transfer is retried against whoever leads for this long. */
  adminDeadlineElectionTimeouts: 10,
  adminRetryMs: 20,
  /**
   * Most steps (timer firings) in one run: far above what a run takes (a few tens of
   * thousands), reached only by a message storm that makes no progress (a livelock).
   */
  maxSteps: 1_000_000,
  /** A node outside the latest applied configuration for this long is shut down for good. */
  retireDelayElectionTimeouts: 2
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
  /**
   * Take a snapshot (and compact the log) every this many applied entries; 0 disables them.
   * @default 5-50 in half the seeds (drawn), else the node default (10000)
   */
  snapshotEntries?: number
  /** Entries kept behind a snapshot. @default 0-10, drawn */
  snapshotKeepEntries?: number
  /** RaftNodeOptions.snapshotLogRatio. @default 0 in half the seeds, else 0.25, 0.5, 1 or 2, drawn */
  snapshotLogRatio?: number
  /** Bytes per InstallSnapshot chunk (small, so a transfer takes many messages). @default 64-512, drawn */
  snapshotChunkBytes?: number
  /** Unacknowledged snapshot chunks in flight. @default 1-4, drawn */
  snapshotWindowChunks?: number
  /**
   * How leaders confirm reads. With 'lease', the schedule is made lease-safe (no pauses or clock
   * jumps, drift within RAFT_DEFAULTS.maxClockDrift): lease reads assume exactly that.
   * @default 'lease' in 10% of the seeds whose schedule is drawn, else 'safe'
   */
  readMode?: 'safe' | 'lease'
  /** Followers forward proposals to the leader. @default drawn per seed (settle-draws.ts) */
  forwardProposals?: boolean
  /** Mix oversized proposals into client batches (only they may fail, RAFT_PROPOSAL_TOO_LARGE). @default drawn per seed */
  oversizedProposals?: boolean
  /**
   * Byte-different snapshots, per-node chunking, leader changes during transfers (see
   * snapshot-draws.ts); each given flag overrides its draw. Per-node chunking never overrides
   * a fixed snapshotChunkBytes or snapshotWindowChunks; leader changes during transfers are
   * off with a given `faults` schedule unless asked for; background snapshots (the node
   * default) or snapshots stored inside the processing loop.
   * @default the first three drawn in 70% of the seeds, background snapshots in 50%
   */
  snapshotDraws?: Partial<SnapshotDrawSummary>
  /** Deliberately broken behaviours (the mutation check). @default none */
  mutations?: NodeMutations
  /** Linearizability checker budget in search steps; running out is a failure. @default SIM_DEFAULTS.checkMaxSteps (20 000 000) */
  checkMaxSteps?: number
  /** An additional wall-clock budget for the check, in ms (machine-dependent: prefer checkMaxSteps). @default none */
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
  /** Timer firings the run took. */
  readonly steps: number
  readonly virtualMs: number
  readonly operations: { readonly ok: number, readonly failed: number, readonly unknown: number }
  /** What the run exercised beyond the basic faults. */
  readonly coverage: SimulationCoverage
  readonly history: ReadonlyArray<Operation<unknown, unknown>>
  /** No violation, no liveness failure, and a linearizable history. */
  readonly ok: boolean
}

export interface SimulationCoverage {
  readonly snapshotsTaken: number
  readonly snapshotsInstalled: number
  /** Configuration entries applied (each step of a joint change counts). */
  readonly membershipChanges: number
  /** Leadership transfers that completed. */
  readonly transfers: number
  readonly readMode: 'safe' | 'lease'
  /** Reads served successfully (through ReadIndex, or the lease in 'lease' mode). */
  readonly reads: number
  /** Whether followers forwarded proposals (drawn, settle-draws.ts). */
  readonly forwardProposals: boolean
  /** Oversized proposals mixed into batches that were refused with RAFT_PROPOSAL_TOO_LARGE. */
  readonly oversizedRefused: number
  /** applyBatch calls the nodes made (0 in seeds that drew batching off; apply-draws.ts). */
  readonly applyBatches: number
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
  /** 'member': started (as part of the cluster or to join it); 'spare': never started; 'retired': shut down for good. */
  phase: 'member' | 'spare' | 'retired'
  /** A harness operation is adding this node (it is not retired for being outside the configuration meanwhile). */
  joining: boolean
  /** Since when the node has been outside the latest applied configuration, or -1. */
  outsideSince: number
  /** Hash of the byte stream of the state machine's latest snapshot() / restore(). */
  snapshotHash: number
  restoreHash: number
}

/** Errors after which the operation certainly had no effect. */
type AdminStep = 'done' | 'skip' | 'wait' | ((signal: AbortSignal) => Promise<unknown>)

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
  for (const f of ['maxMessageBytes', 'tickMs', 'electionTicks', 'electionJitterTicks', 'heartbeatTicks', 'clients', 'clientTimeoutMs', 'checkTimeoutMs', 'checkMaxSteps', 'snapshotChunkBytes', 'snapshotWindowChunks'] as const) {
    if (o[f] !== undefined) checkInt(o[f], C, f, 1)
  }
  for (const f of ['snapshotEntries', 'snapshotKeepEntries'] as const) {
    if (o[f] !== undefined) checkInt(o[f], C, f, 0)
  }
  if (o.snapshotLogRatio !== undefined) check(typeof o.snapshotLogRatio === 'number' && Number.isFinite(o.snapshotLogRatio) && o.snapshotLogRatio >= 0, C, 'snapshotLogRatio', 'a finite number ≥ 0', o.snapshotLogRatio)
  if (o.readMode !== undefined) check(o.readMode === 'safe' || o.readMode === 'lease', C, 'readMode', "'safe' or 'lease'", o.readMode)
  if (o.maxThinkMs !== undefined) checkInt(o.maxThinkMs, C, 'maxThinkMs', 0)
  for (const f of ['forwardProposals', 'oversizedProposals'] as const) {
    if (o[f] !== undefined) checkBool(o[f], C, f)
  }
  if (o.snapshotDraws !== undefined) {
    check(typeof o.snapshotDraws === 'object' && o.snapshotDraws !== null, C, 'snapshotDraws', 'an object', o.snapshotDraws)
    for (const [k, v] of Object.entries(o.snapshotDraws)) {
      check(['variedBytes', 'perNodeChunking', 'transferDisruption', 'backgroundSnapshots'].includes(k), C, `snapshotDraws.${k}`, 'a known draw (variedBytes, perNodeChunking, transferDisruption, backgroundSnapshots)', k)
      check(v === undefined || typeof v === 'boolean', C, `snapshotDraws.${k}`, 'a boolean', v)
    }
  }
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
  readonly #snapshotOptions: { snapshotEntries?: number, snapshotKeepEntries: number, snapshotChunkBytes: number, snapshotWindowChunks: number }
  readonly #readMode: 'safe' | 'lease'
  readonly #snapshotDraws: SnapshotDraws
  readonly #snapshotStorms = new SnapshotStormDetector()
  readonly #electionMaxMs: number
  readonly #livenessMs: number
  readonly #clientTimeoutMs: number
  readonly #workload: SimWorkload<Input, Output, StateMachine>
  readonly #trace: SimTrace
  readonly #checker: SafetyChecker
  readonly #settleDraws: SettleDraws
  readonly #applyDraws: ApplyDraws
  readonly #settle: SettleChecker
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
  #steps = 0
  #livelocked = false
  #counts = { ok: 0, failed: 0, unknown: 0 }
  #coverage = { snapshotsTaken: 0, snapshotsInstalled: 0, transfers: 0, reads: 0, applyBatches: 0 }
  /** Indexes of configuration entries applied anywhere. */
  readonly #configIndexes = new Set<number>()
  /** The configuration at the highest index any node applied (configurations at one index agree). */
  #newestConfig: { index: number, config: ClusterConfig } | null = null
  /** One membership change or transfer at a time. */
  #adminBusy = false
  #retireCheckPending = false

  constructor (options: SimulationOptions<Input, Output>) {
    validate(options)
    this.#o = options
    this.#random = new SeededRandom(options.seed)
    const size = options.nodes ?? (this.#random.next() < 0.5 ? 3 : 5)
    this.#ids = Array.from({ length: size }, (_, i) => `n${i + 1}`)
    this.#maxMessageBytes = options.maxMessageBytes ?? (this.#random.next() < 0.5 ? 1 : RAFT_DEFAULTS.maxMessageBytes)
    // Drawn whether or not the options fix them, so fixing one leaves the rest of the run as it was.
    const r = this.#random
    const frequent = r.next() < SIM_DEFAULTS.frequentSnapshotShare
    const drawn = { entries: randomInt(r, 5, 51), keep: randomInt(r, 0, 11), chunk: randomInt(r, 64, 513), window: randomInt(r, 1, 5) }
    const snapshotEntries = options.snapshotEntries ?? (frequent ? drawn.entries : undefined)
    this.#snapshotOptions = {
      ...(snapshotEntries === undefined ? {} : { snapshotEntries }),
      snapshotKeepEntries: options.snapshotKeepEntries ?? drawn.keep,
      snapshotChunkBytes: options.snapshotChunkBytes ?? drawn.chunk,
      snapshotWindowChunks: options.snapshotWindowChunks ?? drawn.window
    }
    // A given schedule is all the faults there are (no extra leader changes), and given chunking is all the chunking.
    const fixedChunking = options.snapshotChunkBytes !== undefined || options.snapshotWindowChunks !== undefined
    this.#snapshotDraws = new SnapshotDraws(options.seed, {
      ...(options.faults !== undefined ? { transferDisruption: false } : {}),
      ...options.snapshotDraws,
      ...(fixedChunking ? { perNodeChunking: false } : {})
    })
    const lease = r.next() < SIM_DEFAULTS.leaseReadShare
    this.#readMode = options.readMode ?? (lease && options.faults === undefined ? 'lease' : 'safe')
    const ranges: FaultRanges = { ...DEFAULT_FAULT_RANGES, ...options.faultRanges }
    const faultRandom = this.#random.fork()
    const faults = options.faults !== undefined ? [...options.faults] : drawFaultSchedule(faultRandom, ranges)
    this.#faults = this.#readMode === 'lease' ? leaseSafeSchedule(faults, RAFT_DEFAULTS.maxClockDrift) : faults
    this.#faultRandom = faultRandom
    this.#faultMs = ranges.durationMs
    const electionMaxMs = this.#tickMs * (this.#electionTicks + (options.electionJitterTicks ?? SIM_DEFAULTS.electionJitterTicks))
    this.#electionMaxMs = electionMaxMs
    this.#livenessMs = SIM_DEFAULTS.livenessElectionTimeouts * electionMaxMs
    this.#clientTimeoutMs = options.clientTimeoutMs ?? SIM_DEFAULTS.clientTimeoutElectionTimeouts * electionMaxMs
    this.#workload = options.workload ?? (kvSimWorkload({ keys: SIM_DEFAULTS.keys }) as unknown as SimWorkload<Input, Output, StateMachine>)
    this.#network = new MemoryNetwork({ clock: this.#clock, random: this.#random.fork() })
    this.#trace = new SimTrace(options.log)
    this.#checker = new SafetyChecker({
      now: () => this.#clock.now(),
      onViolation: (v) => { this.#trace.record(v.at, `VIOLATION ${v.checker} ${v.node ?? ''}: ${v.message}`) }
    })
    this.#settleDraws = drawSettle(options.seed, options)
    this.#applyDraws = drawApply(options.seed)
    this.#settle = new SettleChecker({
      now: () => this.#clock.now(),
      closeBoundMs: electionMaxMs,
      healBoundMs: this.#livenessMs,
      report: (rule, node, message) => { this.#checker.report(rule, node, message) }
    })
    const spares = Array.from({ length: SIM_DEFAULTS.spares }, (_, i) => `n${size + i + 1}`)
    for (const id of [...this.#ids, ...spares]) {
      this.#members.set(id, {
        id, node: null, machine: null, transport: null, clock: null, storage: new CrashStorage(), incarnation: 0, rate: 1, down: true, paused: false,
        phase: this.#ids.includes(id) ? 'member' : 'spare', joining: false, outsideSince: -1, snapshotHash: 0, restoreHash: 0
      })
    }
  }

  get #tickMs (): number { return this.#o.tickMs ?? SIM_DEFAULTS.tickMs }
  get #electionTicks (): number { return this.#o.electionTicks ?? SIM_DEFAULTS.electionTicks }
  get #stopOnViolation (): boolean { return this.#o.stopOnViolation ?? true }
  get #stopped (): boolean { return this.#livelocked || (this.#stopOnViolation && this.#checker.violations.length > 0) }

  async run (): Promise<SimulationResult> {
    const t = this.#trace
    const so = this.#snapshotOptions
    t.record(0, `start seed=${this.#o.seed} nodes=${this.#ids.join(',')} maxMessageBytes=${this.#maxMessageBytes} readMode=${this.#readMode} ` +
      `snapshotEntries=${so.snapshotEntries ?? 'default'} keep=${so.snapshotKeepEntries} chunkBytes=${so.snapshotChunkBytes} window=${so.snapshotWindowChunks} ` +
      `forward=${this.#settleDraws.forwardProposals} oversize=${this.#settleDraws.oversizeChance} ${describeApply(this.#applyDraws)}`)
    t.record(0, this.#snapshotDraws.describe())
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
    if (!this.#stopped) this.#settle.finish()
    if (!this.#stopped) this.#checker.finish()

    const history = this.#recorder.history()
    let linearizability: SimulationResult['linearizability'] = 'skipped'
    let explanation: string | undefined
    if (!this.#stopped) {
      const r = checkLinearizability(this.#workload.model, history, {
        maxSteps: this.#o.checkMaxSteps ?? SIM_DEFAULTS.checkMaxSteps,
        ...(this.#o.checkTimeoutMs === undefined ? {} : { timeoutMs: this.#o.checkTimeoutMs })
      })
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
      steps: this.#steps,
      virtualMs: this.#clock.now(),
      operations: { ...this.#counts },
      coverage: { ...this.#coverage, membershipChanges: this.#configIndexes.size, readMode: this.#readMode, forwardProposals: this.#settleDraws.forwardProposals, oversizedRefused: this.#settle.oversizedRefused },
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
      if (++this.#steps > SIM_DEFAULTS.maxSteps) {
        this.#livelocked = true
        this.#failLiveness(`livelock: ${SIM_DEFAULTS.maxSteps} steps by ${clock.now().toFixed(3)}ms of virtual time`)
        return
      }
      if (done?.() === true) return
    }
    if (clock.now() < until) clock.advance(until - clock.now())
  }

  #afterStep (): void {
    const observed = []
    for (const m of this.#members.values()) {
      const core = coreOf(m.node)
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
    this.#settle.check()
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
      sent: (msg) => {
        this.#checker.observeSend(id, msg, storage, coreOf(m.node))
        const storm = this.#snapshotStorms.observe(msg)
        if (storm !== null) { this.#livelocked = true; this.#failLiveness(storm) }
      },
      delivered: (msg) => {
        this.#trace.record(this.#clock.now(), describeMessage(msg))
        this.#maybeDisruptTransfer(msg)
      },
      blocked: (msg) => this.#isolated.size > 0 && (this.#isolated.has(msg.from) || this.#isolated.has(msg.to))
    })
    const checker = this.#checker
    const batch = batchOf(machine)
    const batches = this.#coverage
    const observedMachine: StateMachine = this.#snapshotDraws.vary(id, m.incarnation, {
      apply (command, index) {
        checker.observeApply(id, index, command)
        const r = machine.apply(command, index)
        if (isThenable(r)) return Promise.resolve(r).then((value): AppliedResult => ({ index, value }))
        return { index, value: r } satisfies AppliedResult
      },
      ...(this.#applyDraws.batching
        ? {
            applyBatch (commands: readonly Uint8Array[], firstIndex: number) {
              batches.applyBatches++
              for (let i = 0; i < commands.length; i++) checker.observeApply(id, firstIndex + i, commands[i]!)
              const wrap = (values: readonly unknown[]): AppliedResult[] => values.map((value, i) => ({ index: firstIndex + i, value }))
              const r = batch(commands, firstIndex)
              return isThenable<readonly unknown[]>(r) ? Promise.resolve(r).then(wrap) : wrap(r)
            }
          }
        : {}),
      // Snapshot streams are hashed on their way through, so the checker can compare the
      // state of every snapshot taken or installed at one index.
      ...(machine.snapshot === undefined ? {} : { snapshot: () => hashing(machine.snapshot!(), (h) => { m.snapshotHash = h }) }),
      ...(machine.restore === undefined ? {} : { restore: async (chunks: AsyncIterable<Uint8Array>) => { await machine.restore!(hashing(chunks, (h) => { m.restoreHash = h })) } })
    })
    const node = new RaftNode(withMutations({
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
      // A state machine that cannot snapshot runs with the node's default (no snapshots).
      ...(machine.snapshot === undefined || machine.restore === undefined ? {} : { ...this.#snapshotOptions, ...this.#snapshotDraws.chunking(id, m.incarnation, this.#snapshotOptions), backgroundSnapshots: this.#snapshotDraws.summary.backgroundSnapshots, snapshotLogRatio: this.#o.snapshotLogRatio ?? this.#snapshotDraws.logRatio }),
      readMode: this.#readMode,
      forwardProposals: this.#settleDraws.forwardProposals,
      ...this.#applyDraws.options,
      ...(this.#settleDraws.maxProposalBytes === undefined ? {} : { maxProposalBytes: this.#settleDraws.maxProposalBytes }),
      trace: (e) => {
        const now = this.#clock.now()
        switch (e.kind) {
          case 'role':
            this.#trace.record(now, `${e.node} role ${e.role ?? ''} term ${e.term ?? ''} leader ${e.leader ?? '-'}`)
            if (e.role === 'leader') this.#maybeIsolateNewLeader(m, node, e.term ?? 0)
            return
          case 'apply': this.#trace.record(now, `${e.node} applied ${e.index ?? ''}`); return
          case 'failed': this.#trace.record(now, `${e.node} FAILED`); return
          case 'config': {
            const c = coreOf(node)?.config
            this.#trace.record(now, `${e.node} config at ${e.index ?? ''}: voters ${c?.voters.join(',') ?? '?'}${c !== undefined && c.votersOutgoing.length > 0 ? ` outgoing ${c.votersOutgoing.join(',')}` : ''} learners ${c?.learners.join(',') ?? '?'}`)
            this.#configIndexes.add(e.index ?? 0)
            this.#noteConfig(e.index ?? 0, c)
            return
          }
          case 'snapshot':
            this.#trace.record(now, `${e.node} snapshot at ${e.index ?? ''}`)
            this.#coverage.snapshotsTaken++
            this.#snapshotDraws.noteSnapshot(id, e.index ?? 0)
            this.#checker.observeSnapshot(id, e.index ?? 0, m.snapshotHash, false)
            return
          case 'install':
            this.#trace.record(now, `${e.node} installed snapshot at ${e.index ?? ''}`)
            this.#coverage.snapshotsInstalled++
            this.#snapshotDraws.noteSnapshot(id, e.index ?? 0)
            this.#checker.observeSnapshot(id, e.index ?? 0, m.restoreHash, true)
            this.#noteConfig(e.index ?? 0, coreOf(node)?.config)
        }
      }
    }, this.#o.mutations ?? {}))
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
    if (m.down || m.node === null) return
    m.storage = m.storage.crash()
    this.#stop(m)
  }

  /** A node removed from the cluster is shut down for good (its disk kept, in case it is needed again). */
  #retire (m: Member): void {
    this.#trace.record(this.#clock.now(), `${m.id} retired (outside the configuration)`)
    m.phase = 'retired'
    this.#stop(m)
  }

  /** The process stops at once (timers, network); pending requests fail. */
  #stop (m: Member): void {
    const node = m.node
    if (m.down || node === null) return
    m.clock!.kill()
    m.transport!.kill()
    if (m.paused) this.#network.resume(m.id)
    m.down = true
    m.paused = false
    m.node = null
    m.machine = null
    m.transport = null
    m.clock = null
    // Fails the dead process's pending requests (NODE_CLOSED: their outcome is unknown).
    void node.close()
    this.#settle.nodeClosed(m.id)
  }

  // ---------------------------------------------------------------- faults

  /** Nodes started as part of the cluster (or to join it) and not retired, in a fixed order. */
  #activeIds (): NodeId[] {
    const ids: NodeId[] = []
    for (const m of this.#members.values()) if (m.phase === 'member') ids.push(m.id)
    return ids
  }

  /** The live leader of the highest term, if any. */
  #leader (): Member | null {
    let best: Member | null = null
    let bestTerm = -1
    for (const m of this.#members.values()) {
      const core = coreOf(m.node)
      if (core !== null && core.role === 'leader' && core.term > bestTerm) { best = m; bestTerm = core.term }
    }
    return best
  }

  /** The node a fault selector names among the active ones: LEADER is the live leader of the highest term (else the first). */
  #member (selector: number): Member {
    const ids = this.#activeIds()
    if (selector === LEADER) return this.#leader() ?? this.#members.get(ids[0]!)!
    return this.#members.get(ids[Math.abs(selector) % ids.length]!)!
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
        const ids = this.#activeIds()
        const a = ids.filter((_, i) => f.sides[i % f.sides.length] === 0)
        const b = ids.filter((_, i) => f.sides[i % f.sides.length] !== 0)
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
        this.#later(f.downFor, () => { if (m.down && m.phase === 'member') this.#restart(m) })
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
      case 'addNode':
      case 'removeNode':
      case 'replaceNodes':
      case 'transfer':
        if (this.#adminBusy) this.#trace.record(now, 'admin: skipped (another change is in progress)')
        else void this.#admin(f)
    }
  }

  // ---------------------------------------------------------------- membership and transfers

  /**
   * Runs a membership change or leadership transfer against whichever node leads, retrying
   * (not leader, change pending, node down, timeouts) until it is done or its deadline passes.
   * Its outcome is read from the cluster's configuration, never assumed from a call.
   */
  async #admin (f: FaultEvent & { kind: 'addNode' | 'removeNode' | 'replaceNodes' | 'transfer' }): Promise<void> {
    this.#adminBusy = true
    const what = describeFault(f, this.#activeIds())
    const deadline = this.#clock.now() + SIM_DEFAULTS.adminDeadlineElectionTimeouts * this.#electionMaxMs
    const joining: Member[] = []
    let outcome = 'gave up'
    try {
      const plan = this.#adminPlan(f, joining)
      for (;;) {
        if (this.#stopped || this.#clock.now() >= deadline) break
        const leader = this.#leader()
        const node = leader?.node ?? null
        const config = coreOf(node)?.config ?? null
        const step: AdminStep = node === null || config === null ? 'wait' : plan(node, config)
        if (step === 'done' || step === 'skip') { outcome = step; break }
        if (step !== 'wait') {
          const error = await this.#attempt(step, deadline)
          if (error === null && f.kind === 'transfer') { this.#coverage.transfers++; outcome = 'done'; break }
          this.#trace.record(this.#clock.now(), `admin: ${what}: ${error ?? 'applied'}`)
          if (error === null) continue
        }
        await this.#sleep(SIM_DEFAULTS.adminRetryMs)
      }
    } finally {
      for (const m of joining) m.joining = false
      this.#adminBusy = false
      this.#trace.record(this.#clock.now(), `admin: ${what}: ${outcome}`)
      this.#scheduleRetireCheck()
    }
  }

  /** Runs one attempt, bounded by the deadline. Resolves with null on success, else the error code. */
  async #attempt (step: (signal: AbortSignal) => Promise<unknown>, deadline: number): Promise<string | null> {
    const abort = new AbortController()
    const timer = this.#clock.setTimeout(() => { abort.abort() }, Math.max(0, deadline - this.#clock.now()))
    // A crashed node's promises may never settle (its clock is dead): the deadline wins.
    const expired = new Promise<never>((_resolve, reject) => { abort.signal.addEventListener('abort', () => { reject(new QuorateError('ABORTED', 'deadline')) }, { once: true }) })
    try {
      await Promise.race([step(abort.signal), expired])
      return null
    } catch (err) {
      return isQuorateError(err) ? err.code : String(err)
    } finally {
      this.#clock.clearTimeout(timer)
      abort.abort()
    }
  }

  /** What to do next, given the leader and its configuration (null targets are resolved on first use). */
  #adminPlan (f: FaultEvent & { kind: 'addNode' | 'removeNode' | 'replaceNodes' | 'transfer' }, joining: Member[]): (node: RaftNode, config: ClusterConfig) => AdminStep {
    const joint = (c: ClusterConfig): boolean => c.votersOutgoing.length > 0
    switch (f.kind) {
      case 'addNode': {
        const spare = this.#startSpares(1, joining)?.[0]
        if (spare === undefined) return () => 'skip'
        return (node, c) => c.voters.includes(spare) && !joint(c) ? 'done' : async (signal) => await node.addVoter(spare, { signal })
      }
      case 'removeNode': {
        let target: NodeId | null = null
        return (node, c) => {
          if (target === null) {
            target = this.#member(f.node).id
            if (!c.voters.includes(target)) return 'skip'
          }
          if (!c.voters.includes(target) && !c.votersOutgoing.includes(target)) return 'done'
          if (joint(c)) return 'wait'
          // Keep the quorum alive: never fewer than 3 voters.
          if (c.voters.length <= 3) return 'skip'
          const id = target
          return async (signal) => await node.removeMember(id, { signal })
        }
      }
      case 'replaceNodes': {
        let pair: [NodeId, NodeId] | null = null
        let spares: NodeId[] | null = null
        return (node, c) => {
          if (pair === null) {
            if (joint(c)) return 'wait'
            const a = c.voters.includes(this.#member(f.a).id) ? this.#member(f.a).id : c.voters[0]!
            let b = this.#member(f.b).id
            if (b === a || !c.voters.includes(b)) b = c.voters[(c.voters.indexOf(a) + 1) % c.voters.length]!
            if (a === b) return 'skip'
            spares = this.#startSpares(2, joining)
            if (spares === null) return 'skip'
            pair = [a, b]
          }
          const [a, b] = pair
          const [s1, s2] = spares as [NodeId, NodeId]
          if (c.voters.includes(s1) && c.voters.includes(s2) && !c.voters.includes(a) && !c.voters.includes(b) && !joint(c)) return 'done'
          if (joint(c)) return 'wait'
          const missing = [s1, s2].filter((s) => !isMember(c, s))
          // The new nodes first join as learners (they catch up without voting), then one joint change swaps them in.
          const change: ConfigChange = missing.length > 0
            ? { operations: missing.map((id) => ({ type: 'addLearner' as const, id })) }
            : { operations: [{ type: 'addVoter', id: s1 }, { type: 'addVoter', id: s2 }, { type: 'remove', id: a }, { type: 'remove', id: b }] }
          return async (signal) => await node.changeMembership(change, { signal })
        }
      }
      case 'transfer':
        return (node, c) => {
          const to = f.to === LEADER ? undefined : this.#member(f.to).id
          const target = to !== undefined && to !== node.id && c.voters.includes(to) ? to : undefined
          return async (signal) => await node.transferLeadership(target, { signal })
        }
    }
  }

  /** Starts `count` fresh spare nodes (empty disks, the initial voters list) to join; null if there are not enough. */
  #startSpares (count: number, joining: Member[]): NodeId[] | null {
    const spares = [...this.#members.values()].filter((m) => m.phase === 'spare').slice(0, count)
    if (spares.length < count) return null
    for (const m of spares) {
      m.phase = 'member'
      m.joining = true
      joining.push(m)
      this.#restart(m)
    }
    return spares.map((m) => m.id)
  }

  #noteConfig (index: number, config: ClusterConfig | undefined): void {
    if (config === undefined || (this.#newestConfig !== null && this.#newestConfig.index >= index)) return
    this.#newestConfig = { index, config }
    this.#scheduleRetireCheck()
  }

  #scheduleRetireCheck (): void {
    if (this.#retireCheckPending) return
    this.#retireCheckPending = true
    this.#clock.setTimeout(() => {
      this.#retireCheckPending = false
      this.#retireOutsiders()
    }, SIM_DEFAULTS.retireDelayElectionTimeouts * this.#electionMaxMs)
  }

  /**
   * Nodes outside the newest configuration (removed, or started for a change that never
   * happened) are shut down, as an operator would: a while after the change, and only once
   * every voter of the new configuration knows it committed: durably (so that none of them,
   * restarted, falls back to a configuration that needs the removed nodes' votes), or, once
   * the faults have stopped (no more crashes), in memory. A removed node that never learned of
   * its removal would otherwise keep its clients waiting forever. A retired node that is back
   * in the configuration (a change that committed after all) restarts from its disk.
   */
  #retireOutsiders (): void {
    const newest = this.#newestConfig
    if (newest === null) return
    const { index, config } = newest
    const now = this.#clock.now()
    const delay = SIM_DEFAULTS.retireDelayElectionTimeouts * this.#electionMaxMs
    const knows = (v: NodeId): boolean => {
      const m = this.#members.get(v)
      if (m === undefined) return false
      if (m.storage.durableHardState.commit >= index) return true
      const core = coreOf(m.node)
      return this.#healed && core !== null && core.log.committed >= index
    }
    const settled = [...config.voters, ...config.votersOutgoing].every(knows)
    let again = false
    for (const m of this.#members.values()) {
      const inside = isMember(config, m.id)
      if (m.phase === 'retired' && inside) {
        m.phase = 'member'
        this.#restart(m)
      } else if (m.phase === 'member' && !m.joining && !inside) {
        if (m.outsideSince < 0) m.outsideSince = now
        if (settled && now - m.outsideSince >= delay) this.#retire(m)
        else again = true
      } else {
        m.outsideSince = -1
      }
    }
    if (again) this.#scheduleRetireCheck()
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
      const core = coreOf(node)
      if (this.#healed || m.node !== node || core === null || core.role !== 'leader' || core.term !== term) return
      this.#trace.record(this.#clock.now(), `fault isolate new leader ${m.id} for ${isolateFor}ms`)
      this.#isolated.add(m.id)
      this.#later(isolateFor, () => { this.#isolated.delete(m.id) })
    }, delay)
  }

  /**
   * A leader part-way through a snapshot transfer (the follower just received a chunk short of
   * the last) is sometimes cut off at once (snapshot-draws.ts).
   */
  #maybeDisruptTransfer (msg: Message): void {
    const m = this.#members.get(msg.from)
    const core = coreOf(m?.node)
    if (m === undefined || this.#healed || core === null || core.role !== 'leader' || this.#isolated.has(m.id)) return
    const plan = this.#snapshotDraws.disruption(msg, core.config.voters, this.#electionMaxMs)
    if (plan === null) return
    const same = plan.sameIndex.length > 0 ? ` (${plan.sameIndex.join(',')} hold a snapshot of that index)` : ''
    this.#trace.record(this.#clock.now(), `fault isolate ${m.id} for ${plan.isolateMs}ms during its snapshot transfer to ${msg.to}${same}`)
    this.#isolated.add(m.id)
    this.#later(plan.isolateMs, () => { this.#isolated.delete(m.id) })
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
      if (m.phase !== 'member') continue
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
    this.#settle.healed()
  }

  /**
   * Why the cluster is not yet live: no leader known by a majority of its configuration's
   * voters (of both halves while joint), still joint, unsettled operations, lagging members.
   */
  #livenessProblems (): string[] {
    const problems: string[] = []
    const statuses = [...this.#members.values()].filter((m) => m.phase === 'member').map((m) => ({ id: m.id, s: m.node?.lifecycle === 'open' ? m.node.status() : null, config: coreOf(m.node)?.config ?? null }))
    const leaders = statuses.filter((x) => x.s?.role === 'leader')
    let leader: { id: NodeId, commit: number, progress: NodeStatus['progress'], config: ClusterConfig } | null = null
    for (const l of leaders) {
      const knows = (voters: readonly NodeId[]): boolean =>
        voters.filter((v) => statuses.some((x) => x.id === v && x.s?.leader === l.id && x.s.term === l.s!.term)).length >= Math.floor(voters.length / 2) + 1
      const config = l.config!
      if (knows(config.voters) && (config.votersOutgoing.length === 0 || knows(config.votersOutgoing))) {
        leader = { id: l.id, commit: l.s!.commitIndex, progress: l.s!.progress, config }
      }
    }
    if (leader === null) {
      problems.push(`no leader known by a majority of its configuration (leaders: ${leaders.map((l) => l.id).join(',') || 'none'})`)
    } else {
      const c = leader.config
      if (c.votersOutgoing.length > 0) problems.push(`still in a joint configuration (voters ${c.voters.join(',')}, outgoing ${c.votersOutgoing.join(',')})`)
      for (const x of statuses) {
        if (!isMember(c, x.id)) continue
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
    const any = (): NodeId => { const ids = this.#activeIds(); return ids[randomInt(random, 0, ids.length)]! }
    let target = any()
    const maxThink = this.#o.maxThinkMs ?? SIM_DEFAULTS.maxThinkMs
    for (;;) {
      await this.#sleep(randomInt(random, 0, maxThink + 1))
      if (this.#healed || this.#stopped) return
      const input = generator.next(c)
      const read = w.isRead(input)
      // Reads go anywhere (ReadIndex through the leader); writes to the believed leader.
      const at = read && random.next() < 0.5 ? any() : target
      const member = this.#members.get(at)!
      const now = this.#clock.now()
      const id = this.#recorder.invoke(c, input, now)
      const describe = `#${id} c${c} ${read ? 'read' : 'write'}`
      const abort = new AbortController()
      const op: ClientOp = { invoke: now, node: at, describe, abort, timer: this.#clock.setTimeout(() => { abort.abort() }, this.#clientTimeoutMs) }
      this.#inflight.add(op)
      const settled = this.#settle.invoked(at, describe)
      this.#trace.record(now, `client ${describe} -> ${at}: ${JSON.stringify(input)}`)
      try {
        const node = member.node
        if (node === null || member.down) throw new QuorateError('NODE_NOT_OPEN', `${at} is down`)
        let output: Output
        if (read) {
          const machine = member.machine!
          await node.read({ signal: abort.signal })
          output = w.query(machine, input)
          this.#coverage.reads++
        } else {
          const command = w.encode(input)
          this.#maybeProposeOversized(node, at)
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
        if (!read) this.#settle.observeWriteFailure(at, describe, code)
        const leader = isQuorateError(err, 'RAFT_NOT_LEADER') ? err.info?.leader : undefined
        target = typeof leader === 'string' && this.#members.get(leader)?.phase === 'member' ? leader : any()
      } finally {
        settled()
        this.#clock.clearTimeout(op.timer)
        this.#inflight.delete(op)
      }
    }
  }

  /**
   * In seeds that draw it, an oversized proposal joins a client's write in the same turn (so
   * in the same batch): it must fail alone with RAFT_PROPOSAL_TOO_LARGE (settle-checker.ts).
   */
  #maybeProposeOversized (node: RaftNode, at: NodeId): void {
    const d = this.#settleDraws
    if (d.oversizeChance === 0 || d.random.next() >= d.oversizeChance) return
    const settled = this.#settle.invoked(at, 'an oversized proposal')
    node.propose(oversizedCommand(d.maxProposalBytes!)).then(
      () => { this.#settle.observeOversized(at, null) },
      (err: unknown) => { this.#settle.observeOversized(at, isQuorateError(err) ? err.code : String(err)) }
    ).finally(settled)
  }
}

/** Passes a byte stream through, reporting the hash of all its bytes once it has been read to the end. */
async function * hashing (stream: AsyncIterable<Uint8Array>, done: (hash: number) => void): AsyncIterable<Uint8Array> {
  let h: number | undefined
  for await (const piece of stream) {
    h = fnv1a(piece, h)
    yield piece
  }
  done(h ?? fnv1a(new Uint8Array(0)))
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

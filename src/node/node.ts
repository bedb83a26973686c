/**
 * RaftNode: the small I/O shell around the pure core. It owns the tick timer, the storage
 * writes, the transport and the state machine, and processes each Ready in the documented
 * order (ready.ts): early messages, one atomic durable write, then messages, then apply.
 *
 * @example
 * import { RaftNode, LevelStorage, MemoryNetwork } from 'quorate'
 * const net = new MemoryNetwork()
 * const node = new RaftNode({
 *   id: 'n1', voters: ['n1'],
 *   storage: new LevelStorage({ location: './data/n1' }),
 *   transport: net.transport('n1'),
 *   stateMachine: { apply: (cmd) => new TextDecoder().decode(cmd).toUpperCase() }
 * })
 * await node.open()
 * await node.waitForLeader()
 * console.log(await node.propose(new TextEncoder().encode('hello'))) // 'HELLO'
 * await node.close()
 */
import { EventEmitter } from 'node:events'
import type { ClusterConfig, Entry, Message, NodeId, SnapshotMeta } from '../raft/types.js'
import type { ConfigChange } from '../raft/confchange.js'
import { decodeConfigChange, isMember } from '../raft/confchange.js'
import { createHash } from 'node:crypto'
import { SNAPSHOT_DEFAULTS, SnapshotReceiver, SnapshotSender } from './snapshot-transfer.js'
import { PieceChunkSource, StoredChunkSource, servedSnapshot } from './snapshot-source.js'
import type { ServedSnapshot } from './snapshot-source.js'
import type { ComponentStatus, RaftStorage } from '../storage/storage.js'
import type { StateMachine } from './state-machine.js'
import { checkBatchResults, isThenable } from './state-machine.js'
import type { Transport } from '../transport/transport.js'
import type { Clock, Timer } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import { systemRandom } from '../util/random.js'
import type { RaftOptions } from '../raft/options.js'
import { RAFT_OPTION_KEYS, pickRaftOptions } from '../raft/options.js'
import { RaftCore } from '../raft/raft.js'
import type { CoreStatus } from '../raft/raft.js'
import type { NodeMutations } from './test-hooks.js'
import { installCoreReader, nodeMutationsOf, withMutations } from './test-hooks.js'
import type { ForwardResult, Ready, Role } from '../raft/ready.js'
import { QuorateError, abortError, isQuorateError } from '../errors.js'
import { check, checkBool, checkFunction, checkInt, checkKnownKeys, checkMethods, checkObject } from '../util/validate.js'
import { PendingProposals } from './pending.js'
import { abortable, signalOption } from '../util/abort.js'
import { Lifecycle } from '../util/lifecycle.js'
import { NodeMetrics } from './metrics.js'
import type { MetricsSink, MetricsSnapshot } from './metrics.js'
import { NodeObserver } from './observe.js'
import type { Logger } from '../util/logger.js'
import { checkLogger } from '../util/logger.js'

export const NODE_DEFAULTS = {
  tickMs: 100,
  sync: true,
  requestTimeoutTicks: 20,
  maxProposalBatch: 4096,
  maxApplyBatch: 1024,
  maxApplyBatchBytes: 4 * 1024 * 1024,
  snapshotEntries: 10_000,
  snapshotBytes: 64 * 1024 * 1024,
  snapshotLogRatio: 1,
  snapshotKeepEntries: 5_000,
  snapshotChunkBytes: SNAPSHOT_DEFAULTS.chunkBytes,
  snapshotWindowChunks: SNAPSHOT_DEFAULTS.windowChunks,
  backgroundSnapshots: true,
  autoLeaveJoint: true
} as const

export interface RaftNodeOptions extends Omit<RaftOptions, 'random'> {
  /** Where the hard state, log and snapshots live. The node opens and closes it. */
  storage: RaftStorage
  /** How messages reach the other nodes. The node opens and closes it. */
  transport: Transport
  /** What committed commands are applied to. */
  stateMachine: StateMachine
  /** Milliseconds per Raft tick. @default 100 (election timeout 1-2 s with the default 10 ticks) */
  tickMs?: number
  /** Sync (fsync) storage writes. Turning it off loses acknowledged writes on power loss. @default true */
  sync?: boolean
  /** Reads and forwarded proposals with no answer after this many ticks fail with RAFT_TIMEOUT. @default 20 */
  requestTimeoutTicks?: number
  /** Most proposals taken into one log append. @default 4096 */
  maxProposalBatch?: number
  /**
   * Most committed commands handed to `stateMachine.applyBatch` in one call (a machine without
   * applyBatch gets them one by one through apply). 1 turns batching off. @default 1024
   */
  maxApplyBatch?: number
  /** ...and most command bytes in one call (a single bigger command is a batch of its own). @default 4194304 */
  maxApplyBatchBytes?: number
  /**
   * Take a snapshot (and compact the log) once this many entries were applied since the last
   * one. 0 disables snapshots. Needs `stateMachine.snapshot()` and `restore()`.
   * @default 10000 if the state machine has snapshot() and restore(), else 0
   */
  snapshotEntries?: number
  /** ...or once this many bytes of commands were applied since the last one. @default 67108864 */
  snapshotBytes?: number
  /**
   * The snapshotEntries trigger also waits until the command bytes applied since the last
   * snapshot reach this multiple of that snapshot's size. A snapshot writes the whole state,
   * so with a fixed entry count its cost per entry grows with the state (an events queue
   * whose dedup memory holds 50 MB would write it twice a second at 20,000 events/s); with
   * this rule the bytes snapshots write stay at most 1/ratio per command byte applied, however
   * large the state. snapshotBytes still bounds the log kept since the last snapshot. 0 takes
   * a snapshot every snapshotEntries entries whatever the state's size. @default 1
   */
  snapshotLogRatio?: number
  /** Entries kept in memory behind a snapshot, so slightly slow followers need no snapshot. @default 5000 */
  snapshotKeepEntries?: number
  /** Bytes per InstallSnapshot chunk. @default 1048576 */
  snapshotChunkBytes?: number
  /** Unacknowledged snapshot chunks in flight per follower. @default 4 */
  snapshotWindowChunks?: number
  /**
   * Write a snapshot while the node goes on applying and replicating: the state machine's
   * snapshot() is called between two applies and its stream is stored in the background, so a
   * large state does not stall commits for as long as it takes to write. Needs a machine whose
   * snapshot() holds the state as of the call even while later commands are applied between
   * its chunks (stateMachineConformance checks it; every machine quorate ships does). `false`
   * writes each snapshot inside the processing loop, with nothing applied until it is stored,
   * for a machine that cannot capture its state that way. @default true
   */
  backgroundSnapshots?: boolean
  /** Leave a joint configuration automatically once it is applied. @default true */
  autoLeaveJoint?: boolean
  /** @default the system monotonic clock */
  clock?: Clock
  /** @default Math.random */
  random?: RaftOptions['random']
  /**
   * Debug trace: called for every state change (role, term, leader, commit, apply, persist,
   * configuration, snapshot, failure). @default none
   */
  trace?: (event: TraceEvent) => void
  /** Forwards counters, gauges and latency observations to your metrics system. @default none */
  metrics?: MetricsSink
  /**
   * A pino-compatible logger for the node's state transitions (elections, leadership,
   * snapshots, membership, failure; observe.ts). @default silent
   */
  logger?: Logger
}

/** Every key RaftNodeOptions has: its own and the core's. */
const NODE_OPTION_KEYS: readonly string[] = [...RAFT_OPTION_KEYS, ...Object.keys({
  storage: true, transport: true, stateMachine: true, tickMs: true, sync: true, requestTimeoutTicks: true,
  maxProposalBatch: true, maxApplyBatch: true, maxApplyBatchBytes: true, snapshotEntries: true, snapshotBytes: true, snapshotLogRatio: true, snapshotKeepEntries: true,
  snapshotChunkBytes: true, snapshotWindowChunks: true, backgroundSnapshots: true, autoLeaveJoint: true, clock: true, trace: true,
  metrics: true, logger: true
} satisfies Record<Exclude<keyof RaftNodeOptions, keyof RaftOptions>, true>)]

export interface TraceEvent {
  readonly node: NodeId
  readonly at: number
  readonly kind: 'role' | 'commit' | 'apply' | 'persist' | 'failed' | 'config' | 'snapshot' | 'install'
  readonly role?: Role
  readonly term?: number
  readonly leader?: NodeId | null
  readonly index?: number
}

export interface NodeStatus extends CoreStatus {
  readonly lifecycle: ComponentStatus
  readonly failure: QuorateError | null
}

export interface RaftNodeEvents {
  role: [{ role: Role, term: number, leader: NodeId | null }]
  leader: [{ leader: NodeId | null, term: number }]
  applied: [{ index: number }]
  config: [ClusterConfig]
  snapshot: [SnapshotMeta]
  failed: [QuorateError]
}

interface QueuedProposal {
  readonly data: Uint8Array
  readonly resolve: (value: unknown) => void
  readonly reject: (err: unknown) => void
  readonly signal: AbortSignal | undefined
}

interface PendingRequest {
  readonly resolve: (value: unknown) => void
  readonly reject: (err: unknown) => void
  readonly startedTick: number
  readonly batch?: QueuedProposal[]
}

function noop (): void {}

/** Index of the last configuration entry in `entries`, or -1. */
function lastConfigIndex (entries: readonly Entry[]): number {
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.type === 'config') return entries[i]!.index
  return -1
}

interface ApplyWaiter { readonly index: number, readonly resolve: (value: number) => void, readonly reject: (err: unknown) => void }

export class RaftNode extends EventEmitter<RaftNodeEvents> {
  readonly id: NodeId
  readonly #options: RaftNodeOptions
  readonly #clock: Clock
  readonly #tickMs: number
  readonly #sync: boolean
  readonly #requestTimeoutTicks: number
  readonly #maxProposalBatch: number
  readonly #maxApplyBatch: number
  readonly #maxApplyBatchBytes: number
  readonly #mutations: NodeMutations

  static {
    // The simulator's checkers read the core through quorate/testing (test-hooks.ts).
    installCoreReader((node) => node.#core)
  }

  #core: RaftCore | null = null
  /** The one open/close state machine (util/lifecycle.ts); `#status` reads it. */
  readonly #lifecycle = new Lifecycle('node')
  #failure: QuorateError | null = null

  #tickTimer: Timer | null = null
  #processScheduled = false
  #processing: Promise<void> | null = null
  #ticks = 0

  #queue: QueuedProposal[] = []
  readonly #pending = new PendingProposals()
  /**
   * Contexts of forwards and reads. Each node object starts at a random point so an answer
   * meant for an earlier incarnation (same id, before a restart) matches nothing here: the
   * leader also keys duplicate forwards by (sender, context).
   */
  #nextContext: number
  readonly #forwards = new Map<number, PendingRequest>()
  readonly #reads = new Map<number, PendingRequest>()
  #applyWaiters: ApplyWaiter[] = []
  #applied = 0
  #role: Role = 'follower'
  #leader: NodeId | null = null

  // Snapshots and membership.
  readonly #snapshotEntries: number
  readonly #snapshotBytes: number
  readonly #snapshotKeepEntries: number
  #snapshotIndex = 0
  readonly #snapshotLogRatio: number
  /** Bytes of the latest stored snapshot (taken, installed or found at open): the snapshotLogRatio base. */
  #lastSnapshotBytes = 0
  readonly #backgroundSnapshots: boolean
  /** The snapshot being stored in the background, if any (at most one at a time). */
  #snapshotWrite: Promise<void> | null = null
  #appliedSinceSnapshot = 0
  #bytesSinceSnapshot = 0
  #served: ServedSnapshot | null = null
  readonly #senders = new Map<NodeId, SnapshotSender>()
  readonly #receiver: SnapshotReceiver
  /** Messages held while a received snapshot is being installed. */
  #held: Message[] | null = null
  /** A received snapshot, complete and staged in storage, to install at the next loop pass. */
  #pendingInstall: { meta: SnapshotMeta, leader: NodeId } | null = null
  #configWaiters: Array<(c: ClusterConfig) => boolean> = []
  /** Rejects of every wait that only an event would end; called with the reason on close or failure. */
  readonly #closeWaiters = new Set<(reason: QuorateError) => void>()
  readonly #metrics: NodeMetrics
  readonly #observer: NodeObserver
  #commitSeen = 0
  /** Term and vote as last written to storage (a commit-only change is not worth its own write). */
  #persistedTerm = 0
  #persistedVote: NodeId | null = null
  #persistedCommit = 0
  #lastTracedTerm = -1

  constructor (options: RaftNodeOptions) {
    super()
    const C = 'RaftNodeOptions'
    checkObject(options, C, '(options)')
    checkKnownKeys(options, C, NODE_OPTION_KEYS)
    // The id first: every later message names the node by it.
    check(typeof options.id === 'string' && options.id.length > 0, C, 'id', 'a non-empty string', options.id)
    checkMethods(options.storage, C, 'storage', 'a RaftStorage', ['open', 'close', 'load', 'write', 'saveSnapshot', 'loadSnapshot',
      'stageSnapshotChunk', 'stagedSnapshot', 'readStagedSnapshot', 'discardStagedSnapshot', 'installStagedSnapshot'])
    checkMethods(options.transport, C, 'transport', 'a Transport', ['open', 'close', 'send'])
    checkMethods(options.stateMachine, C, 'stateMachine', 'a StateMachine', ['apply'], ['applyBatch', 'snapshot', 'restore'])
    check(options.transport.id === options.id, C, 'transport', `a transport for node ${options.id}`, options.transport.id)
    this.#tickMs = options.tickMs ?? NODE_DEFAULTS.tickMs
    check(typeof this.#tickMs === 'number' && this.#tickMs > 0 && Number.isFinite(this.#tickMs), C, 'tickMs', 'a positive number', this.#tickMs)
    this.#requestTimeoutTicks = options.requestTimeoutTicks ?? NODE_DEFAULTS.requestTimeoutTicks
    checkInt(this.#requestTimeoutTicks, C, 'requestTimeoutTicks', 1)
    this.#maxProposalBatch = options.maxProposalBatch ?? NODE_DEFAULTS.maxProposalBatch
    this.#maxApplyBatch = options.maxApplyBatch ?? NODE_DEFAULTS.maxApplyBatch
    this.#maxApplyBatchBytes = options.maxApplyBatchBytes ?? NODE_DEFAULTS.maxApplyBatchBytes
    // Snapshots are on by default for state machines that can make them; asking for them
    // explicitly from one that cannot is an error.
    const canSnapshot = typeof options.stateMachine.snapshot === 'function' && typeof options.stateMachine.restore === 'function'
    this.#snapshotEntries = options.snapshotEntries ?? (canSnapshot ? NODE_DEFAULTS.snapshotEntries : 0)
    checkInt(this.#snapshotEntries, C, 'snapshotEntries', 0)
    this.#snapshotBytes = options.snapshotBytes ?? NODE_DEFAULTS.snapshotBytes
    checkInt(this.#snapshotBytes, C, 'snapshotBytes', 1)
    this.#snapshotLogRatio = options.snapshotLogRatio ?? NODE_DEFAULTS.snapshotLogRatio
    check(typeof this.#snapshotLogRatio === 'number' && Number.isFinite(this.#snapshotLogRatio) && this.#snapshotLogRatio >= 0,
      C, 'snapshotLogRatio', 'a finite number ≥ 0', this.#snapshotLogRatio)
    this.#snapshotKeepEntries = options.snapshotKeepEntries ?? NODE_DEFAULTS.snapshotKeepEntries
    checkInt(this.#snapshotKeepEntries, C, 'snapshotKeepEntries', 0)
    checkInt(options.snapshotChunkBytes ?? NODE_DEFAULTS.snapshotChunkBytes, C, 'snapshotChunkBytes', 1)
    checkInt(options.snapshotWindowChunks ?? NODE_DEFAULTS.snapshotWindowChunks, C, 'snapshotWindowChunks', 1)
    check(this.#snapshotEntries === 0 || canSnapshot,
      C, 'snapshotEntries', '0 when the state machine has no snapshot()/restore()', this.#snapshotEntries)
    checkInt(this.#maxProposalBatch, C, 'maxProposalBatch', 1)
    checkInt(this.#maxApplyBatch, C, 'maxApplyBatch', 1)
    checkInt(this.#maxApplyBatchBytes, C, 'maxApplyBatchBytes', 1)
    this.#sync = options.sync ?? NODE_DEFAULTS.sync
    checkBool(this.#sync, C, 'sync')
    checkBool(options.autoLeaveJoint ?? NODE_DEFAULTS.autoLeaveJoint, C, 'autoLeaveJoint')
    this.#backgroundSnapshots = options.backgroundSnapshots ?? NODE_DEFAULTS.backgroundSnapshots
    checkBool(this.#backgroundSnapshots, C, 'backgroundSnapshots')
    this.#clock = options.clock ?? systemClock
    checkMethods(this.#clock, C, 'clock', 'a Clock', ['now', 'setTimeout', 'clearTimeout'])
    checkFunction(options.trace, C, 'trace', true)
    if (options.metrics !== undefined) checkMethods(options.metrics, C, 'metrics', 'a MetricsSink', [], ['count', 'observe', 'gauge'])
    this.#mutations = nodeMutationsOf(options)
    this.#receiver = new SnapshotReceiver(options.storage, {
      sync: this.#sync,
      legacy: this.#mutations.snapshotResumeAcrossLeaders === true,
      ackBeforeDurable: this.#mutations.snapshotAckBeforeStaged === true
    })
    this.#options = options
    this.#metrics = new NodeMetrics(options.metrics, (err) => { this.#fail(err, 'the metrics sink threw') })
    checkLogger(options.logger, C)
    this.#observer = new NodeObserver({
      id: options.id,
      logger: options.logger,
      metrics: this.#metrics,
      clock: this.#clock,
      replication: () => this.#core?.status() ?? null,
      failure: () => this.#failure
    })
    this.id = options.id
    // Validate the core options now, so a bad option fails at construction, not at open().
    void new RaftCore(pickRaftOptions(options))
    this.#nextContext = 1 + Math.floor((options.random ?? systemRandom).next() * 2 ** 48)
  }

  /** Lifecycle: 'opening' | 'open' | 'closing' | 'closed'. */
  get lifecycle (): ComponentStatus { return this.#status }

  /**
   * A failed node is closing from the moment it fails (fail-stop: nothing may be written or
   * sent after), although its queued close() step starts a microtask later.
   */
  get #status (): ComponentStatus {
    const status = this.#lifecycle.status
    return status === 'open' && this.#failure !== null ? 'closing' : status
  }

  /** The fatal error that stopped this node, if any. */
  get failure (): QuorateError | null { return this.#failure }

  // ---------------------------------------------------------------- lifecycle

  /** Loads state from storage, restores the state machine and starts ticking. Idempotent. */
  async open (options: { signal?: AbortSignal } = {}): Promise<void> {
    const signal = signalOption(options, 'RaftNode.open')
    if (this.#status === 'open') return
    if (this.#failure !== null) throw this.#failure
    await this.#lifecycle.open(async () => { await this.#doOpen(signal) }, signal, () => {
      this.#armTick()
      this.#schedule()
    })
  }

  async #doOpen (signal: AbortSignal | undefined): Promise<void> {
    const { storage, transport, stateMachine } = this.#options
    try {
      if (signal?.aborted === true) throw abortError(signal)
      await storage.open({ signal })
      const stored = await storage.load()
      if (stored.snapshot !== null) {
        const snap = await storage.loadSnapshot()
        if (snap !== null) {
          if (stateMachine.restore === undefined) {
            throw new QuorateError('OPTIONS_INVALID', 'storage holds a snapshot but the state machine has no restore()')
          }
          await stateMachine.restore(snap.chunks)
          this.#lastSnapshotBytes = Math.max(0, snap.bytes)
        }
      }
      this.#core = new RaftCore(withMutations(pickRaftOptions(this.#options), this.#mutations), stored)
      this.#snapshotIndex = stored.snapshot?.index ?? 0
      this.#persistedTerm = stored.hardState.term
      this.#persistedVote = stored.hardState.vote
      this.#persistedCommit = stored.hardState.commit
      this.#applied = this.#core.log.applied
      // A snapshot transfer staged before a restart resumes where it ended, if still wanted.
      const core = this.#core
      await this.#receiver.load((staged) => core.wantsSnapshot(staged.meta))
      if ((signal as AbortSignal | undefined)?.aborted === true) throw abortError(signal!)
      await transport.open((m) => { this.#receive(m) }, { signal })
    } catch (err) {
      this.#core = null
      await Promise.allSettled([transport.close(), storage.close()])
      throw isQuorateError(err) ? err : new QuorateError('STORAGE_READ_FAILED', `node ${this.id} could not open: ${(err as Error)?.message}`, { cause: err })
    }
  }

  /** Stops ticking, fails pending requests with NODE_CLOSED, closes transport and storage. Idempotent. */
  async close (): Promise<void> {
    await this.#lifecycle.close(async () => { await this.#doClose(new QuorateError('NODE_CLOSED', `node ${this.id} closed`)) })
  }

  async #doClose (reason: QuorateError): Promise<void> {
    if (this.#tickTimer !== null) this.#clock.clearTimeout(this.#tickTimer)
    this.#tickTimer = null
    await this.#processing?.catch(() => {})
    await this.#snapshotWrite
    for (const sender of this.#senders.values()) sender.close()
    this.#senders.clear()
    this.#rejectAll(reason)
    await Promise.allSettled([this.#options.transport.close(), this.#options.storage.close()])
    this.#core = null
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  /**
   * Fail-stop: a storage or state machine failure must not be retried silently. The cause is
   * kept as thrown (only the storage knows that a failure was a storage failure). Closing
   * starts first, so a trace callback or 'failed' listener that throws cannot leave the node
   * open.
   */
  #fail (err: unknown, what: string): void {
    if (this.#failure !== null) return
    const message = err instanceof Error ? err.message : String(err)
    const failure = new QuorateError('NODE_FAILED', `node ${this.id} stopped: ${what}: ${message}`, { cause: err })
    this.#failure = failure
    void this.#lifecycle.close(async () => { await this.#doClose(failure) })
    this.#trace({ kind: 'failed' })
    this.emit('failed', failure)
  }

  #rejectAll (reason: QuorateError): void {
    for (const q of this.#queue) q.reject(reason)
    this.#queue = []
    this.#pending.rejectAll(reason)
    for (const r of this.#forwards.values()) r.reject(reason)
    this.#forwards.clear()
    for (const r of this.#reads.values()) r.reject(reason)
    this.#reads.clear()
    // A read waiting for its index to be applied must not hang once the node is closed.
    for (const w of this.#applyWaiters) w.reject(reason)
    this.#applyWaiters = []
    // waitForLeader, transferLeadership and membership waits: nothing would wake them now.
    for (const w of this.#closeWaiters) w(reason)
    this.#closeWaiters.clear()
  }

  // ---------------------------------------------------------------- public operations

  /**
   * Proposes a command. Resolves with the state machine's result once the command is
   * committed and applied on this node. Rejects with RAFT_NOT_LEADER (err.info.leader) on a
   * follower (unless forwardProposals is on), RAFT_PROPOSAL_DROPPED if it can never commit,
   * ABORTED if `signal` fires (the command may still commit), NODE_CLOSED / NODE_FAILED.
   */
  propose (command: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<unknown> {
    // Not an async function: one promise per proposal on the hot path, not three. Every check
    // stays inside the try: a promise-returning method never throws synchronously.
    let signal: AbortSignal | undefined
    try {
      this.#assertOpen()
      if (!(command instanceof Uint8Array)) throw new QuorateError('OPTIONS_INVALID', 'propose: command must be a Uint8Array')
      signal = signalOption(options, 'RaftNode.propose')
      // Checked here, one proposal at a time: inside a batch it would fail its neighbours too.
      this.#core!.checkProposalSize(command)
    } catch (err) {
      return Promise.reject(err)
    }
    this.#metrics.count('proposals')
    return abortable<unknown>(signal, (resolve, reject) => {
      this.#queue.push({ data: command, resolve, reject, signal })
      this.#schedule()
    })
  }

  /**
   * Linearizable read barrier (ReadIndex, Raft thesis §6.4): resolves with an index once this
   * node has applied everything committed before the call, with leadership confirmed by a
   * quorum. Reading the state machine after it resolves is linearizable.
   */
  async read (options: { signal?: AbortSignal } = {}): Promise<number> {
    this.#assertOpen()
    const signal = signalOption(options, 'RaftNode.read')
    if (signal?.aborted === true) throw abortError(signal)
    const core = this.#core!
    if (this.#mutations.staleReads === true) return this.#applied
    const context = this.#nextContext++
    const index = await abortable<number>(signal, (resolve, reject) => {
      this.#reads.set(context, { resolve: resolve as (v: unknown) => void, reject, startedTick: this.#ticks })
      try {
        core.readIndex(context)
      } catch (err) {
        this.#reads.delete(context)
        reject(err)
        return
      }
      this.#schedule()
    }, () => this.#reads.delete(context))
    if (this.#applied >= index) return index
    let waiter: ApplyWaiter | undefined
    return await abortable<number>(signal, (resolve, reject) => {
      waiter = { index, resolve, reject }
      this.#applyWaiters.push(waiter)
    }, () => {
      const at = waiter === undefined ? -1 : this.#applyWaiters.indexOf(waiter)
      if (at >= 0) this.#applyWaiters.splice(at, 1)
      return at >= 0
    })
  }

  /**
   * Hands leadership to `to` (or the most up-to-date voter if omitted). Resolves with the new
   * leader's id once this node has seen it take over; rejects with RAFT_TIMEOUT if it did not
   * happen within an election timeout.
   */
  async transferLeadership (to?: NodeId, options: { signal?: AbortSignal } = {}): Promise<NodeId> {
    this.#assertOpen()
    const signal = signalOption(options, 'RaftNode.transferLeadership')
    const target = this.#core!.transferLeadership(to ?? null)
    this.#schedule()
    const deadlineMs = this.#tickMs * (this.#options.electionTicks ?? 10) * 2
    return await this.#waitFor(() => this.#leader === target ? target : undefined, deadlineMs, signal)
  }

  /** Resolves with the leader's id once one is known (with an optional timeout in ms). */
  async waitForLeader (options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<NodeId> {
    this.#assertOpen()
    const signal = signalOption(options, 'RaftNode.waitForLeader')
    const timeoutMs = options.timeoutMs ?? Number.POSITIVE_INFINITY
    check(typeof timeoutMs === 'number' && timeoutMs >= 0, 'RaftNode.waitForLeader', 'timeoutMs', 'a number >= 0', timeoutMs)
    return await this.#waitFor(() => this.#leader ?? undefined, timeoutMs, signal)
  }

  async #waitFor<T> (probe: () => T | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<T> {
    const now = probe()
    if (now !== undefined) return now
    return await new Promise<T>((resolve, reject) => {
      let timer: Timer | null = null
      const cleanup = (): void => {
        this.#closeWaiters.delete(onClose)
        this.off('leader', onLeader)
        this.off('failed', onFail)
        signal?.removeEventListener('abort', onAbort)
        if (timer !== null) this.#clock.clearTimeout(timer)
      }
      const onLeader = (): void => {
        const v = probe()
        if (v !== undefined) { cleanup(); resolve(v) }
      }
      const onFail = (err: QuorateError): void => { cleanup(); reject(err) }
      const onAbort = (): void => { cleanup(); reject(abortError(signal!)) }
      const onClose = (reason: QuorateError): void => { cleanup(); reject(reason) }
      this.#closeWaiters.add(onClose)
      this.on('leader', onLeader)
      this.on('failed', onFail)
      signal?.addEventListener('abort', onAbort, { once: true })
      if (Number.isFinite(timeoutMs)) {
        timer = this.#clock.setTimeout(() => { cleanup(); reject(new QuorateError('RAFT_TIMEOUT', `node ${this.id}: condition not met within ${timeoutMs} ms`)) }, timeoutMs)
      }
    })
  }

  /** Counters and latency histograms (milliseconds) since the node was created. */
  metrics (): MetricsSnapshot { return this.#metrics.snapshot() }

  status (): NodeStatus {
    const core = this.#core
    const base: CoreStatus = core !== null
      ? { ...core.status(), appliedIndex: this.#applied }
      : { id: this.id, role: 'follower', leader: null, term: 0, vote: null, commitIndex: 0, appliedIndex: this.#applied, lastIndex: 0, lastTerm: 0, durableIndex: 0, voters: [], learners: [], transferee: null, progress: null }
    return { ...base, lifecycle: this.#status, failure: this.#failure }
  }

  #assertOpen (): void {
    if (this.#failure !== null) throw this.#failure
    if (this.#status !== 'open') throw new QuorateError('NODE_NOT_OPEN', `node ${this.id} is ${this.#status}`)
  }

  // ---------------------------------------------------------------- driving the core

  #receive (m: Message): void {
    const core = this.#core
    if (core === null || this.#status !== 'open') return
    this.#metrics.count('messagesReceived')
    if (this.#held !== null) { this.#held.push(m); return }
    core.step(m)
    this.#schedule()
  }

  #armTick (): void {
    this.#tickTimer = this.#clock.setTimeout(() => { this.#onTick() }, this.#tickMs)
  }

  #onTick (): void {
    if (this.#status !== 'open' || this.#core === null) return
    this.#ticks++
    this.#core.tick()
    for (const sender of this.#senders.values()) sender.tick()
    this.#expireRequests()
    this.#armTick()
    this.#schedule()
  }

  /** Fails reads and forwarded proposals the leader never answered (lost messages). */
  #expireRequests (): void {
    if (this.#forwards.size === 0 && this.#reads.size === 0) return
    const limit = this.#ticks - this.#requestTimeoutTicks
    for (const map of [this.#forwards, this.#reads]) {
      for (const [ctx, r] of map) {
        if (r.startedTick > limit) continue
        map.delete(ctx)
        r.reject(new QuorateError('RAFT_TIMEOUT', `node ${this.id}: no answer from the leader within ${this.#requestTimeoutTicks} ticks`))
      }
    }
  }

  /** Runs the processing loop soon, once per turn however many inputs arrived. */
  #schedule (): void {
    if (this.#processScheduled || this.#status !== 'open') return
    this.#processScheduled = true
    this.#clock.setTimeout(() => {
      this.#processScheduled = false
      if (this.#processing === null) {
        this.#processing = this.#processLoop().finally(() => { this.#processing = null })
      } else {
        this.#replicateEarly()
      }
    }, 0)
  }

  /**
   * While a ready batch is being persisted, a leader still takes new proposals into its log and
   * sends the appends at once (they need not wait for its own fsync: thesis §10.2.1), so the
   * followers' writes overlap the leader's. The entries are persisted with the next batch.
   */
  #replicateEarly (): void {
    const core = this.#core
    if (core === null || this.#status !== 'open' || core.role !== 'leader' || this.#pendingInstall !== null) return
    this.#takeProposals(core)
    const early = core.takeEarlyMessages()
    if (early.length > 0) {
      this.#metrics.count('messagesSent', early.length)
      this.#options.transport.send(early)
    }
  }

  async #processLoop (): Promise<void> {
    const core = this.#core
    if (core === null) return
    try {
      for (;;) {
        if (this.#status !== 'open') return
        this.#takeProposals(core)
        if (this.#pendingInstall !== null) await this.#installSnapshot(core)
        this.#pumpSnapshots(core)
        this.#maybeLeaveJoint(core)
        if (!core.hasReady()) return
        await this.#handleReady(core, core.ready())
        if (this.#shouldSnapshot()) await this.#takeSnapshot(core)
      }
    } catch (err) {
      this.#fail(err, 'processing a ready batch')
    }
  }

  /** Moves queued proposals into the log in one batch (one append, one write). */
  #takeProposals (core: RaftCore): void {
    while (this.#queue.length > 0) {
      let batch = this.#queue
      if (batch.length > this.#maxProposalBatch) {
        batch = this.#queue.slice(0, this.#maxProposalBatch)
        this.#queue = this.#queue.slice(this.#maxProposalBatch)
      } else {
        this.#queue = []
      }
      const live = batch.filter((q) => q.signal?.aborted !== true)
      if (live.length === 0) continue
      const datas = live.map((q) => q.data)
      if (core.role === 'leader') {
        try {
          const pos = core.propose(datas)
          for (let i = 0; i < live.length; i++) this.#pending.add(pos.term, pos.index + i, live[i]!.resolve, live[i]!.reject)
        } catch (err) {
          for (const q of live) q.reject(err)
        }
      } else if (core.forwardProposals && core.leader !== null) {
        const context = this.#nextContext++
        // Until the leader answers, the request timeout sweep and close() end these proposals
        // through `reject` (the forwardedProposalLeak mutant forgets them, as they once were).
        const reject = this.#mutations.forwardedProposalLeak === true ? noop : (err: unknown): void => { for (const q of live) q.reject(err) }
        this.#forwards.set(context, { resolve: noop, reject, startedTick: this.#ticks, batch: live })
        core.forward(datas, context)
      } else {
        const err = new QuorateError('RAFT_NOT_LEADER', `node ${this.id} is not the leader`, { details: { leader: core.leader } })
        for (const q of live) q.reject(err)
      }
    }
  }

  async #handleReady (core: RaftCore, rd: Ready): Promise<void> {
    const { storage, transport } = this.#options
    const started = this.#clock.now()
    this.#metrics.count('messagesSent', rd.earlyMessages.length + rd.messages.length)
    if (rd.earlyMessages.length > 0) transport.send(rd.earlyMessages)
    if (this.#mutations.ackBeforeDurable === true && rd.messages.length > 0) transport.send(rd.messages)
    let hardState = rd.hardState
    if (this.#mutations.skipVotePersist === true && hardState !== null) {
      hardState = null
    }
    const hasLog = rd.entries.length > 0 || rd.truncateFrom !== 0
    // A configuration entry is acted on once applied (a removed node stops campaigning, a
    // leader steps down), so a commit index covering it must be durable first: a crash would
    // otherwise bring the node back under the older configuration, where removed nodes can
    // still elect one of their own, a second leader of a term (simulator seeds found it).
    const commitsConfig = lastConfigIndex(rd.committed) > this.#persistedCommit
    if (!hasLog && !commitsConfig && hardState !== null && hardState.term === this.#persistedTerm && hardState.vote === this.#persistedVote) {
      // Only the commit index moved. Raft does not need it durable (a restarted node learns it
      // again), so it rides along with the next write instead of costing a write of its own.
      hardState = null
    }
    if (commitsConfig && hardState === null) hardState = { term: this.#persistedTerm, vote: this.#persistedVote, commit: core.log.committed }
    let writing: Promise<void> | null = null
    const writeStarted = this.#clock.now()
    if (hardState !== null || hasLog) {
      writing = storage.write({ hardState, truncateFrom: rd.truncateFrom === 0 ? undefined : rd.truncateFrom, entries: rd.entries }, { sync: this.#sync && (rd.mustSync || commitsConfig) })
      // Observed now so a failure while we apply is not an unhandled rejection; awaited below.
      writing.catch(() => {})
    }
    if (rd.hardState !== null && rd.hardState.commit > this.#commitSeen) {
      this.#commitSeen = rd.hardState.commit
      this.#trace({ kind: 'commit', index: rd.hardState.commit })
    }
    if (rd.committed.length > 0) {
      // The core hands out only entries that are committed AND already durable here, so they
      // are applied while this batch's write is in flight (as etcd-io/raft allows): a client's
      // answer does not wait for the next fsync.
      if (commitsConfig) await writing
      const applyStarted = this.#clock.now()
      await this.#apply(rd.committed)
      this.#metrics.observe('applyMs', this.#clock.now() - applyStarted)
      this.#metrics.count('entriesApplied', rd.committed.length)
    }
    if (writing !== null) {
      await writing
      this.#metrics.observe('storageWriteMs', this.#clock.now() - writeStarted)
      this.#metrics.count('storageWrites')
      this.#metrics.count('entriesPersisted', rd.entries.length)
      if (hardState !== null) {
        this.#persistedTerm = hardState.term
        this.#persistedVote = hardState.vote
        this.#persistedCommit = Math.max(this.#persistedCommit, hardState.commit)
      }
      this.#trace({ kind: 'persist', index: rd.entries.length > 0 ? rd.entries[rd.entries.length - 1]!.index : undefined, term: hardState?.term })
    }
    if (this.#status !== 'open') return
    if (this.#mutations.ackBeforeDurable !== true && rd.messages.length > 0) transport.send(rd.messages)
    this.#handleSoftState(rd)
    for (const rs of rd.readStates) this.#settleRead(rs.context, rs.index)
    for (const f of rd.forwarded) this.#settleForward(f)
    for (const m of rd.snapshotChunks) await this.#receiveSnapshotChunk(core, m)
    for (const m of rd.snapshotAcks) this.#senders.get(m.from)?.onAck(m.index, m.context)
    for (const to of rd.snapshotTargets) await this.#startSnapshotSender(core, to)
    core.advance(rd)
    this.#metrics.observe('readyMs', this.#clock.now() - started)
  }

  async #apply (entries: readonly Entry[]): Promise<void> {
    const batching = this.#maxApplyBatch > 1 && typeof this.#options.stateMachine.applyBatch === 'function'
    for (let i = 0; i < entries.length;) {
      const e = entries[i]!
      if (e.type === 'config') {
        const config = this.#core!.applyConfigChange(decodeConfigChange(e.data))
        this.#metrics.count('configChanges')
        this.#trace({ kind: 'config', index: e.index })
        this.#configWaiters = this.#configWaiters.filter((w) => !w(config))
        this.emit('config', config)
        this.#settleApplied(e, config)
        i++
      } else if (e.type === 'command') {
        const end = batching ? this.#commandRunEnd(entries, i) : i + 1
        if (end - i === 1) await this.#applyOne(e)
        else await this.#applyRun(entries, i, end)
        i = end
      } else {
        this.#settleApplied(e, undefined)
        i++
      }
    }
    this.#appliedSinceSnapshot += entries.length
    const last = this.#applied
    this.#trace({ kind: 'apply', index: last })
    if (this.#applyWaiters.length > 0) this.#wakeApplyWaiters()
    const core = this.#core
    if (core !== null && last >= core.log.committed && !isMember(core.config, this.id)) this.#abandonAfterRemoval()
    this.emit('applied', { index: last })
  }

  /** The entry is applied: later reads and waiters may see it, its proposer gets `result`. */
  #settleApplied (e: Entry, result: unknown): void {
    this.#applied = e.index
    this.#pending.settle(e.term, e.index, result)
  }

  async #applyOne (e: Entry): Promise<void> {
    this.#bytesSinceSnapshot += e.data.byteLength
    let result: unknown
    try {
      result = this.#options.stateMachine.apply(e.data, e.index)
      if (isThenable(result)) result = await result
    } catch (err) {
      throw new QuorateError('NODE_FAILED', `state machine apply failed at index ${e.index}`, { cause: err })
    }
    this.#settleApplied(e, result)
  }

  /** End (exclusive) of the run of command entries from `start`, within the batch bounds. */
  #commandRunEnd (entries: readonly Entry[], start: number): number {
    let bytes = entries[start]!.data.byteLength
    let end = start + 1
    const limit = Math.min(entries.length, start + this.#maxApplyBatch)
    while (end < limit) {
      const e = entries[end]!
      if (e.type !== 'command' || bytes + e.data.byteLength > this.#maxApplyBatchBytes) break
      bytes += e.data.byteLength
      end++
    }
    return end
  }

  /**
   * Applies entries[start, end) — consecutive commands — in one applyBatch call. Nothing of
   * the run counts as applied until the whole call returned (a snapshot is only taken between
   * ready batches, so it never cuts a run), then each proposer gets its own result in order.
   */
  async #applyRun (entries: readonly Entry[], start: number, end: number): Promise<void> {
    const commands = new Array<Uint8Array>(end - start)
    for (let i = start; i < end; i++) {
      commands[i - start] = entries[i]!.data
      this.#bytesSinceSnapshot += entries[i]!.data.byteLength
    }
    const first = entries[start]!.index
    let results: readonly unknown[]
    try {
      results = await this.#options.stateMachine.applyBatch!(commands, first)
    } catch (err) {
      throw new QuorateError('NODE_FAILED', `state machine applyBatch failed applying indexes ${first}..${first + commands.length - 1}`, { cause: err })
    }
    checkBatchResults(results, commands.length, 'the state machine', first)
    for (let i = start; i < end; i++) this.#settleApplied(entries[i]!, results[i - start])
  }

  /**
   * A node outside the configuration is sent no more entries, so proposals and reads waiting
   * for entries beyond what it has applied would wait forever (a leader that removed itself
   * keeps its last proposals). They fail with RAFT_NOT_MEMBER; a proposal's outcome is unknown.
   */
  #abandonAfterRemoval (): void {
    if (this.#pending.size === 0 && this.#applyWaiters.length === 0) return
    const err = new QuorateError('RAFT_NOT_MEMBER', `node ${this.id} was removed from the cluster; the outcome of a pending proposal is unknown`)
    this.#pending.rejectAll(err)
    for (const w of this.#applyWaiters) w.reject(err)
    this.#applyWaiters = []
  }

  #wakeApplyWaiters (): void {
    const still: ApplyWaiter[] = []
    for (const w of this.#applyWaiters) {
      if (w.index <= this.#applied) w.resolve(w.index)
      else still.push(w)
    }
    this.#applyWaiters = still
  }

  #handleSoftState (rd: Ready): void {
    const { role, leader, term } = rd.soft
    const roleChanged = role !== this.#role
    const leaderChanged = leader !== this.#leader
    this.#role = role
    this.#leader = leader
    if (roleChanged && role === 'candidate') this.#metrics.count('elections')
    if (roleChanged || leaderChanged || term !== this.#lastTracedTerm) {
      this.#lastTracedTerm = term
      this.#trace({ kind: 'role', role, term, leader })
    }
    if (roleChanged) this.emit('role', { role, term, leader })
    if (leaderChanged) {
      this.#metrics.count('leaderChanges')
      this.emit('leader', { leader, term })
    }
  }

  #settleRead (context: number, index: number): void {
    const r = this.#reads.get(context)
    if (r === undefined) return
    this.#reads.delete(context)
    if (index < 0) r.reject(new QuorateError('RAFT_NOT_LEADER', `node ${this.id}: leadership changed before the read was confirmed`, { details: { leader: this.#leader } }))
    else {
      this.#metrics.count('readsServed')
      r.resolve(index)
    }
  }

  #settleForward ({ context, index, term, rejected, maybeAppended, leader }: ForwardResult): void {
    const f = this.#forwards.get(context)
    if (f === undefined || f.batch === undefined) return
    this.#forwards.delete(context)
    if (rejected) {
      const err = maybeAppended
        ? new QuorateError('RAFT_TIMEOUT', `node ${this.id}: the leader refused a copy of the forwarded proposal, but an earlier copy may have been appended; the outcome is unknown`, { details: { leader } })
        : new QuorateError('RAFT_NOT_LEADER', `node ${this.id}: the leader refused the forwarded proposal`, { details: { leader } })
      for (const q of f.batch) q.reject(err)
      return
    }
    for (let i = 0; i < f.batch.length; i++) {
      const q = f.batch[i]!
      this.#pending.add(term, index + i, q.resolve, q.reject, this.#applied)
    }
  }

  // ---------------------------------------------------------------- membership

  /**
   * Changes the cluster's membership (Raft thesis §4). A change of at most one voter applies
   * directly; larger ones go through a joint configuration, which the leader leaves
   * automatically (autoLeaveJoint). Resolves with the final configuration once it is applied
   * on this node. Leader only (RAFT_NOT_LEADER); RAFT_CONFIG_PENDING while another change is in
   * progress; RAFT_CONFIG_INVALID for an impossible change.
   */
  async changeMembership (change: ConfigChange, options: { signal?: AbortSignal } = {}): Promise<ClusterConfig> {
    this.#assertOpen()
    const signal = signalOption(options, 'RaftNode.changeMembership')
    const core = this.#core!
    const pos = core.proposeConfigChange(change)
    this.#schedule()
    const applied = await abortable<unknown>(signal, (resolve, reject) => {
      this.#pending.add(pos.term, pos.index, resolve, reject)
    }) as ClusterConfig
    if (applied.votersOutgoing.length === 0) return applied
    let onClose: ((reason: QuorateError) => void) | undefined
    return await abortable<ClusterConfig>(signal, (resolve, reject) => {
      onClose = reject
      this.#closeWaiters.add(onClose)
      this.#configWaiters.push((c) => {
        if (c.votersOutgoing.length !== 0) return false
        this.#closeWaiters.delete(onClose!)
        resolve(c)
        return true
      })
    }, () => { this.#closeWaiters.delete(onClose!); return true })
  }

  /** Adds a non-voting learner: it receives the log but does not vote or count for commits. */
  async addLearner (id: NodeId, options: { signal?: AbortSignal } = {}): Promise<ClusterConfig> {
    return await this.changeMembership({ operations: [{ type: 'addLearner', id }] }, options)
  }

  /**
   * Adds a voter safely: first as a learner, then, once it has caught up with the leader's
   * commit index, promotes it (so a new empty node never stalls commits, thesis §4.2.1).
   */
  async addVoter (id: NodeId, options: { signal?: AbortSignal, catchUpTimeoutMs?: number } = {}): Promise<ClusterConfig> {
    this.#assertOpen()
    signalOption(options, 'RaftNode.addVoter')
    const config = this.#core!.config
    if (!config.learners.includes(id) && !config.voters.includes(id)) await this.addLearner(id, options)
    const deadline = this.#clock.now() + (options.catchUpTimeoutMs ?? this.#tickMs * (this.#options.electionTicks ?? 10) * 20)
    for (;;) {
      const core = this.#core
      if (core === null) throw new QuorateError('NODE_CLOSED', `node ${this.id} closed`)
      const match = core.status().progress?.[id]?.match ?? -1
      if (match >= core.log.committed) break
      if (this.#clock.now() > deadline) throw new QuorateError('RAFT_TIMEOUT', `learner ${id} did not catch up in time`)
      await new Promise<void>((resolve) => { this.#clock.setTimeout(resolve, this.#tickMs) })
      if (options.signal?.aborted === true) throw abortError(options.signal)
    }
    return await this.changeMembership({ operations: [{ type: 'addVoter', id }] }, options)
  }

  /** Removes a voter or learner (the leader itself included: it hands over and steps down). */
  async removeMember (id: NodeId, options: { signal?: AbortSignal } = {}): Promise<ClusterConfig> {
    return await this.changeMembership({ operations: [{ type: 'remove', id }] }, options)
  }

  #maybeLeaveJoint (core: RaftCore): void {
    if (this.#options.autoLeaveJoint === false || core.config.votersOutgoing.length === 0) return
    // Checked, not caught: until the joint entry is applied (or while a leave is already in
    // the log) this runs on every loop pass, and a thrown error per pass would be waste.
    // In a joint configuration with no change pending, leaving is always valid.
    if (!core.canProposeConfigChange()) return
    core.proposeConfigChange({ operations: [], leaveJoint: true })
  }

  // ---------------------------------------------------------------- snapshots

  #shouldSnapshot (): boolean {
    if (this.#snapshotEntries === 0 || this.#status !== 'open' || this.#snapshotWrite !== null) return false
    if (this.#bytesSinceSnapshot >= this.#snapshotBytes) return true
    return this.#appliedSinceSnapshot >= this.#snapshotEntries && this.#bytesSinceSnapshot >= this.#snapshotLogRatio * this.#lastSnapshotBytes
  }

  /**
   * Snapshots the state machine at the applied index, stores it and compacts the log. The
   * machine's snapshot() captures its state as of this call (the contract); with
   * backgroundSnapshots the stream is stored while later entries are applied, else the loop
   * waits for it. Either way the log is compacted only once the snapshot is durable, and at
   * most one snapshot is being stored at a time (#shouldSnapshot).
   */
  async #takeSnapshot (core: RaftCore): Promise<void> {
    const index = this.#applied
    if (index <= this.#snapshotIndex) return
    const meta: SnapshotMeta = { index, term: core.log.term(index), config: core.config }
    let bytes = 0
    const stream = countedChunks(this.#options.stateMachine.snapshot!(), (n) => { bytes += n })
    // Entries applied from now on count towards the next snapshot.
    this.#appliedSinceSnapshot = 0
    this.#bytesSinceSnapshot = 0
    const write = this.#options.storage.saveSnapshot(meta, stream, { sync: this.#sync }).then(() => {
      if (this.#status !== 'open' || this.#core !== core) return
      this.#lastSnapshotBytes = bytes
      this.#snapshotIndex = index
      this.#served = null
      core.compact(index - this.#snapshotKeepEntries)
      this.#metrics.count('snapshotsTaken')
      this.#trace({ kind: 'snapshot', index })
      this.emit('snapshot', meta)
    })
    if (!this.#backgroundSnapshots) { await write; return }
    this.#snapshotWrite = write.then(() => {
      this.#snapshotWrite = null
      this.#schedule()
    }, (err: unknown) => {
      this.#snapshotWrite = null
      this.#fail(err, 'storing a snapshot')
    })
  }

  async #startSnapshotSender (core: RaftCore, to: NodeId): Promise<void> {
    // A transfer still running for an older snapshot that no longer reaches the compacted log
    // (a newer snapshot was taken meanwhile) would leave the follower short of the log forever.
    const running = this.#senders.get(to)
    if ((running?.snapshot.meta.index ?? -1) >= core.log.snapshotIndex) return
    const served = await this.#servedSnapshot()
    if (served === null) { core.snapshotFailed(to); return }
    running?.close()
    const window = this.#options.snapshotWindowChunks ?? NODE_DEFAULTS.snapshotWindowChunks
    const storage = this.#options.storage
    const legacy = this.#mutations.snapshotResumeAcrossLeaders === true
    let sender: SnapshotSender | undefined
    // The mutant keeps the old sender whole: collected into memory, cut at the stored pieces.
    const source = legacy ? await PieceChunkSource.collect(served.meta, (await storage.loadSnapshot())!.chunks, served.chunkBytes) : new StoredChunkSource({
      snapshot: served,
      // Twice the window: the chunks in flight (for resends) and as many read ahead.
      capacity: 2 * window,
      open: async () => {
        const stored = await storage.loadSnapshot()
        if (stored?.meta.index !== served.meta.index) throw new QuorateError('STORAGE_READ_FAILED', `snapshot ${served.meta.index} was replaced while it was being sent`)
        return stored.chunks
      },
      onReady: () => { this.#schedule() },
      // The stored snapshot could not be read (replaced, damaged): give this transfer up; the
      // follower is probed again and gets the current snapshot if it still needs one.
      onError: () => {
        if (this.#senders.get(to) !== sender) return
        this.#senders.delete(to)
        this.#core?.snapshotFailed(to)
        this.#schedule()
      }
    })
    sender = new SnapshotSender(to, source, window, SNAPSHOT_DEFAULTS.retransmitTicks, legacy)
    this.#senders.set(to, sender)
  }

  /**
   * The stored snapshot's identity and shape, cached per snapshot. Its length and digest come
   * from storage (recorded when it was stored); a snapshot stored by an older version is
   * hashed here once, streaming.
   */
  async #servedSnapshot (): Promise<ServedSnapshot | null> {
    const cached = this.#served
    if (cached !== null && cached.meta.index === this.#snapshotIndex) return cached
    const stored = await this.#options.storage.loadSnapshot()
    if (stored === null) return null
    let { bytes, digest } = stored
    if (digest === null || bytes < 0) {
      const hash = createHash('sha256')
      bytes = 0
      for await (const chunk of stored.chunks) { hash.update(chunk); bytes += chunk.byteLength }
      digest = new Uint8Array(hash.digest())
    }
    const served = servedSnapshot(stored.meta, bytes, digest, this.#options.snapshotChunkBytes ?? NODE_DEFAULTS.snapshotChunkBytes)
    this.#served = served
    return served
  }

  #pumpSnapshots (core: RaftCore): void {
    for (const [to, sender] of this.#senders) {
      const chunks = sender.due()
      if (chunks.length === 0) {
        // Drop finished or abandoned transfers (the follower left snapshot state).
        if (core.status().progress?.[to]?.state !== 'snapshot') this.#dropSender(to, sender)
        continue
      }
      for (const chunk of chunks) {
        if (!core.sendSnapshotChunk(to, chunk)) { this.#dropSender(to, sender); break }
        this.#metrics.count('snapshotChunksSent')
      }
    }
  }

  #dropSender (to: NodeId, sender: SnapshotSender): void {
    sender.close()
    this.#senders.delete(to)
  }

  /** Stages one received chunk durably, then acknowledges what is staged. */
  async #receiveSnapshotChunk (core: RaftCore, m: Message): Promise<void> {
    // A stream completed earlier in this batch is staged and waiting to be installed: later
    // chunks (duplicates, another stream) must not touch it. The sender asks again.
    if (this.#pendingInstall !== null) return
    const chunk = m.snapshot!
    if (!core.wantsSnapshot(chunk.meta)) {
      // Already covered (installed earlier, its answer lost): tell the leader where we are.
      // A stream being staged is dropped only if it is no longer wanted either.
      const staging = this.#receiver.identity
      if (staging === null || !core.wantsSnapshot(staging.meta)) await this.#receiver.discard()
      core.snapshotNotNeeded(m.from)
      return
    }
    const { received, complete, corrupt } = await this.#receiver.accept(m.from, chunk)
    // A stream that failed its digest is never restored: it was discarded, and the ack of 0
    // makes the sender start it again.
    if (corrupt) this.#metrics.count('snapshotDigestMismatches')
    core.ackSnapshot(m.from, chunk.meta.index, received)
    if (!complete) return
    if (!core.wantsSnapshot(chunk.meta)) { await this.#receiver.discard(); return }
    this.#pendingInstall = { meta: chunk.meta, leader: m.from }
    this.#held = []
  }

  /**
   * Makes the staged snapshot the stored one, restores the state machine from it (streamed
   * from storage), then tells the core.
   */
  async #installSnapshot (core: RaftCore): Promise<void> {
    const install = this.#pendingInstall!
    this.#pendingInstall = null
    const { meta, leader } = install
    const sm = this.#options.stateMachine
    if (sm.restore === undefined) throw new QuorateError('OPTIONS_INVALID', 'a snapshot arrived but the state machine has no restore()')
    const storage = this.#options.storage
    // A snapshot of our own still being stored would otherwise land after the leader's (and
    // replace it with an older state); a failed one has already stopped the node.
    await this.#snapshotWrite
    if (this.#status !== 'open') return
    await storage.installStagedSnapshot({ sync: this.#sync })
    this.#receiver.installed()
    this.#served = null
    const stored = await storage.loadSnapshot()
    if (stored === null) throw new QuorateError('STORAGE_READ_FAILED', `the snapshot at ${meta.index} just installed is not in storage`)
    await sm.restore(stored.chunks)
    this.#lastSnapshotBytes = Math.max(0, stored.bytes)
    core.installSnapshot(meta, leader)
    this.#metrics.count('snapshotsInstalled')
    this.#trace({ kind: 'install', index: meta.index, term: meta.term })
    this.#snapshotIndex = meta.index
    this.#applied = Math.max(this.#applied, meta.index)
    this.#appliedSinceSnapshot = 0
    this.#bytesSinceSnapshot = 0
    this.#pending.rejectUpTo(meta.index, new QuorateError('RAFT_TIMEOUT', `node ${this.id}: state replaced by a snapshot at ${meta.index}; the proposal outcome is unknown`))
    this.emit('config', core.config)
    if (this.#applyWaiters.length > 0) this.#wakeApplyWaiters()
    const held = this.#held ?? []
    this.#held = null
    for (const m of held) core.step(m)
  }

  /** A trace callback that throws stops the node (NODE_FAILED naming it), never the caller's operation. */
  #trace (e: Omit<TraceEvent, 'node' | 'at'>): void {
    // Logs, gauges, diagnostics_channel (observe.ts); a logger that throws stops the node too.
    try { this.#observer.note(e) } catch (err) { this.#fail(err, 'the logger threw') }
    const t = this.#options.trace
    if (t === undefined) return
    try {
      t({ node: this.id, at: this.#clock.now(), ...e })
    } catch (err) {
      this.#fail(err, 'the trace callback threw')
    }
  }
}

/** `chunks` as they are, telling `count` each chunk's size as it is read (the stream was already created: its point in time is unchanged). */
async function * countedChunks (chunks: AsyncIterable<Uint8Array>, count: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    count((chunk as Uint8Array | null)?.byteLength ?? 0) // a non-chunk is the storage's to refuse
    yield chunk
  }
}

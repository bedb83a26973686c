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
import type { Entry, Message, NodeId } from './types.js'
import type { ComponentStatus, RaftStorage } from './storage.js'
import type { StateMachine } from './state-machine.js'
import type { Transport } from '../transport/transport.js'
import type { Clock, Timer } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import type { RaftOptions } from './options.js'
import { RaftCore } from './raft.js'
import type { CoreStatus, RaftMutations } from './raft.js'
import type { Ready, Role } from './ready.js'
import { QuorateError, abortError, isQuorateError } from '../errors.js'
import { check, checkInt } from '../util/validate.js'
import { PendingProposals } from './pending.js'

export const NODE_DEFAULTS = {
  tickMs: 100,
  sync: true,
  requestTimeoutTicks: 20,
  maxProposalBatch: 4096
} as const

/** Deliberately broken behaviours for the simulator's mutation check. Never use them otherwise. */
export interface NodeMutations extends RaftMutations {
  /** Do not persist term/vote changes (violates Figure 2's persistent state rule). */
  skipVotePersist?: boolean
  /** Send messages before the batch they acknowledge is durable. */
  ackBeforeDurable?: boolean
  /** Answer reads from local state without confirming leadership. */
  staleReads?: boolean
}

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
  /** @default the system monotonic clock */
  clock?: Clock
  /** @default Math.random */
  random?: RaftOptions['random']
  /** Called for every state change worth tracing (role, term, leader, commit). @default none */
  trace?: (event: TraceEvent) => void
  /** Test-only fault injection for the simulator's mutation check. */
  mutations?: NodeMutations
}

export interface TraceEvent {
  readonly node: NodeId
  readonly at: number
  readonly kind: 'role' | 'commit' | 'apply' | 'persist' | 'failed'
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

interface ApplyWaiter { readonly index: number, readonly resolve: (value: number) => void }

export class RaftNode extends EventEmitter<RaftNodeEvents> {
  readonly id: NodeId
  readonly #options: RaftNodeOptions
  readonly #clock: Clock
  readonly #tickMs: number
  readonly #sync: boolean
  readonly #requestTimeoutTicks: number
  readonly #maxProposalBatch: number
  readonly #mutations: NodeMutations
  #core: RaftCore | null = null
  #status: ComponentStatus = 'closed'
  #failure: QuorateError | null = null
  #opening: Promise<void> | null = null
  #closing: Promise<void> | null = null

  #tickTimer: Timer | null = null
  #processScheduled = false
  #processing: Promise<void> | null = null
  #ticks = 0

  #queue: QueuedProposal[] = []
  readonly #pending = new PendingProposals()
  #nextContext = 1
  readonly #forwards = new Map<number, PendingRequest>()
  readonly #reads = new Map<number, PendingRequest>()
  #applyWaiters: ApplyWaiter[] = []
  #applied = 0
  #role: Role = 'follower'
  #leader: NodeId | null = null

  constructor (options: RaftNodeOptions) {
    super()
    const C = 'RaftNodeOptions'
    check(typeof options === 'object' && options !== null, C, '(options)', 'an object', options)
    check(typeof options.storage?.write === 'function', C, 'storage', 'a RaftStorage', typeof options.storage)
    check(typeof options.transport?.send === 'function', C, 'transport', 'a Transport', typeof options.transport)
    check(typeof options.stateMachine?.apply === 'function', C, 'stateMachine', 'an object with apply()', typeof options.stateMachine)
    check(options.transport.id === options.id, C, 'transport', `a transport for node ${String(options.id)}`, options.transport.id)
    this.#tickMs = options.tickMs ?? NODE_DEFAULTS.tickMs
    check(typeof this.#tickMs === 'number' && this.#tickMs > 0 && Number.isFinite(this.#tickMs), C, 'tickMs', 'a positive number', this.#tickMs)
    this.#requestTimeoutTicks = options.requestTimeoutTicks ?? NODE_DEFAULTS.requestTimeoutTicks
    checkInt(this.#requestTimeoutTicks, C, 'requestTimeoutTicks', 1)
    this.#maxProposalBatch = options.maxProposalBatch ?? NODE_DEFAULTS.maxProposalBatch
    checkInt(this.#maxProposalBatch, C, 'maxProposalBatch', 1)
    this.#sync = options.sync ?? NODE_DEFAULTS.sync
    this.#clock = options.clock ?? systemClock
    this.#mutations = options.mutations ?? {}
    this.#options = options
    this.id = options.id
    // Validate the core options now, so a bad option fails at construction, not at open().
    void new RaftCore({ ...options, random: options.random })
  }

  /** Lifecycle: 'opening' | 'open' | 'closing' | 'closed'. */
  get lifecycle (): ComponentStatus { return this.#status }

  /** The fatal error that stopped this node, if any. */
  get failure (): QuorateError | null { return this.#failure }

  // ---------------------------------------------------------------- lifecycle

  /** Loads state from storage, restores the state machine and starts ticking. Idempotent. */
  async open (options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#status === 'open') return
    if (this.#failure !== null) throw this.#failure
    if (this.#closing !== null) await this.#closing
    if (this.#opening === null) {
      this.#status = 'opening'
      this.#opening = this.#doOpen(options.signal).finally(() => { this.#opening = null })
    }
    return await this.#opening
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
        }
      }
      this.#core = new RaftCore({ ...this.#options, random: this.#options.random }, stored, this.#mutations)
      this.#applied = this.#core.log.applied
      if ((signal as AbortSignal | undefined)?.aborted === true) throw abortError(signal!)
      await transport.open((m) => { this.#receive(m) }, { signal })
    } catch (err) {
      this.#status = 'closed'
      this.#core = null
      await Promise.allSettled([transport.close(), storage.close()])
      throw isQuorateError(err) ? err : new QuorateError('STORAGE_READ_FAILED', `node ${this.id} could not open: ${(err as Error)?.message}`, { cause: err })
    }
    this.#status = 'open'
    this.#armTick()
    this.#schedule()
  }

  /** Stops ticking, fails pending requests with NODE_CLOSED, closes transport and storage. Idempotent. */
  async close (): Promise<void> {
    if (this.#opening !== null) await this.#opening.catch(() => {})
    if (this.#status === 'closed' && this.#closing === null) return
    if (this.#closing === null) {
      this.#closing = this.#doClose(new QuorateError('NODE_CLOSED', `node ${this.id} closed`)).finally(() => { this.#closing = null })
    }
    return await this.#closing
  }

  async #doClose (reason: QuorateError): Promise<void> {
    this.#status = 'closing'
    if (this.#tickTimer !== null) this.#clock.clearTimeout(this.#tickTimer)
    this.#tickTimer = null
    await this.#processing?.catch(() => {})
    this.#rejectAll(reason)
    await Promise.allSettled([this.#options.transport.close(), this.#options.storage.close()])
    this.#core = null
    this.#status = 'closed'
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  /** Fail-stop: a storage or state machine failure must not be retried silently. */
  #fail (err: unknown, what: string): void {
    if (this.#failure !== null) return
    const cause = isQuorateError(err) ? err : new QuorateError('STORAGE_WRITE_FAILED', String((err as Error)?.message ?? err), { cause: err })
    this.#failure = new QuorateError('NODE_FAILED', `node ${this.id} stopped: ${what}: ${cause.message}`, { cause })
    this.#trace({ kind: 'failed' })
    this.emit('failed', this.#failure)
    void this.#doClose(this.#failure)
  }

  #rejectAll (reason: QuorateError): void {
    for (const q of this.#queue) q.reject(reason)
    this.#queue = []
    this.#pending.rejectAll(reason)
    for (const r of this.#forwards.values()) r.reject(reason)
    this.#forwards.clear()
    for (const r of this.#reads.values()) r.reject(reason)
    this.#reads.clear()
    this.#applyWaiters = []
  }

  // ---------------------------------------------------------------- public operations

  /**
   * Proposes a command. Resolves with the state machine's result once the command is
   * committed and applied on this node. Rejects with RAFT_NOT_LEADER (details.leader) on a
   * follower (unless forwardProposals is on), RAFT_PROPOSAL_DROPPED if it can never commit,
   * ABORTED if `signal` fires (the command may still commit), NODE_CLOSED / NODE_FAILED.
   */
  async propose (command: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<unknown> {
    this.#assertOpen()
    const { signal } = options
    if (!(command instanceof Uint8Array)) throw new QuorateError('OPTIONS_INVALID', 'propose: command must be a Uint8Array')
    if (signal?.aborted === true) throw abortError(signal)
    return await new Promise((resolve, reject) => {
      const q: QueuedProposal = { data: command, resolve, reject, signal }
      if (signal !== undefined) {
        const onAbort = (): void => { reject(abortError(signal)) }
        signal.addEventListener('abort', onAbort, { once: true })
        const done = (): void => { signal.removeEventListener('abort', onAbort) }
        ;(q as { resolve: (v: unknown) => void }).resolve = (v) => { done(); resolve(v) }
        ;(q as { reject: (e: unknown) => void }).reject = (e) => { done(); reject(e) }
      }
      this.#queue.push(q)
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
    const { signal } = options
    if (signal?.aborted === true) throw abortError(signal)
    const core = this.#core!
    if (this.#mutations.staleReads === true) return this.#applied
    const context = this.#nextContext++
    const index = await new Promise<number>((resolve, reject) => {
      this.#reads.set(context, { resolve: resolve as (v: unknown) => void, reject, startedTick: this.#ticks })
      try {
        core.readIndex(context)
      } catch (err) {
        this.#reads.delete(context)
        reject(err)
        return
      }
      this.#schedule()
      signal?.addEventListener('abort', () => {
        if (this.#reads.delete(context)) reject(abortError(signal))
      }, { once: true })
    })
    if (this.#applied >= index) return index
    return await new Promise<number>((resolve) => { this.#applyWaiters.push({ index, resolve }) })
  }

  /**
   * Hands leadership to `to` (or the most up-to-date voter if omitted). Resolves with the new
   * leader's id once this node has seen it take over; rejects with RAFT_TIMEOUT if it did not
   * happen within an election timeout.
   */
  async transferLeadership (to?: NodeId, options: { signal?: AbortSignal } = {}): Promise<NodeId> {
    this.#assertOpen()
    const target = this.#core!.transferLeadership(to ?? null)
    this.#schedule()
    const deadlineMs = this.#tickMs * (this.#options.electionTicks ?? 10) * 2
    return await this.#waitFor(() => this.#leader === target ? target : undefined, deadlineMs, options.signal)
  }

  /** Resolves with the leader's id once one is known (with an optional timeout in ms). */
  async waitForLeader (options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<NodeId> {
    this.#assertOpen()
    return await this.#waitFor(() => this.#leader ?? undefined, options.timeoutMs ?? Number.POSITIVE_INFINITY, options.signal)
  }

  async #waitFor<T> (probe: () => T | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<T> {
    const now = probe()
    if (now !== undefined) return now
    return await new Promise<T>((resolve, reject) => {
      let timer: Timer | null = null
      const cleanup = (): void => {
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
      this.on('leader', onLeader)
      this.on('failed', onFail)
      signal?.addEventListener('abort', onAbort, { once: true })
      if (Number.isFinite(timeoutMs)) {
        timer = this.#clock.setTimeout(() => { cleanup(); reject(new QuorateError('RAFT_TIMEOUT', `node ${this.id}: condition not met within ${timeoutMs} ms`)) }, timeoutMs)
      }
    })
  }

  status (): NodeStatus {
    const core = this.#core
    const base: CoreStatus = core !== null
      ? { ...core.status(), appliedIndex: this.#applied }
      : { id: this.id, role: 'follower', leader: null, term: 0, vote: null, commitIndex: 0, appliedIndex: this.#applied, lastIndex: 0, lastTerm: 0, durableIndex: 0, voters: [], learners: [], transferee: null, progress: null }
    return { ...base, lifecycle: this.#status, failure: this.#failure }
  }

  /**
   * The pure core, for checkers in the deterministic simulator (quorate/testing). Read it, never
   * drive it: the node owns it. Null while the node is closed.
   * @internal
   */
  debugCore (): RaftCore | null { return this.#core }

  #assertOpen (): void {
    if (this.#failure !== null) throw this.#failure
    if (this.#status !== 'open') throw new QuorateError('NODE_NOT_OPEN', `node ${this.id} is ${this.#status}`)
  }

  // ---------------------------------------------------------------- driving the core

  #receive (m: Message): void {
    const core = this.#core
    if (core === null || this.#status !== 'open') return
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
      }
    }, 0)
  }

  async #processLoop (): Promise<void> {
    const core = this.#core
    if (core === null) return
    try {
      for (;;) {
        if (this.#status !== 'open') return
        this.#takeProposals(core)
        if (!core.hasReady()) return
        await this.#handleReady(core, core.ready())
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
        this.#forwards.set(context, { resolve: () => {}, reject: () => {}, startedTick: this.#ticks, batch: live })
        core.forward(datas, context)
      } else {
        const err = new QuorateError('RAFT_NOT_LEADER', `node ${this.id} is not the leader`, { details: { leader: core.leader } })
        for (const q of live) q.reject(err)
      }
    }
  }

  async #handleReady (core: RaftCore, rd: Ready): Promise<void> {
    const { storage, transport } = this.#options
    if (rd.earlyMessages.length > 0) transport.send(rd.earlyMessages)
    if (this.#mutations.ackBeforeDurable === true && rd.messages.length > 0) transport.send(rd.messages)
    let hardState = rd.hardState
    if (this.#mutations.skipVotePersist === true && hardState !== null) {
      hardState = null
    }
    if (hardState !== null || rd.entries.length > 0 || rd.truncateFrom !== 0) {
      await storage.write({ hardState, truncateFrom: rd.truncateFrom === 0 ? undefined : rd.truncateFrom, entries: rd.entries }, { sync: this.#sync && rd.mustSync })
      this.#trace({ kind: 'persist', index: rd.entries.length > 0 ? rd.entries[rd.entries.length - 1]!.index : undefined })
    }
    if (this.#status !== 'open') return
    if (this.#mutations.ackBeforeDurable !== true && rd.messages.length > 0) transport.send(rd.messages)
    if (rd.committed.length > 0) await this.#apply(rd.committed)
    this.#handleSoftState(rd)
    for (const rs of rd.readStates) this.#settleRead(rs.context, rs.index)
    for (const f of rd.forwarded) this.#settleForward(f.context, f.index, f.term, f.rejected, f.leader)
    core.advance(rd)
  }

  async #apply (entries: readonly Entry[]): Promise<void> {
    const sm = this.#options.stateMachine
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      let result: unknown
      if (e.type === 'command') {
        try {
          result = sm.apply(e.data, e.index)
          if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') result = await result
        } catch (err) {
          throw new QuorateError('NODE_FAILED', `state machine apply failed at index ${e.index}`, { cause: err })
        }
      }
      this.#applied = e.index
      this.#pending.settle(e.term, e.index, result)
    }
    const last = this.#applied
    this.#trace({ kind: 'apply', index: last })
    if (this.#applyWaiters.length > 0) this.#wakeApplyWaiters()
    this.emit('applied', { index: last })
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
    if (roleChanged) {
      this.#trace({ kind: 'role', role, term, leader })
      this.emit('role', { role, term, leader })
    }
    if (leaderChanged) this.emit('leader', { leader, term })
  }

  #settleRead (context: number, index: number): void {
    const r = this.#reads.get(context)
    if (r === undefined) return
    this.#reads.delete(context)
    if (index < 0) r.reject(new QuorateError('RAFT_NOT_LEADER', `node ${this.id}: leadership changed before the read was confirmed`, { details: { leader: this.#leader } }))
    else r.resolve(index)
  }

  #settleForward (context: number, index: number, term: number, rejected: boolean, leader: NodeId | null): void {
    const f = this.#forwards.get(context)
    if (f === undefined || f.batch === undefined) return
    this.#forwards.delete(context)
    if (rejected) {
      const err = new QuorateError('RAFT_NOT_LEADER', `node ${this.id}: the leader refused the forwarded proposal`, { details: { leader } })
      for (const q of f.batch) q.reject(err)
      return
    }
    for (let i = 0; i < f.batch.length; i++) {
      const q = f.batch[i]!
      this.#pending.add(term, index + i, q.resolve, q.reject, this.#applied)
    }
  }

  #trace (e: Omit<TraceEvent, 'node' | 'at'>): void {
    const t = this.#options.trace
    if (t !== undefined) t({ node: this.id, at: this.#clock.now(), ...e })
  }
}

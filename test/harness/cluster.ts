/**
 * An in-process cluster of real RaftNodes (the production shell) on the MemoryNetwork, with
 * CrashStorage disks and one ManualClock: every timer, election and delivery happens in
 * virtual time, driven by the test through VirtualTime. Seeded, so a run is reproducible.
 *
 * Waiting is always bounded in Raft ticks (`maxTicks`) of virtual time; a wait that runs out
 * fails naming what it waited for. Nothing here reads the wall clock.
 */
import { RaftNode } from '../../src/node/node.js'
import type { RaftNodeOptions } from '../../src/node/node.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import type { MemoryNetworkOptions } from '../../src/transport/memory.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import type { RaftStorage } from '../../src/storage/storage.js'
import type { StateMachine } from '../../src/node/state-machine.js'
import type { NodeId } from '../../src/raft/types.js'
import type { Clock } from '../../src/util/clock.js'
import { SeededRandom } from '../../src/util/random.js'
import { check, checkInt } from '../../src/util/validate.js'
import { RecordingMachine } from './recording-machine.js'
import { VirtualTime } from './virtual-time.js'

export interface ClusterOptions<M extends StateMachine> {
  /** Seed of every random choice (election timeouts, network faults, clock origins). @default 1 */
  seed?: number
  /** Virtual milliseconds per Raft tick. @default 10 */
  tickMs?: number
  /** @default 10 */
  electionTicks?: number
  /** More RaftNode options for every node (over the harness's). @default {} */
  node?: Partial<RaftNodeOptions>
  /** Network faults (latency, loss, ...); the clock and randomness are the harness's. @default {} (no latency) */
  network?: Omit<MemoryNetworkOptions, 'clock' | 'random'>
  /** A fresh disk for a node that has none yet. @default a new CrashStorage */
  storage?: (id: NodeId) => RaftStorage
  /** The state machine of each incarnation of a node. @default a new RecordingMachine */
  machine?: (id: NodeId) => M
  /** The clock a node reads (e.g. a skewed view of the shared one). @default the shared ManualClock */
  clock?: (id: NodeId, shared: ManualClock, random: SeededRandom) => Clock
  /** Macrotask turns settled before each timer fires (see VirtualTime). @default 1 */
  settleTurns?: number
}

const OPTION_KEYS = new Set(['seed', 'tickMs', 'electionTicks', 'node', 'network', 'storage', 'machine', 'clock', 'settleTurns'])

/** What one start of one node may override. */
export interface StartOptions {
  /** Replaces the node's disk. @default the disk it had, or a fresh one */
  storage?: RaftStorage
  /** RaftNode options for this start only, over the cluster's. @default {} */
  node?: Partial<RaftNodeOptions>
}

export interface Member<M extends StateMachine> {
  readonly id: NodeId
  readonly node: RaftNode
  readonly storage: RaftStorage
  readonly machine: M
  readonly clock: Clock
  /** Counts starts across the cluster, so workloads can tell incarnations apart. */
  readonly incarnation: number
}

/** Waits are bounded in ticks of virtual time. */
export interface TickBound {
  /** @default 1000 */
  maxTicks?: number
}

export class Cluster<M extends StateMachine = RecordingMachine> {
  readonly clock = new ManualClock()
  readonly time: VirtualTime
  readonly random: SeededRandom
  readonly network: MemoryNetwork
  readonly ids: readonly NodeId[]
  /** The running nodes. A crashed or stopped node leaves this map; its disk stays. */
  readonly members = new Map<NodeId, Member<M>>()
  readonly tickMs: number
  readonly #options: ClusterOptions<M>
  readonly #disks = new Map<NodeId, RaftStorage>()
  #incarnations = 0

  constructor (ids: readonly NodeId[], options: ClusterOptions<M> = {}) {
    const C = 'ClusterOptions'
    for (const key of Object.keys(options)) check(OPTION_KEYS.has(key), C, key, 'a known option', key)
    this.tickMs = options.tickMs ?? 10
    checkInt(this.tickMs, C, 'tickMs', 1)
    const turns = options.settleTurns ?? 1
    checkInt(turns, C, 'settleTurns', 1, 100)
    this.time = new VirtualTime(this.clock, turns)
    this.ids = ids
    this.#options = options
    this.random = new SeededRandom(options.seed ?? 1)
    this.network = new MemoryNetwork({ ...options.network, clock: this.clock, random: this.random.fork() })
  }

  // ---------------------------------------------------------------- membership of the harness

  /** Starts (or restarts from its disk) node `id`. */
  async start (id: NodeId, options: StartOptions = {}): Promise<Member<M>> {
    if (this.members.has(id)) throw new Error(`node ${id} is already running`)
    const disk = options.storage ?? this.#disks.get(id) ?? this.#options.storage?.(id) ?? new CrashStorage()
    this.#disks.set(id, disk)
    const clock = this.#options.clock?.(id, this.clock, this.random) ?? this.clock
    const machine = this.#options.machine?.(id) ?? (new RecordingMachine() as unknown as M)
    const node = new RaftNode({
      id,
      voters: this.ids,
      storage: disk,
      transport: this.network.transport(id),
      stateMachine: machine,
      clock,
      random: this.random.fork(),
      tickMs: this.tickMs,
      electionTicks: this.#options.electionTicks ?? 10,
      ...this.#options.node,
      ...options.node
    })
    await this.await(node.open(), { maxTicks: 100 })
    const member = { id, node, storage: disk, machine, clock, incarnation: ++this.#incarnations }
    this.members.set(id, member)
    return member
  }

  async startAll (): Promise<void> {
    for (const id of this.ids) await this.start(id)
  }

  /**
   * Power loss: the node stops at once and only what its disk synced survives (a CrashStorage
   * disk is replaced by its crashed copy; any other disk is kept as is).
   */
  async crash (id: NodeId): Promise<void> {
    const m = this.members.get(id)
    if (m === undefined) return
    this.members.delete(id)
    if (m.storage instanceof CrashStorage) this.#disks.set(id, m.storage.crash())
    await this.await(m.node.close(), { maxTicks: 100 })
  }

  /** A clean shutdown: everything written stays. */
  async stop (id: NodeId): Promise<void> {
    const m = this.members.get(id)
    if (m === undefined) return
    this.members.delete(id)
    await this.await(m.node.close(), { maxTicks: 100 })
  }

  member (id: NodeId): Member<M> {
    const m = this.members.get(id)
    if (m === undefined) throw new Error(`node ${id} is not running`)
    return m
  }

  node (id: NodeId): RaftNode { return this.member(id).node }

  /** The disk node `id` has (or will restart from). */
  disk (id: NodeId): RaftStorage | undefined { return this.#disks.get(id) }

  /** Running nodes that are open (not failed or closing). */
  open (): Array<Member<M>> { return [...this.members.values()].filter((m) => m.node.lifecycle === 'open') }

  // ---------------------------------------------------------------- virtual time

  /** Runs virtual time until `done()` holds, for at most `maxTicks` ticks. */
  async stepUntil (done: () => boolean, options: TickBound & { what?: string } = {}): Promise<void> {
    await this.time.until(done, { maxMs: (options.maxTicks ?? 1000) * this.tickMs, what: options.what ?? 'the condition' })
  }

  /** Runs virtual time until `promise` settles (at most `maxTicks` ticks) and returns its outcome. */
  async await<T> (promise: Promise<T>, options: TickBound & { what?: string } = {}): Promise<T> {
    return await this.time.await(promise, { maxMs: (options.maxTicks ?? 1000) * this.tickMs, what: options.what ?? 'a promise to settle' })
  }

  /** Lets `ticks` ticks of virtual time pass (e.g. to show that something does not happen). */
  async runTicks (ticks: number): Promise<void> { await this.time.run(ticks * this.tickMs) }

  // ---------------------------------------------------------------- cluster-level waits

  /** The open node that believes it leads in the highest term, if any. */
  leader (): RaftNode | undefined {
    let best: RaftNode | undefined
    for (const m of this.open()) {
      const s = m.node.status()
      if (s.role === 'leader' && (best === undefined || s.term > best.status().term)) best = m.node
    }
    return best
  }

  /** Waits for a leader that a majority of the cluster's open nodes follow. */
  async waitForLeader (options: TickBound = {}): Promise<RaftNode> {
    await this.stepUntil(() => {
      const l = this.leader()
      return l !== undefined && this.open().filter((m) => m.node.status().leader === l.id).length > this.ids.length / 2
    }, { what: 'a leader followed by a majority', maxTicks: options.maxTicks ?? 500 })
    return this.leader()!
  }

  /**
   * Proposes through whoever leads, retrying on leadership changes. Each attempt gives up
   * after `attemptTicks`: a leader cut off from the others cannot learn its proposals' fate,
   * so a client times out and retries (the retried command may then be applied twice).
   */
  async proposeWithRetry (command: string | Uint8Array, options: TickBound & { attemptTicks?: number } = {}): Promise<unknown> {
    const data = typeof command === 'string' ? new TextEncoder().encode(command) : command
    const deadline = this.clock.now() + (options.maxTicks ?? 2000) * this.tickMs
    for (;;) {
      const leader = await this.waitForLeader({ maxTicks: Math.max(1, Math.ceil((deadline - this.clock.now()) / this.tickMs)) })
      const attempt = new AbortController()
      const timer = this.clock.setTimeout(() => { attempt.abort() }, (options.attemptTicks ?? 100) * this.tickMs)
      try {
        return await this.await(leader.propose(data, { signal: attempt.signal }), { maxTicks: (options.attemptTicks ?? 100) + 1, what: 'a proposal attempt' })
      } catch (err) {
        if (this.clock.now() > deadline) throw err
        await this.runTicks(1)
      } finally {
        this.clock.clearTimeout(timer)
      }
    }
  }

  /** Waits until every open node has applied at least `index`. */
  async waitApplied (index: number, options: TickBound = {}): Promise<void> {
    await this.stepUntil(() => this.open().every((m) => m.node.status().appliedIndex >= index), {
      what: `every open node to apply index ${index} (${this.open().map((m) => `${m.id}=${m.node.status().appliedIndex}`).join(' ')})`,
      maxTicks: options.maxTicks
    })
  }

  /** Waits until every open node has applied the highest commit index any of them knows. */
  async waitAllApplied (options: TickBound = {}): Promise<void> {
    const commit = Math.max(...this.open().map((m) => m.node.status().commitIndex))
    await this.waitApplied(commit, options)
  }

  async close (): Promise<void> {
    for (const id of [...this.members.keys()]) await this.stop(id)
    await this.network.close()
  }
}

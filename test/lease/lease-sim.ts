/**
 * A small virtual-time cluster for lease tests: real RaftNodes with CrashStorage on a
 * MemoryNetwork, all driven by one ManualClock (true time). Each node runs on its own
 * SkewClock (drift, pauses, jumps) and has a LeaseTable and a LeaseManager.
 */
import { RaftNode } from '../../src/node/node.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { SeededRandom } from '../../src/util/random.js'
import { LeaseTable } from '../../src/lease/table.js'
import { LeaseManager } from '../../src/lease/manager.js'
import type { LeaseManagerOptions } from '../../src/lease/options.js'
import { SkewClock } from './skew-clock.js'
import { runVirtual, settleTurns } from '../virtual-time.js'

export interface SimNode {
  readonly id: string
  readonly clock: SkewClock
  readonly storage: CrashStorage
  readonly table: LeaseTable
  readonly node: RaftNode
  readonly manager: LeaseManager
  /** Incremented on every restart, so workloads can tell incarnations apart. */
  readonly incarnation: number
}

export interface LeaseSimOptions {
  seed?: number
  /** Milliseconds per Raft tick. @default 10 */
  tickMs?: number
  maxDrift?: number
  maxLeaseDurationMs?: number
  defaultDurationMs?: number
  safetyMarginFraction?: number
  /** Network latency range in ms. @default { min: 1, max: 3 } */
  latency?: { min: number, max: number }
}

export class LeaseSim {
  readonly clock = new ManualClock()
  readonly random: SeededRandom
  readonly net: MemoryNetwork
  readonly ids: readonly string[]
  readonly nodes = new Map<string, SimNode>()
  readonly #options: LeaseSimOptions
  readonly #disks = new Map<string, CrashStorage>()
  #incarnations = 0

  constructor (ids: readonly string[], options: LeaseSimOptions = {}) {
    this.ids = ids
    this.#options = options
    this.random = new SeededRandom(options.seed ?? 1)
    this.net = new MemoryNetwork({ clock: this.clock, random: this.random.fork(), latency: options.latency ?? { min: 1, max: 3 } })
  }

  managerOptions (): Omit<LeaseManagerOptions, 'node' | 'table' | 'clock'> {
    const o = this.#options
    return {
      maxDrift: o.maxDrift ?? 0.05,
      maxLeaseDurationMs: o.maxLeaseDurationMs ?? 1_000,
      defaultDurationMs: o.defaultDurationMs ?? 1_000,
      safetyMarginFraction: o.safetyMarginFraction
    }
  }

  /** Starts (or restarts from its durable state) node `id`, its clock at `rate` from a random origin. */
  async start (id: string, rate = 1): Promise<SimNode> {
    const disk = this.#disks.get(id) ?? new CrashStorage()
    this.#disks.set(id, disk)
    const clock = new SkewClock(this.clock, { origin: Math.floor(this.random.next() * 1e6), rate })
    const table = new LeaseTable()
    const node = new RaftNode({
      id,
      voters: this.ids,
      storage: disk,
      transport: this.net.transport(id),
      stateMachine: table,
      clock,
      random: this.random.fork(),
      tickMs: this.#options.tickMs ?? 10,
      electionTicks: 10,
      forwardProposals: true,
      requestTimeoutTicks: 20
    })
    const opening = node.open()
    await this.settle()
    await opening
    const manager = new LeaseManager({ node, table, clock, ...this.managerOptions() })
    const sim: SimNode = { id, clock, storage: disk, table, node, manager, incarnation: ++this.#incarnations }
    this.nodes.set(id, sim)
    return sim
  }

  async startAll (rates: readonly number[] = []): Promise<void> {
    for (let i = 0; i < this.ids.length; i++) await this.start(this.ids[i]!, rates[i] ?? 1)
  }

  /** Power loss: the process stops at once and only synced writes survive. */
  async crash (id: string): Promise<void> {
    const sim = this.nodes.get(id)
    if (sim === undefined) return
    this.nodes.delete(id)
    this.#disks.set(id, sim.storage.crash())
    await sim.manager.close()
    const closing = sim.node.close()
    await this.settle()
    await closing
  }

  get (id: string): SimNode {
    const sim = this.nodes.get(id)
    if (sim === undefined) throw new Error(`node ${id} is down`)
    return sim
  }

  /** The open node that believes it leads in the highest term, if any. */
  leader (): SimNode | undefined {
    let best: SimNode | undefined
    for (const sim of this.nodes.values()) {
      const s = sim.node.status()
      if (s.role === 'leader' && (best === undefined || s.term > best.node.status().term)) best = sim
    }
    return best
  }

  /** Lets every promise chain that can progress without time passing do so. */
  async settle (): Promise<void> { await settleTurns() }

  /** Advances true time by `ms`, firing timers one at a time and settling after each. */
  async run (ms: number): Promise<void> { await runVirtual(this.clock, ms) }

  /** Runs until `done()` is true (checked after every timer), or throws after `maxMs` of true time. */
  async until (done: () => boolean, maxMs: number, what = 'condition'): Promise<void> {
    const deadline = this.clock.now() + maxMs
    for (;;) {
      await this.settle()
      if (done()) return
      const due = this.clock.nextDue()
      if (due === undefined || due > deadline) throw new Error(`${what} not reached within ${maxMs} ms of virtual time`)
      this.clock.runNext()
    }
  }

  /** Runs until `promise` settles (or throws after `maxMs`), and returns its outcome. */
  async await<T> (promise: Promise<T>, maxMs = 10_000): Promise<T> {
    let settled = false
    const watched = promise.finally(() => { settled = true })
    watched.catch(() => {})
    await this.until(() => settled, maxMs, 'promise settlement')
    return await watched
  }

  async waitForLeader (maxMs = 5_000): Promise<SimNode> {
    await this.until(() => {
      const l = this.leader()
      return l !== undefined && [...this.nodes.values()].filter((n) => n.node.status().leader === l.id).length > this.ids.length / 2
    }, maxMs, 'a leader')
    return this.leader()!
  }

  async close (): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.crash(id)
    await this.net.close()
  }
}

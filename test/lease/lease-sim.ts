/**
 * The lease tests' cluster: the one harness's virtual-time Cluster (test/harness) with a
 * LeaseTable as every node's state machine, a SkewClock per node (drift, pauses, jumps, from
 * a random origin) over the shared true-time ManualClock, and a LeaseManager per node.
 * Waits are in milliseconds of true (virtual) time, as lease durations are.
 */
import type { RaftNode } from '../../src/node/node.js'
import type { MemoryNetwork } from '../../src/transport/memory.js'
import type { CrashStorage } from '../../src/testing/crash-storage.js'
import type { ManualClock } from '../../src/testing/manual-clock.js'
import type { SeededRandom } from '../../src/util/random.js'
import { LeaseTable } from '../../src/lease/table.js'
import { LeaseManager } from '../../src/lease/manager.js'
import type { LeaseManagerOptions } from '../../src/lease/options.js'
import { Cluster, settle } from '../harness/index.js'
import { SkewClock } from './skew-clock.js'

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
  readonly cluster: Cluster<LeaseTable>
  readonly ids: readonly string[]
  readonly nodes = new Map<string, SimNode>()
  readonly #options: LeaseSimOptions
  /** Clock rate of each node's next start. */
  readonly #rates = new Map<string, number>()

  constructor (ids: readonly string[], options: LeaseSimOptions = {}) {
    this.ids = ids
    this.#options = options
    this.cluster = new Cluster(ids, {
      seed: options.seed ?? 1,
      tickMs: options.tickMs ?? 10,
      network: { latency: options.latency ?? { min: 1, max: 3 } },
      node: { forwardProposals: true, requestTimeoutTicks: 20 },
      machine: () => new LeaseTable(),
      clock: (id, shared, random) => new SkewClock(shared, { origin: Math.floor(random.next() * 1e6), rate: this.#rates.get(id) ?? 1 })
    })
  }

  get clock (): ManualClock { return this.cluster.clock }
  get random (): SeededRandom { return this.cluster.random }
  get net (): MemoryNetwork { return this.cluster.network }

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
    this.#rates.set(id, rate)
    const m = await this.cluster.start(id)
    const clock = m.clock as SkewClock
    const manager = new LeaseManager({ node: m.node, table: m.machine, clock, ...this.managerOptions() })
    const sim: SimNode = { id, clock, storage: m.storage as CrashStorage, table: m.machine, node: m.node, manager, incarnation: m.incarnation }
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
    await sim.manager.close()
    await this.cluster.crash(id)
  }

  get (id: string): SimNode {
    const sim = this.nodes.get(id)
    if (sim === undefined) throw new Error(`node ${id} is down`)
    return sim
  }

  /** The open node that believes it leads in the highest term, if any. */
  leader (): SimNode | undefined {
    const l = this.cluster.leader()
    return l === undefined ? undefined : this.nodes.get(l.id)
  }

  /** Lets every promise chain that can progress without time passing do so. */
  async settle (): Promise<void> { await settle() }

  /** Advances true time by `ms`, firing timers one at a time and settling after each. */
  async run (ms: number): Promise<void> { await this.cluster.time.run(ms) }

  /** Runs until `done()` is true (checked after every timer), or throws after `maxMs` of true time. */
  async until (done: () => boolean, maxMs: number, what = 'condition'): Promise<void> {
    await this.cluster.time.until(done, { maxMs, what })
  }

  /** Runs until `promise` settles (or throws after `maxMs`), and returns its outcome. */
  async await<T> (promise: Promise<T>, maxMs = 10_000): Promise<T> {
    return await this.cluster.time.await(promise, { maxMs, what: 'promise settlement' })
  }

  async waitForLeader (maxMs = 5_000): Promise<SimNode> {
    const leader = await this.cluster.waitForLeader({ maxTicks: Math.ceil(maxMs / this.cluster.tickMs) })
    return this.get(leader.id)
  }

  async close (): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.crash(id)
    await this.cluster.close()
  }
}

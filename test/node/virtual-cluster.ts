/**
 * A few RaftNodes on one MemoryNetwork and one ManualClock, for the node-shell tests: the one
 * harness's Cluster (test/harness) seen through the small API these tests use. Every timer
 * (ticks, deliveries, request timeouts) fires in virtual time, so "no answer within N ticks"
 * is exact and a test waits for nothing real. Three macrotask turns settle between timers.
 */
import type { RaftNode, RaftNodeOptions } from '../../src/node/node.js'
import type { MemoryNetwork } from '../../src/transport/memory.js'
import type { CrashStorage } from '../../src/testing/crash-storage.js'
import { Cluster } from '../harness/index.js'
import type { RecordingMachine } from '../harness/index.js'

export const TICK_MS = 10

export class VirtualCluster {
  readonly cluster: Cluster
  /** Every node opened so far (closed ones included), by id. */
  readonly nodes = new Map<string, RaftNode>()
  readonly #machines = new Map<string, RecordingMachine>()

  constructor (readonly ids: readonly string[], seed: number, readonly options: Partial<RaftNodeOptions> = {}) {
    this.cluster = new Cluster(ids, { seed, tickMs: TICK_MS, node: options, settleTurns: 3 })
  }

  get network (): MemoryNetwork { return this.cluster.network }

  /** The disk of node `id` (a CrashStorage: tests read what is durable). */
  storage (id: string): CrashStorage { return this.cluster.disk(id) as CrashStorage }

  /** The state machine of node `id`. */
  machine (id: string): RecordingMachine {
    return this.#machines.get(id)!
  }

  async openAll (): Promise<void> {
    for (const id of this.ids) await this.open(id)
  }

  /** Advances virtual time by `ms`, firing timers one at a time and settling after each. */
  async run (ms: number): Promise<void> { await this.cluster.time.run(ms) }

  /** Opens node `id` (with `extra` on top of the cluster's options). */
  async open (id: string, extra: Partial<RaftNodeOptions> = {}): Promise<RaftNode> {
    const m = await this.cluster.start(id, { node: extra })
    this.nodes.set(id, m.node)
    this.#machines.set(id, m.machine)
    return m.node
  }

  /** Closes one node while virtual time runs (its close waits for timers to fire). */
  async close (id: string): Promise<void> { await this.cluster.stop(id) }

  /**
   * Runs a tick at a time until some node leads (at most `ms` of virtual time); returns its id.
   * Checked at tick boundaries, so the followers have heard from the new leader by then.
   */
  async leader (ms = 5_000): Promise<string> {
    for (let waited = 0; waited <= ms; waited += TICK_MS) {
      const leader = this.cluster.leader()
      if (leader !== undefined) return leader.id
      await this.run(TICK_MS)
    }
    throw new Error(`no leader within ${ms} ms`)
  }

  async closeAll (): Promise<void> { await this.cluster.close() }
}

/** Tracks a promise's outcome without awaiting it, so a test can ask "still pending?". */
export function track<T> (p: Promise<T>): { readonly state: () => 'pending' | 'resolved' | 'rejected', readonly error: () => unknown, readonly value: () => T | undefined } {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending'
  let error: unknown
  let value: T | undefined
  p.then((v) => { state = 'resolved'; value = v }, (e: unknown) => { state = 'rejected'; error = e })
  return { state: () => state, error: () => error, value: () => value }
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

/**
 * A few RaftNodes on one MemoryNetwork and one ManualClock: every timer (ticks, deliveries,
 * request timeouts) fires in virtual time, so "no answer within N ticks" is exact and a
 * test waits for nothing real.
 */
import { RaftNode } from '../../src/node/node.js'
import type { RaftNodeOptions } from '../../src/node/node.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { SeededRandom } from '../../src/util/random.js'
import { RecordingMachine } from '../raft/cluster-harness.js'
import { runVirtual, settleTurns } from '../virtual-time.js'

export const TICK_MS = 10

export class VirtualCluster {
  readonly clock = new ManualClock()
  readonly random: SeededRandom
  readonly network: MemoryNetwork
  readonly nodes = new Map<string, RaftNode>()
  readonly #machines = new Map<string, RecordingMachine>()
  readonly storages = new Map<string, CrashStorage>()

  constructor (readonly ids: readonly string[], seed: number, readonly options: Partial<RaftNodeOptions> = {}) {
    this.random = new SeededRandom(seed)
    this.network = new MemoryNetwork({ clock: this.clock, random: this.random.fork() })
  }

  /** Builds (not opens) node `id` with the cluster's options and `extra` on top. */
  node (id: string, extra: Partial<RaftNodeOptions> = {}): RaftNode {
    const machine = new RecordingMachine()
    this.#machines.set(id, machine)
    const storage = new CrashStorage()
    this.storages.set(id, storage)
    const node = new RaftNode({
      id,
      voters: [...this.ids],
      storage,
      transport: this.network.transport(id),
      stateMachine: machine,
      clock: this.clock,
      random: this.random.fork(),
      tickMs: TICK_MS,
      electionTicks: 10,
      ...this.options,
      ...extra
    })
    this.nodes.set(id, node)
    return node
  }

  /** The state machine of node `id`. */
  machine (id: string): RecordingMachine {
    return this.#machines.get(id)!
  }

  async openAll (): Promise<void> {
    const opening = this.ids.map(async (id) => { await this.node(id).open() })
    await this.settle()
    await Promise.all(opening)
  }

  /** Lets every promise chain that can progress without time passing do so. */
  async settle (): Promise<void> { await settleTurns(3) }

  /** Advances virtual time by `ms`, firing timers one at a time and settling after each. */
  async run (ms: number): Promise<void> { await runVirtual(this.clock, ms, 3) }

  /** Opens node `id` (built with `extra` on top of the cluster's options). */
  async open (id: string, extra: Partial<RaftNodeOptions> = {}): Promise<RaftNode> {
    const node = this.node(id, extra)
    const opening = node.open()
    await this.settle()
    await opening
    return node
  }

  /** Closes one node while virtual time runs (its close waits for timers to fire). */
  async close (id: string): Promise<void> {
    const closing = this.nodes.get(id)!.close()
    await this.run(TICK_MS)
    await closing
  }

  /** Runs until some node leads (at most `ms` of virtual time); returns its id. */
  async leader (ms = 5_000): Promise<string> {
    for (let waited = 0; waited <= ms; waited += TICK_MS) {
      for (const [id, node] of this.nodes) if (node.lifecycle === 'open' && node.status().role === 'leader') return id
      await this.run(TICK_MS)
    }
    throw new Error(`no leader within ${ms} ms`)
  }

  async closeAll (): Promise<void> {
    const closing = [...this.nodes.values()].map(async (n) => { await n.close() })
    await this.run(TICK_MS)
    await Promise.all(closing)
    await this.network.close()
  }
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

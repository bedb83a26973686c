/**
 * A synchronous test network of pure Raft cores (no shell, no timers), in the spirit of
 * etcd-io/raft's raft_test.go `network`: messages are delivered until the cluster is quiet,
 * with per-link drops. Each node's "disk" keeps what its ready batches persisted, so a node
 * can be restarted from exactly what it had made durable.
 */
import { RaftCore } from '../../src/raft/raft.js'
import type { RaftMutations } from '../../src/raft/test-hooks.js'
import { withMutations } from '../../src/raft/test-hooks.js'
import type { RaftOptions } from '../../src/raft/options.js'
import type { Entry, HardState, Message, NodeId } from '../../src/raft/types.js'
import type { StoredState } from '../../src/storage/storage.js'
import type { ReadState, Ready } from '../../src/raft/ready.js'
import { SeededRandom } from '../../src/util/random.js'
import { decodeConfigChange } from '../../src/raft/confchange.js'

export interface Disk { hardState: HardState, entries: Entry[] }

export class CoreNetwork {
  readonly cores = new Map<NodeId, RaftCore>()
  readonly disks = new Map<NodeId, Disk>()
  readonly applied = new Map<NodeId, Entry[]>()
  readonly reads = new Map<NodeId, ReadState[]>()
  readonly ids: NodeId[]
  /** "from->to" links that drop messages. */
  readonly cut = new Set<string>()
  /** Rewrites (or drops, by returning null) every message before delivery. */
  rewrite: ((m: Message) => Message | null) | null = null
  readonly down = new Set<NodeId>()
  /** Every message delivered, for assertions about the wire. */
  readonly delivered: Message[] = []
  readonly options: Partial<RaftOptions>
  readonly random: SeededRandom

  readonly mutations: RaftMutations
  /** Options of nodes added with add(), over the network-wide ones (e.g. a joiner's initial config). */
  readonly #nodeOptions = new Map<NodeId, Partial<RaftOptions>>()
  /** The constructor's ids: the configuration every original node starts (and restarts) with. */
  readonly #initialVoters: readonly NodeId[]

  constructor (ids: NodeId[], options: Partial<RaftOptions> = {}, seed = 1, disks?: Map<NodeId, Disk>, mutations: RaftMutations = {}) {
    this.mutations = mutations
    this.ids = [...ids]
    this.#initialVoters = ids
    this.options = options
    this.random = new SeededRandom(seed)
    for (const id of ids) {
      const disk = disks?.get(id) ?? { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }
      this.disks.set(id, { hardState: { ...disk.hardState }, entries: disk.entries.slice() })
      this.start(id)
    }
  }

  start (id: NodeId): RaftCore {
    const disk = this.disks.get(id)!
    const stored: StoredState = { hardState: disk.hardState, snapshot: null, entries: disk.entries.slice() }
    const core = new RaftCore(withMutations({ id, voters: this.#initialVoters, random: this.random.fork(), ...this.options, ...this.#nodeOptions.get(id) }, this.mutations), stored)
    this.cores.set(id, core)
    this.applied.set(id, [])
    this.reads.set(id, [])
    this.down.delete(id)
    return core
  }

  /**
   * Adds a node after construction, with its own options over the network's (voters,
   * learners: a joiner starts with a configuration that does not name it, and learns the
   * current one from the log, as the node shell does).
   */
  add (id: NodeId, options: Partial<RaftOptions>, disk: Disk = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }): RaftCore {
    if (this.cores.has(id)) throw new Error(`node ${id} already exists`)
    this.#nodeOptions.set(id, options)
    this.disks.set(id, { hardState: { ...disk.hardState }, entries: disk.entries.slice() })
    try {
      const core = this.start(id)
      this.ids.push(id)
      return core
    } catch (err) {
      // Options the core refuses leave no half-added node behind.
      this.#nodeOptions.delete(id)
      this.disks.delete(id)
      throw err
    }
  }

  /** Crash: the node loses all in-memory state; its disk stays. */
  crash (id: NodeId): void { this.down.add(id) }

  core (id: NodeId): RaftCore { return this.cores.get(id)! }

  leader (): RaftCore | undefined {
    let found: RaftCore | undefined
    for (const [id, c] of this.cores) if (!this.down.has(id) && c.role === 'leader' && (found === undefined || c.term > found.term)) found = c
    return found
  }

  isolate (id: NodeId): void {
    for (const other of this.ids) if (other !== id) { this.cut.add(`${id}->${other}`); this.cut.add(`${other}->${id}`) }
  }

  heal (): void { this.cut.clear() }

  /** Persists a ready batch to the node's disk as the shell would. */
  persist (id: NodeId, rd: Ready): void {
    const disk = this.disks.get(id)!
    if (rd.hardState !== null) disk.hardState = rd.hardState
    if (rd.truncateFrom !== 0) disk.entries.length = Math.max(0, rd.truncateFrom - 1 - (disk.entries[0]?.index ?? 1) + 1)
    for (const e of rd.entries) {
      const expect = disk.entries.length === 0 ? e.index : disk.entries[disk.entries.length - 1]!.index + 1
      if (e.index !== expect) throw new Error(`disk gap on ${id}: expected ${expect}, got ${e.index}`)
      disk.entries.push(e)
    }
  }

  /** Processes one ready batch of one node; returns the messages to deliver. */
  drain (id: NodeId): Message[] {
    const rd = this.handleReady(id)
    return rd === null ? [] : [...rd.earlyMessages, ...rd.messages]
  }

  /** Takes, persists, applies and acknowledges one ready batch of a live node (null if none). */
  handleReady (id: NodeId): Ready | null {
    const core = this.core(id)
    if (this.down.has(id) || !core.hasReady()) return null
    const rd = core.ready()
    this.persist(id, rd)
    this.applied.get(id)!.push(...rd.committed)
    // Configuration entries take effect when applied, in log order, as the node shell does.
    for (const e of rd.committed) if (e.type === 'config') core.applyConfigChange(decodeConfigChange(e.data))
    this.reads.get(id)!.push(...rd.readStates)
    core.advance(rd)
    return rd
  }

  /** Steps `original` (rewritten) into its recipient; false if it was dropped on the way. */
  deliver (original: Message): boolean {
    const m = this.rewrite === null ? original : this.rewrite(original)
    if (m === null || this.down.has(m.to) || this.cut.has(`${m.from}->${m.to}`)) return false
    this.delivered.push(m)
    this.cores.get(m.to)?.step(m)
    return true
  }

  /** Delivers messages until no node has anything to do (bounded). */
  stabilize (maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false
      for (const id of this.ids) {
        const msgs = this.drain(id)
        if (msgs.length > 0) moved = true
        for (const m of msgs) this.deliver(m)
      }
      if (!moved) {
        let any = false
        for (const id of this.ids) if (!this.down.has(id) && this.core(id).hasReady()) any = true
        if (!any) return
      }
    }
    throw new Error('network did not stabilize')
  }

  /** Ticks every live node once, then stabilizes. */
  tickAll (n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const id of this.ids) if (!this.down.has(id)) this.core(id).tick()
      this.stabilize()
    }
  }

  /** Makes `id` campaign and runs the election to completion. */
  elect (id: NodeId): RaftCore {
    this.core(id).campaign()
    this.stabilize()
    return this.core(id)
  }

  propose (id: NodeId, ...commands: string[]): void {
    this.core(id).propose(commands.map((c) => new TextEncoder().encode(c)))
    this.stabilize()
  }

  appliedData (id: NodeId): string[] {
    return this.applied.get(id)!.filter((e) => e.type === 'command').map((e) => new TextDecoder().decode(e.data))
  }
}

/** Builds entries with the given terms at indexes 1..n. */
export function entriesWithTerms (terms: number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: i + 1, type: 'command' as const, data: new TextEncoder().encode(`t${term}i${i + 1}`) }))
}

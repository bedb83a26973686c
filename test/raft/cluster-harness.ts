/**
 * Real RaftNodes (the production shell) on the in-memory network, for cluster tests.
 */
import { RaftNode } from '../../src/node/node.js'
import type { RaftNodeOptions } from '../../src/node/node.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import type { MemoryNetworkOptions } from '../../src/transport/memory.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import type { RaftStorage } from '../../src/storage/storage.js'
import type { StateMachine } from '../../src/node/state-machine.js'
import type { NodeId } from '../../src/raft/types.js'

/** Records every applied command so replicas can be compared; its snapshot is that record. */
export class RecordingMachine implements StateMachine<string> {
  log: Array<{ index: number, command: string }> = []
  restores = 0
  apply (command: Uint8Array, index: number): string {
    const text = new TextDecoder().decode(command)
    this.log.push({ index, command: text })
    return `ok:${text}`
  }

  snapshot (): AsyncIterable<Uint8Array> {
    // Serialized eagerly: the snapshot is the state as of this call.
    const bytes = new TextEncoder().encode(JSON.stringify(this.log))
    return (async function * () {
      for (let at = 0; at < bytes.byteLength; at += 4096) yield bytes.subarray(at, at + 4096)
    })()
  }

  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = []
    for await (const c of chunks) parts.push(c)
    this.log = JSON.parse(new TextDecoder().decode(Buffer.concat(parts))) as Array<{ index: number, command: string }>
    this.restores++
  }
}

export interface ClusterMember {
  node: RaftNode
  storage: RaftStorage
  machine: RecordingMachine
}

export class TestCluster {
  readonly network: MemoryNetwork
  readonly members = new Map<NodeId, ClusterMember>()
  readonly ids: NodeId[]
  readonly #nodeOptions: Partial<RaftNodeOptions>
  readonly #makeStorage: (id: NodeId) => RaftStorage

  constructor (ids: NodeId[], options: { node?: Partial<RaftNodeOptions>, network?: MemoryNetworkOptions, storage?: (id: NodeId) => RaftStorage } = {}) {
    this.ids = ids
    this.network = new MemoryNetwork(options.network ?? {})
    this.#nodeOptions = options.node ?? {}
    this.#makeStorage = options.storage ?? (() => new CrashStorage())
  }

  async start (id: NodeId, storage: RaftStorage = this.#makeStorage(id)): Promise<ClusterMember> {
    const machine = new RecordingMachine()
    const node = new RaftNode({
      id,
      voters: this.ids,
      storage,
      transport: this.network.transport(id),
      stateMachine: machine,
      tickMs: 5,
      electionTicks: 10,
      ...this.#nodeOptions
    })
    await node.open()
    const member = { node, storage, machine }
    this.members.set(id, member)
    return member
  }

  async startAll (): Promise<void> {
    await Promise.all(this.ids.map(async (id) => await this.start(id)))
  }

  node (id: NodeId): RaftNode { return this.members.get(id)!.node }

  async waitForLeader (timeoutMs = 10_000): Promise<RaftNode> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const leaders = [...this.members.values()].map((m) => m.node).filter((n) => n.lifecycle === 'open' && n.status().role === 'leader')
      if (leaders.length > 0) {
        const top = leaders.reduce((a, b) => (a.status().term >= b.status().term ? a : b))
        // Accept a leader once a majority of open nodes agree on it.
        const agree = [...this.members.values()].filter((m) => m.node.lifecycle === 'open' && m.node.status().leader === top.id).length
        if (agree > this.ids.length / 2) return top
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    throw new Error('no leader elected in time')
  }

  /**
   * Proposes through whoever is leader, retrying on leadership changes. Each attempt gives up
   * after `attemptMs`: a leader cut off from the others cannot learn its proposals' fate, so a
   * client must time out and retry (the retried command may then be applied twice).
   */
  async proposeWithRetry (command: string, timeoutMs = 20_000, attemptMs = 1_000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs
    const data = new TextEncoder().encode(command)
    for (;;) {
      const leader = await this.waitForLeader(Math.max(1, deadline - Date.now()))
      try {
        return await leader.propose(data, { signal: AbortSignal.timeout(attemptMs) })
      } catch (err) {
        if (Date.now() > deadline) throw err
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
  }

  /**
   * Runs `ask(leader)` until leadership held still across it: same leader, same term. With
   * real timers and 50 ms election timeouts a loaded machine can hold an election at any
   * moment, so a test that asserts who leads must look again rather than flip.
   */
  async withStableLeader<T> (ask: (leader: RaftNode) => Promise<T>, attempts = 20): Promise<{ leader: RaftNode, result: T }> {
    for (let attempt = 1; ; attempt++) {
      const leader = await this.waitForLeader()
      const term = leader.status().term
      const result = await ask(leader)
      const after = leader.status()
      if (after.role === 'leader' && after.term === term) return { leader, result }
      if (attempt >= attempts) throw new Error(`leadership changed during each of ${attempts} attempts`)
    }
  }

  /** Waits until every open node has applied at least `index`. */
  async waitApplied (index: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const open = [...this.members.values()].filter((m) => m.node.lifecycle === 'open')
      if (open.every((m) => m.node.status().appliedIndex >= index)) return
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    throw new Error(`not every node applied ${index} in time: ${[...this.members.values()].map((m) => `${m.node.id}=${m.node.status().appliedIndex}`).join(' ')}`)
  }

  async close (): Promise<void> {
    await Promise.all([...this.members.values()].map(async (m) => await m.node.close()))
    await this.network.close()
  }
}

/**
 * InProcessCluster: the same key-value cluster as ProcessCluster, but every node is a
 * RaftNode in this process on one MemoryNetwork (no TCP), each with classic-level storage in
 * its own directory. `kill` closes a node (a process cannot SIGKILL itself in part), keeping
 * its data for `start` to reopen — the restart path is the same as a process restart.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QuorateError } from '../errors.js'
import { LevelStorage } from '../storage/level-storage.js'
import type { NodeId } from '../raft/types.js'
import { MemoryNetwork } from '../transport/memory.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { ClusterClient } from './client.js'
import type { ClusterClientOptions } from './client.js'
import type { ClusterHandle } from './cluster-handle.js'
import { createKvNode } from './cluster-node.js'
import type { KvNode } from './cluster-node.js'
import { DEFAULT_CLUSTER_NODES } from './launcher.js'

export interface InProcessClusterOptions {
  /** Number of nodes (ids n1..nN). @default DEFAULT_CLUSTER_NODES (3) */
  readonly nodes?: number
  /** Directory for the nodes' databases. @default a new temporary directory, removed by close() */
  readonly dir?: string
  /** @default DEFAULT_CLUSTER_TICK_MS (50) */
  readonly tickMs?: number
  /** @default DEFAULT_CLUSTER_ELECTION_TICKS (10) */
  readonly electionTicks?: number
  /** @default true */
  readonly sync?: boolean
  /** Client settings (members and call are filled in). @default ClusterClient's defaults */
  readonly client?: Omit<ClusterClientOptions, 'members' | 'call'>
}

const IN_PROCESS_KEYS = Object.keys({ nodes: true, dir: true, tickMs: true, electionTicks: true, sync: true, client: true } satisfies Record<keyof InProcessClusterOptions, true>)

export function validateInProcessClusterOptions (options: InProcessClusterOptions): void {
  const C = 'InProcessCluster'
  checkObject(options as unknown, C, '(options)')
  checkKnownKeys(options, C, IN_PROCESS_KEYS)
  checkInt(options.nodes ?? DEFAULT_CLUSTER_NODES, C, 'nodes', 1, 99)
  check(options.dir === undefined || (typeof options.dir === 'string' && options.dir.length > 0), C, 'dir', 'a directory path', options.dir)
}

export class InProcessCluster implements ClusterHandle {
  readonly ids: readonly NodeId[]
  readonly dir: string
  readonly client: ClusterClient
  readonly #ownsDir: boolean
  readonly #options: InProcessClusterOptions
  readonly #network = new MemoryNetwork()
  readonly #running = new Map<NodeId, KvNode>()
  #closing: Promise<void> | null = null

  private constructor (dir: string, ownsDir: boolean, options: InProcessClusterOptions) {
    this.ids = Array.from({ length: options.nodes ?? DEFAULT_CLUSTER_NODES }, (_, i) => `n${i + 1}`)
    this.dir = dir
    this.#ownsDir = ownsDir
    this.#options = options
    this.client = new ClusterClient({
      ...options.client,
      members: this.ids,
      call: async (id, request, signal) => {
        const running = this.#running.get(id)
        if (running === undefined) throw new QuorateError('NODE_NOT_OPEN', `node ${id} is not running`)
        return await running.service.handle(request, signal)
      }
    })
  }

  static async create (options: InProcessClusterOptions = {}): Promise<InProcessCluster> {
    validateInProcessClusterOptions(options)
    const ownsDir = options.dir === undefined
    const dir = options.dir ?? await mkdtemp(join(tmpdir(), 'quorate-cluster-'))
    await mkdir(join(dir, 'data'), { recursive: true })
    return new InProcessCluster(dir, ownsDir, options)
  }

  isRunning (id: NodeId): boolean { return this.#running.has(id) }

  async start (id: NodeId): Promise<void> {
    if (!this.ids.includes(id)) throw new QuorateError('OPTIONS_INVALID', `unknown node ${JSON.stringify(id)}`)
    if (this.#closing !== null) throw new QuorateError('NODE_CLOSED', 'InProcessCluster is closed')
    if (this.#running.has(id)) return
    const parts = createKvNode({
      id,
      voters: this.ids,
      storage: new LevelStorage({ location: join(this.dir, 'data', id) }),
      transport: this.#network.transport(id),
      tickMs: this.#options.tickMs,
      electionTicks: this.#options.electionTicks,
      sync: this.#options.sync
    })
    await parts.node.open()
    this.#running.set(id, parts)
  }

  async startAll (): Promise<void> {
    await Promise.all(this.ids.map(async (id) => { await this.start(id) }))
  }

  async kill (id: NodeId): Promise<void> {
    const parts = this.#running.get(id)
    if (parts === undefined) return
    this.#running.delete(id)
    await parts.node.close()
  }

  async close (): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#running.keys()].map(async (id) => { await this.kill(id) }))
      await this.#network.close()
      if (this.#ownsDir) await rm(this.dir, { recursive: true, force: true })
    })()
    await this.#closing
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }
}

/**
 * In-memory clusters for ReplicatedLevel tests: `size` real RaftNodes on a MemoryNetwork with
 * CrashStorage disks, each mounting a LevelStateMachine over its own memory-level database on
 * a router, and a ReplicatedLevel on the first node (which is made slow to campaign, so in a
 * 3-node cluster it is usually a follower and its writes are forwarded).
 *
 * These run on the system clock with 1 ms ticks: abstract-level's suite awaits real promises
 * and cannot drive a virtual clock. No verdict depends on speed; timing only decides which
 * node leads, and every test passes whichever does.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { MemoryLevel } from 'memory-level'
import { RaftNode } from '../../src/node/node.js'
import { StateMachineRouter } from '../../src/sm/router.js'
import type { Route } from '../../src/sm/route.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { check } from '../../src/util/validate.js'
import { LevelStateMachine, ReplicatedLevel } from '../../src/level/index.js'
import type { LocalLevel, ReplicatedLevelOptions } from '../../src/level/index.js'

/** Which local database every replica applies to: memory-level, or classic-level in a temporary directory. */
export type LocalKind = 'memory' | 'classic'

export interface LevelClusterOptions {
  snapshotEntries?: number
  forwardProposals?: boolean
  /** @default 'memory' */
  local?: LocalKind
}

export class LevelCluster {
  readonly network = new MemoryNetwork()
  readonly nodes: RaftNode[]
  readonly routes: Array<Route<LevelStateMachine>>
  /** Temporary directories of classic-level replicas, removed on close. */
  readonly #dirs: string[] = []
  #opening: Promise<void> | null = null

  constructor (size: number, options: LevelClusterOptions = {}) {
    check(size >= 1, 'LevelCluster', 'size', 'at least 1', size)
    const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`)
    const local = (): LocalLevel => {
      if (options.local !== 'classic') return new MemoryLevel()
      const dir = mkdtempSync(join(tmpdir(), 'quorate-level-'))
      this.#dirs.push(dir)
      return new ClassicLevel(dir)
    }
    this.nodes = []
    this.routes = []
    for (const [i, id] of ids.entries()) {
      const router = new StateMachineRouter()
      this.routes.push(router.mount('level', new LevelStateMachine({ db: local() })))
      this.nodes.push(new RaftNode({
        id,
        voters: ids,
        storage: new CrashStorage(),
        transport: this.network.transport(id),
        stateMachine: router,
        tickMs: 1,
        heartbeatTicks: 1,
        // The last node campaigns first and the others wait long, so elections take a few
        // ticks and n1, the database's node, is a follower whenever it has peers. No
        // CheckQuorum: the leader's window would be its few ticks, and a slow apply
        // (classic-level on a busy machine) would make it step down and fail forwarded
        // writes; without it only 50 ticks of silence start another election.
        electionTicks: i === size - 1 ? 3 : 50,
        checkQuorum: false,
        forwardProposals: options.forwardProposals ?? true,
        snapshotEntries: options.snapshotEntries ?? 0,
        requestTimeoutTicks: 500
      }))
    }
  }

  /** Opens every node and waits for a leader. Idempotent. */
  async open (): Promise<void> {
    this.#opening ??= (async () => {
      await Promise.all(this.nodes.map(async (n) => await n.open()))
      await Promise.all(this.nodes.map(async (n) => await n.waitForLeader()))
    })()
    await this.#opening
  }

  async close (): Promise<void> {
    await this.#opening?.catch(() => {})
    await Promise.all(this.nodes.map(async (n) => await n.close()))
    await this.network.close()
    await Promise.all(this.routes.map(async (r) => await r.machine.close()))
    for (const dir of this.#dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  }
}

/** A ReplicatedLevel that brings up its own cluster when first opened. */
export class ClusterLevel<K = string, V = string> extends ReplicatedLevel<K, V> {
  readonly cluster: LevelCluster

  constructor (cluster: LevelCluster, options: Omit<ReplicatedLevelOptions<K, V>, 'node' | 'route'> = {}, at = 0) {
    super({ ...options, node: cluster.nodes[at]!, route: cluster.routes[at]! })
    this.cluster = cluster
  }

  override async _open (): Promise<void> {
    await this.cluster.open()
    await super._open()
  }
}

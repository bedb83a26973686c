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
import { MemoryLevel } from 'memory-level'
import { RaftNode } from '../../src/node/node.js'
import { StateMachineRouter } from '../../src/sm/router.js'
import type { Route } from '../../src/sm/route.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { check } from '../../src/util/validate.js'
import { LevelStateMachine, ReplicatedLevel } from '../../src/level/index.js'
import type { ReplicatedLevelOptions } from '../../src/level/index.js'

export class LevelCluster {
  readonly network = new MemoryNetwork()
  readonly nodes: RaftNode[]
  readonly routes: Array<Route<LevelStateMachine>>
  #opening: Promise<void> | null = null

  constructor (size: number, options: { snapshotEntries?: number, forwardProposals?: boolean } = {}) {
    check(size >= 1, 'LevelCluster', 'size', 'at least 1', size)
    const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`)
    this.routes = ids.map(() => new StateMachineRouter().mount('level', new LevelStateMachine({ db: new MemoryLevel() })))
    this.nodes = ids.map((id, i) => {
      const router = new StateMachineRouter()
      this.routes[i] = router.mount('level', this.routes[i]!.machine)
      return new RaftNode({
        id,
        voters: ids,
        storage: new CrashStorage(),
        transport: this.network.transport(id),
        stateMachine: router,
        tickMs: 1,
        heartbeatTicks: 1,
        // The last node campaigns first and the others wait long, so elections take a few
        // ticks and n1, the database's node, is a follower whenever it has peers.
        electionTicks: i === size - 1 ? 3 : 30,
        forwardProposals: options.forwardProposals ?? true,
        snapshotEntries: options.snapshotEntries ?? 0,
        requestTimeoutTicks: 500
      })
    })
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

/**
 * ReplicatedLevel on real 3-node clusters: writes through a follower reach every replica,
 * a batch is one log entry, a follower without forwarding rejects writes naming the leader,
 * read modes are chosen per database and per call (bad ones refused), the level member runs
 * beside the lease table on one router, and options are validated. abstract-level's own
 * suite covers the database contract (abstract-level-*.test.ts).
 */
import { MemoryLevel } from 'memory-level'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import type { ReplicatedLevelOptions } from '../../src/level/index.js'
import { LevelStateMachine, ReplicatedLevel } from '../../src/level/index.js'
import { LeaseManager, LeaseTable } from '../../src/lease/index.js'
import { RaftNode } from '../../src/node/node.js'
import { StateMachineRouter } from '../../src/sm/router.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { ClusterLevel, LevelCluster } from './level-cluster.js'

async function dump (cluster: LevelCluster): Promise<string[]> {
  return await Promise.all(cluster.routes.map(async (r) => JSON.stringify(await r.machine.data.iterator({ keyEncoding: 'utf8', valueEncoding: 'utf8' }).all())))
}

test('writes through a follower are applied on every replica, a batch as one entry', async () => {
  const cluster = new LevelCluster(3)
  const db = new ClusterLevel(cluster)
  await db.open()
  await db.put('a', '1')
  const afterPut = cluster.routes[0]!.machine.lastIndex
  await db.batch([{ type: 'put', key: 'b', value: '2' }, { type: 'put', key: 'c', value: '3' }, { type: 'del', key: 'a' }])
  assert.is(cluster.routes[0]!.machine.lastIndex, afterPut + 1, 'the batch is the next entry')
  await db.batch().put('d', '4').del('b').write()
  assert.equal(await db.iterator().all(), [['c', '3'], ['d', '4']])
  // A read barrier on each node brings its replica up to date before the comparison.
  await Promise.all(cluster.nodes.map(async (n) => await n.read()))
  const replicas = await dump(cluster)
  assert.ok(replicas.every((r) => r === replicas[0]), replicas.join(' | '))
  await db.close()
  await cluster.close()
})

test('a follower without forwardProposals rejects writes with RAFT_NOT_LEADER naming the leader', async () => {
  const cluster = new LevelCluster(3, { forwardProposals: false })
  const db = new ClusterLevel(cluster)
  await db.open()
  let caught: unknown
  try { await db.put('a', '1') } catch (err) { caught = err }
  const leader = await cluster.nodes[0]!.waitForLeader()
  if (leader === 'n1') assert.is(caught, undefined)
  else {
    assert.ok(isQuorateError(caught, 'RAFT_NOT_LEADER'), String(caught))
    assert.is((caught as { info?: { leader?: string } }).info?.leader, leader)
  }
  await db.close()
  await cluster.close()
})

test('read modes: per database and per call; local reads skip the barrier; bad modes are refused', async () => {
  const cluster = new LevelCluster(3)
  const db = new ClusterLevel(cluster, { readMode: 'local' })
  assert.is(db.readMode, 'local')
  await db.open()
  await db.put('k', 'v')
  // The write resolved once applied here, so even a local read on this follower sees it.
  assert.is(await db.get('k'), 'v')
  assert.is(await db.get('k', { readMode: 'linearizable' } as never), 'v')
  assert.is(await db.get('k', { readMode: 'lease' } as never), 'v')
  assert.equal(await db.getMany(['k', 'x'], { readMode: 'linearizable' } as never), ['v', undefined])
  assert.equal(await db.keys({ readMode: 'linearizable' } as never).all(), ['k'])
  let caught: unknown
  try { await db.get('k', { readMode: 'stale' } as never) } catch (err) { caught = err }
  assert.ok(isQuorateError(caught, 'OPTIONS_INVALID'), String(caught))
  await db.close()
  await cluster.close()
})

test('the level member shares one log with the lease table: data and coordination in one Raft group', async () => {
  const network = new MemoryNetwork()
  const router = new StateMachineRouter()
  const level = router.mount('level', new LevelStateMachine({ db: new MemoryLevel() }))
  const leases = router.mount('lease', new LeaseTable())
  const node = new RaftNode({ id: 'n1', voters: ['n1'], storage: new CrashStorage(), transport: network.transport('n1'), stateMachine: router, tickMs: 1, electionTicks: 3, heartbeatTicks: 1 })
  await node.open()
  await node.waitForLeader()
  const db = new ReplicatedLevel({ node, route: level })
  const manager = new LeaseManager({ node: leases.bind(node), table: leases.machine })
  const lease = await manager.acquire('writer', { holder: 'n1', durationMs: 10_000 })
  await db.put('owner', `n1@${lease.token}`)
  assert.is(await db.get('owner'), `n1@${lease.token}`)
  await lease.release()
  await manager.close()
  await db.close()
  await node.close()
  await level.machine.close()
  await network.close()
})

test('ReplicatedLevel options are validated', () => {
  const cluster = new LevelCluster(1)
  const route = cluster.routes[0]!
  const node = cluster.nodes[0]!
  const bad: unknown[] = [undefined, { route }, { node }, { node, route: {} }, { node: {}, route }, { node, route, readMode: 'fast' }]
  for (const options of bad) {
    assert.throws(() => new ReplicatedLevel(options as ReplicatedLevelOptions), (e: unknown) => isQuorateError(e, 'OPTIONS_INVALID'), JSON.stringify(options))
  }
})

test.run()

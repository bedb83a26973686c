/**
 * Leases on a real three-node Raft cluster in virtual time: grants, tokens, renewal,
 * release, expiry, refused renewals and the restart wait.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { assertRejectsWith } from '../../src/testing/storage-conformance.js'
import { encodeLeaseCommand } from '../../src/lease/command.js'
import { LeaseManager } from '../../src/lease/manager.js'
import { LeaseTable } from '../../src/lease/table.js'
import { QuorateError } from '../../src/errors.js'
import type { LeaseHolder } from '../../src/lease/holder.js'
import { LeaseSim } from './lease-sim.js'

const IDS = ['n1', 'n2', 'n3']
const D = 1_000
const DRIFT = 0.05

/** Runs `body` on a fresh settled cluster and closes it afterwards. */
async function withCluster (body: (sim: LeaseSim) => Promise<void>, options: ConstructorParameters<typeof LeaseSim>[1] = {}): Promise<void> {
  const sim = await cluster(options)
  try {
    await body(sim)
  } finally {
    await sim.close()
  }
}

async function cluster (options: ConstructorParameters<typeof LeaseSim>[1] = {}): Promise<LeaseSim> {
  const sim = new LeaseSim(IDS, { maxDrift: DRIFT, maxLeaseDurationMs: 2 * D, defaultDurationMs: D, ...options })
  await sim.startAll()
  await sim.waitForLeader()
  // Let every node pass its restart wait, so tests start from a settled cluster.
  await sim.run(2 * D * (1 + DRIFT) + 10)
  return sim
}

test('every new grant of a name carries a larger fencing token', async () => {
  await withCluster(async (sim) => {
    const tokens: number[] = []
    for (const id of ['n1', 'n2', 'n3', 'n1']) {
      const lease = await sim.await(sim.get(id).manager.acquire('coordinator', { holder: id }))
      assert.ok(lease.valid, `${id} holds the lease it was granted`)
      tokens.push(lease.token)
      await sim.await(lease.release())
      assert.not.ok(lease.valid, 'a released lease is no longer valid')
    }
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, `tokens grow: ${tokens.join(', ')}`)
  })
})

test('an acquire while another holder may hold the lease fails with LEASE_HELD and says when to retry', async () => {
  await withCluster(async (sim) => {
    const lease = await sim.await(sim.get('n1').manager.acquire('coordinator', { holder: 'a' }))
    const err = await assertRejectsWith(sim.await(sim.get('n2').manager.acquire('coordinator', { holder: 'b' })), 'LEASE_HELD')
    assert.is(err.info?.holder, 'a')
    assert.is(err.info?.token, lease.token)
    const retry = err.info?.retryAfterMs as number
    assert.ok(retry > 0 && retry <= D * (1 + DRIFT), `retryAfterMs ${retry} is within one stretched duration`)
    assert.ok(lease.valid, 'the refused acquire did not disturb the holder')
  })
})

test('a holder renews by itself and keeps the lease and its token over many durations', async () => {
  await withCluster(async (sim) => {
    const lease = await sim.await(sim.get('n2').manager.acquire('coordinator', { holder: 'n2' }))
    const firstVersion = sim.get('n1').table.get('coordinator')!.version
    await sim.run(10 * D)
    assert.ok(lease.valid, 'still valid after ten durations')
    assert.not.ok(lease.signal.aborted)
    const record = sim.get('n1').table.get('coordinator')!
    assert.is(record.token, lease.token, 'renewal keeps the token')
    assert.ok(record.version > firstVersion, 'renewals move the version')
    assert.ok(lease.expiresAt > sim.get('n2').clock.now(), 'expiry lies ahead of the local clock')
    await assertRejectsWith(sim.await(sim.get('n3').manager.acquire('coordinator', { holder: 'n3' })), 'LEASE_HELD')
  })
})

test('release aborts the holder first and frees the name at once', async () => {
  await withCluster(async (sim) => {
    const lease = await sim.await(sim.get('n1').manager.acquire('coordinator', { holder: 'n1' }))
    let abortedBeforeApplied = false
    sim.get('n1').table.onChange((r) => { if (r.holder === null) abortedBeforeApplied = lease.signal.aborted })
    await sim.await(lease.release())
    assert.ok(abortedBeforeApplied, 'the signal fired before the release was applied')
    const start = sim.clock.now()
    const next = await sim.await(sim.get('n3').manager.acquire('coordinator', { holder: 'n3' }))
    assert.ok(sim.clock.now() - start < D / 2, 'a released name is granted without waiting for expiry')
    assert.ok(next.token > lease.token)
  })
})

test('a holder cut off from the cluster aborts a margin before its expiry, and another node grants only after the stretched duration', async () => {
  await withCluster(async (sim) => {
    const n1 = sim.get('n1')
    const lease = await sim.await(n1.manager.acquire('coordinator', { holder: 'n1' }))
    let appliedAt = 0
    sim.get('n3').table.onChange(() => { appliedAt = sim.get('n3').clock.now() })
    await sim.run(D * 0.4) // before the first renewal
    sim.net.isolate('n1')
    await sim.until(() => lease.signal.aborted, 2 * D, 'the isolated holder aborts')
    assert.ok(lease.signal.reason instanceof QuorateError && lease.signal.reason.code === 'LEASE_EXPIRED')
    assert.ok(n1.clock.now() <= lease.expiresAt + 1e-6, 'aborted at (not after) its expiry minus the margin')
    assert.ok(n1.clock.now() < lease.expiresAt + 0.1 * D, 'before the local expiry itself')
    // n3 judges from when it applied the last version of the record.
    const n3 = sim.get('n3')
    await sim.until(() => n3.manager.judge('coordinator').grantable, 3 * D, 'n3 judges the lease expired')
    assert.ok(n3.clock.now() - appliedAt >= D * (1 + DRIFT) - 1e-6, 'not before the stretched duration since it applied the record')
    const next = await sim.await(n3.manager.acquire('coordinator', { holder: 'n3' }))
    assert.ok(next.token > lease.token)
  })
})

test('a renewal refused because the grant was superseded aborts the holder at once with LEASE_NOT_HOLDER', async () => {
  await withCluster(async (sim) => {
    const n2 = sim.get('n2')
    const lease = await sim.await(n2.manager.acquire('coordinator', { holder: 'n2' }))
    // Someone else releases the grant in n2's name (as an operator might): the record moves on.
    await sim.await(sim.get('n1').node.propose(encodeLeaseCommand({ op: 'release', name: 'coordinator', holder: 'n2', token: lease.token })))
    await sim.await(sim.get('n3').manager.acquire('coordinator', { holder: 'n3' }))
    assert.ok(lease.valid, 'the holder has not noticed yet')
    await assertRejectsWith(sim.await(lease.renew()), 'LEASE_NOT_HOLDER')
    assert.ok(lease.signal.aborted, 'the refused renewal aborted the holder')
    assert.ok(n2.clock.now() < lease.expiresAt, 'well before its expiry')
  })
})

test('renewing a lease that has expired rejects with LEASE_EXPIRED', async () => {
  await withCluster(async (sim) => {
    const n1 = sim.get('n1')
    const lease = await sim.await(n1.manager.acquire('coordinator', { holder: 'n1' }))
    n1.clock.jump(D)
    assert.not.ok(lease.valid)
    await assertRejectsWith(sim.await(lease.renew()), 'LEASE_EXPIRED')
  })
})

test('a grant that comes back after the holder\'s margin has passed rejects with LEASE_EXPIRED', async () => {
  await withCluster(async (sim) => {
    const n1 = sim.get('n1')
    // The clock jumps after the grant was sent and before its result reaches the holder.
    n1.table.onChange(() => { n1.clock.jump(D) })
    const pending = n1.manager.acquire('coordinator', { holder: 'n1' })
    await assertRejectsWith(sim.await(pending), 'LEASE_EXPIRED')
  })
})

test('a restarted node waits one maximum lease duration before it grants a lease that may be held (LEASE_NOT_READY)', async () => {
  await withCluster(async (sim) => {
    const shortMs = D / 2
    const lease = await sim.await(sim.get('n1').manager.acquire('coordinator', { holder: 'n1', durationMs: shortMs }))
    sim.net.isolate('n1')
    await sim.crash('n2')
    const n2 = await sim.start('n2')
    await sim.until(() => lease.signal.aborted, 2 * D, 'the isolated holder aborts')
    await sim.until(() => sim.get('n3').manager.judge('coordinator').grantable, 2 * D, 'n3 judges the lease expired')
    await sim.until(() => n2.table.get('coordinator') !== undefined, D, 'the restarted node catches up')
    const judgment = n2.manager.judge('coordinator')
    assert.is(judgment.grantable, false)
    if (!judgment.grantable) assert.is(judgment.code, 'LEASE_NOT_READY')
    const err = await assertRejectsWith(sim.await(n2.manager.acquire('coordinator', { holder: 'n2' })), 'LEASE_NOT_READY')
    assert.ok((err.info?.retryAfterMs as number) > 0)
    assert.ok(n2.manager.readyAt - n2.clock.now() > shortMs, 'the wait is longer than the lease itself')
    await sim.until(() => n2.clock.now() >= n2.manager.readyAt, 3 * D, 'the restart wait ends')
    const next = await sim.await(n2.manager.acquire('coordinator', { holder: 'n2' }))
    assert.ok(next.token > lease.token)
  })
})

test('a name nobody holds is granted at once, even by a node still in its restart wait', async () => {
  await withCluster(async (sim) => {
    await sim.crash('n3')
    const n3 = await sim.start('n3')
    await sim.until(() => n3.node.status().leader !== null, D, 'the restarted node learns the leader')
    assert.ok(n3.clock.now() < n3.manager.readyAt)
    const lease = await sim.await(n3.manager.acquire('fresh', { holder: 'n3' }))
    assert.ok(lease.valid)
  })
})

test('a leader crash while a grant is in flight leaves one outcome that every node agrees on', async () => {
  for (const seed of [1, 2, 3, 4]) {
    await withCluster(async (sim) => {
      const leader = sim.leader()!
      const asker = sim.get(IDS.find((id) => id !== leader.id)!)
      const before = leader.node.status().lastIndex
      const pending = asker.manager.acquire('coordinator', { holder: asker.id })
      pending.catch(() => {})
      await sim.until(() => leader.node.status().lastIndex > before, D, 'the leader appends the grant')
      await sim.crash(leader.id)
      let granted: LeaseHolder | null = null
      try { granted = await sim.await(pending) } catch {}
      await sim.start(leader.id)
      await sim.waitForLeader()
      const index = sim.leader()!.node.status().commitIndex
      await sim.until(() => [...sim.nodes.values()].every((n) => n.node.status().appliedIndex >= index), 2 * D, 'every node applies')
      const records = [...sim.nodes.values()].map((n) => n.table.get('coordinator'))
      for (const r of records) assert.equal(r, records[0], 'every node has the same record')
      if (granted !== null) assert.is(records[0]?.token, granted.token, 'a grant the holder saw is the one every node has')
      const third = sim.get(IDS.find((id) => id !== leader.id && id !== asker.id)!)
      if (records[0]?.holder != null) {
        await assertRejectsWith(sim.await(third.manager.acquire('coordinator', { holder: third.id })), 'LEASE_HELD')
      }
    }, { seed })
  }
})

test('bad options and arguments fail with OPTIONS_INVALID naming the field', async () => {
  await withCluster(async (sim) => {
    const { node, table } = sim.get('n1')
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ maxDrift: -0.1 }, 'maxDrift'],
      [{ maxDrift: 2 }, 'maxDrift'],
      [{ maxLeaseDurationMs: 0 }, 'maxLeaseDurationMs'],
      [{ defaultDurationMs: 5_000, maxLeaseDurationMs: 1_000 }, 'defaultDurationMs'],
      [{ safetyMarginFraction: 1 }, 'safetyMarginFraction'],
      [{ renewFraction: 0 }, 'renewFraction'],
      [{ renewFraction: 0.95, safetyMarginFraction: 0.1 }, 'renewFraction'],
      [{ table: {} }, 'table']
    ]
    for (const [options, field] of bad) {
      try {
        void new LeaseManager({ node, table, ...options } as never)
        assert.unreachable(`${field} accepted`)
      } catch (err) {
        assert.ok(err instanceof QuorateError && err.code === 'OPTIONS_INVALID', String(err))
        assert.match((err as Error).message, `"${field}"`)
      }
    }
    const manager = sim.get('n1').manager
    await assertRejectsWith(manager.acquire('x', { holder: 'h', durationMs: 5 * D }), 'OPTIONS_INVALID')
    await assertRejectsWith(manager.acquire('', { holder: 'h' }), 'OPTIONS_INVALID')
    await assertRejectsWith(manager.acquire('x', { holder: '' }), 'OPTIONS_INVALID')
    void new LeaseTable()
  })
})

test.run()

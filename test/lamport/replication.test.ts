import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import {
  compareStamps, matches, negative, positive, REST, type Pattern, type Stamp, type Transaction, type TupleStore, type Update
} from '../../src/lamport/index.js'
import { isQuorateError } from '../../src/errors.js'
import { fingerprint, openStore, validUpdates, visibleSet } from './helpers.js'

const updates = validUpdates
/** Transactions with distinct stamps (node = position, so no two collide). */
const transactions = fc.array(fc.tuple(fc.integer({ min: 1, max: 12 }), updates), { minLength: 1, maxLength: 12 })
  .map((list) => list.map(([counter, us], i): Transaction => ({ stamp: { counter, node: i + 1 }, updates: us })))

test('any permutation and duplication of the same transactions gives the same state on every replica', async () => {
  await fc.assert(fc.asyncProperty(
    transactions,
    fc.array(fc.nat(), { maxLength: 24 }),
    fc.array(fc.nat(), { maxLength: 24 }),
    async (txns, order, dupes) => {
      const a = await openStore(100)
      for (const t of txns) await a.applyTransaction(t)
      const b = await openStore(101)
      // A permutation driven by `order`, with `dupes` picking transactions to apply twice.
      const shuffled = [...txns]
      for (let i = 0; i < order.length && shuffled.length > 1; i++) {
        const j = (order[i] as number) % shuffled.length
        const k = i % shuffled.length
        ;[shuffled[j], shuffled[k]] = [shuffled[k] as Transaction, shuffled[j] as Transaction]
      }
      for (const d of dupes) shuffled.splice(d % (shuffled.length + 1), 0, txns[d % txns.length] as Transaction)
      for (const t of shuffled) await b.applyTransaction(t)
      assert.is(fingerprint(b), fingerprint(a))
    }
  ), { numRuns: 150, seed: 13 })
})

/** Three stores that each stamped their own transactions (with some gossip in between). */
async function threeReplicas (script: Array<[number, readonly Update[]]>): Promise<TupleStore[]> {
  const stores = [await openStore(1), await openStore(2), await openStore(3)]
  for (const [who, us] of script) {
    const s = stores[who % 3] as TupleStore
    await s.transact(us)
    if (who % 4 === 0) await (stores[(who + 1) % 3] as TupleStore).merge(s.deltaSince(0))
  }
  return stores
}

const script = fc.array(fc.tuple(fc.nat({ max: 11 }), updates), { maxLength: 12 })

test('merge is idempotent, commutative and associative', async () => {
  await fc.assert(fc.asyncProperty(script, async (steps) => {
    const [x, y, z] = await threeReplicas(steps) as [TupleStore, TupleStore, TupleStore]
    const a = x.deltaSince(0)
    const b = y.deltaSince(0)
    const c = z.deltaSince(0)
    const mergeAll = async (...deltas: Array<ReturnType<TupleStore['deltaSince']>>): Promise<TupleStore> => {
      const s = await openStore(50)
      for (const d of deltas) await s.merge(d)
      return s
    }
    assert.is(fingerprint(await mergeAll(a, a)), fingerprint(await mergeAll(a)), 'idempotent')
    assert.is(fingerprint(await mergeAll(a, b)), fingerprint(await mergeAll(b, a)), 'commutative')
    const ab = (await mergeAll(a, b)).deltaSince(0)
    const bc = (await mergeAll(b, c)).deltaSince(0)
    assert.is(fingerprint(await mergeAll(ab, c)), fingerprint(await mergeAll(a, bc)), 'associative')
  }), { numRuns: 120, seed: 13 })
})

test('replicas exchanging deltas in any order converge', async () => {
  await fc.assert(fc.asyncProperty(script, fc.array(fc.tuple(fc.nat({ max: 2 }), fc.nat({ max: 2 })), { maxLength: 10 }), async (steps, gossip) => {
    const stores = await threeReplicas(steps)
    const known = stores.map(() => [0, 0, 0])
    const pull = async (to: number, from: number): Promise<void> => {
      const d = (stores[from] as TupleStore).deltaSince((known[to] as number[])[from] as number)
      await (stores[to] as TupleStore).merge(d)
      ;(known[to] as number[])[from] = d.version
    }
    for (const [to, from] of gossip) if (to !== from) await pull(to, from)
    for (let round = 0; round < 2; round++) for (let to = 0; to < 3; to++) for (let from = 0; from < 3; from++) if (to !== from) await pull(to, from)
    const sets = stores.map(visibleSet)
    assert.equal(sets[1], sets[0])
    assert.equal(sets[2], sets[0])
  }), { numRuns: 100, seed: 13 })
})

test('deltas carry only what changed since the version asked for', async () => {
  const a = await openStore(1)
  await a.transact([positive(['x', 1]), positive(['x', 2])])
  const v = a.version
  await a.transact([positive(['x', 3]), negative(['x', 1])])
  const d = a.deltaSince(v)
  assert.equal(d.entries.map((e) => e.tuple).sort(), [['x', 1], ['x', 3]])
  assert.is(d.version, a.version)
  assert.is(a.deltaSince(a.version).entries.length, 0)
})

test('the replay log keeps unacknowledged transactions per replica and replays them on reconnect', async () => {
  const a = await openStore(1, { replicas: ['b', 'c'] })
  const b = await openStore(2)
  await a.transact([positive(['k', 1])])
  await a.transact([positive(['k', 2]), negative(['k', 1])])
  const pending = a.pendingFor('b')
  assert.is(pending.length, 2)
  for (const p of pending) await b.applyTransaction(p.transaction)
  await a.acknowledge('b', (pending[1] as { version: number }).version)
  assert.equal(visibleSet(b), visibleSet(a))
  assert.is(a.pendingFor('b').length, 0)
  assert.is(a.pendingFor('c').length, 2, 'c has not acknowledged')
  assert.is(a.stats.pending, 2, 'kept until every tracked replica acknowledged')
  await a.acknowledge('c', a.version)
  assert.is(a.stats.pending, 0)
  try { a.pendingFor('new-replica'); assert.unreachable() } catch (err) {
    assert.ok(isQuorateError(err, 'TUPLE_HORIZON_EXCEEDED'), 'an untracked replica must start from a snapshot')
  }
})

test('a replica past the horizon is refused and resyncs from a snapshot', async () => {
  const a = await openStore(1, { horizon: 3 })
  const b = await openStore(2, { horizon: 3 })
  await b.transact([positive(['job', 1])]) // b is then cut off, holding ['job', 1]@1
  await a.merge(b.deltaSince(0))
  await a.transact([negative(['job', 1])])
  for (let i = 0; i < 5; i++) await a.transact([positive(['tick', i])])
  assert.ok(a.watermark > 2, 'the cancellation has expired on a')
  const stale = await openStore(3, { horizon: 3 })
  await stale.transact([positive(['job', 1])])
  const delta = stale.deltaSince(0)
  try { await a.merge(delta); assert.unreachable() } catch (err) {
    assert.ok(isQuorateError(err, 'TUPLE_HORIZON_EXCEEDED'), String(err))
  }
  assert.not.ok(a.has(['job', 1]), 'nothing was merged')
  await stale.loadSnapshot(a.snapshot())
  assert.equal(visibleSet(stale), visibleSet(a))
})

test('a replayed transaction older than the horizon is refused instead of resurrecting', async () => {
  const a = await openStore(1, { horizon: 1 })
  const b = await openStore(2, { horizon: 1 })
  const c = await openStore(3, { horizon: 1 })
  const cancel = await b.transact([negative([REST])])
  await c.applyTransaction(cancel)
  const late = await a.transact([positive(['x'])]) // stamped 1@1, before b's rule 1@2
  await c.transact([negative([false])])
  await c.transact([negative([true])]) // applying b's rule spent no counter on c: two events
  assert.ok(c.watermark > 1, 'the rule has expired on c')
  try { await c.applyTransaction(late); assert.unreachable() } catch (err) {
    assert.ok(isQuorateError(err, 'TUPLE_HORIZON_EXCEEDED'), String(err))
  }
  assert.not.ok(c.has(['x']))
})

test('deltaSince refuses a version older than an expired cancellation', async () => {
  const a = await openStore(1, { horizon: 2 })
  await a.transact([positive(['x'])])
  const old = a.version
  await a.transact([negative(['x'])])
  for (let i = 0; i < 4; i++) await a.transact([positive(['t', i])])
  try { a.deltaSince(old); assert.unreachable() } catch (err) { assert.ok(isQuorateError(err, 'TUPLE_HORIZON_EXCEEDED')) }
})

test('the horizon rule never resurrects a cancelled tuple', async () => {
  // Mostly writes, mostly on replica 0, and a short horizon: the others often hold old
  // positives that replica 0 cancelled and then expired.
  const op = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), at: fc.constantFrom(0, 0, 0, 1, 2), updates }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('sync' as const), to: fc.nat({ max: 2 }), from: fc.nat({ max: 2 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), to: fc.nat({ max: 2 }), from: fc.nat({ max: 2 }) }) }
  )
  await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 16 }), fc.integer({ min: 1, max: 4 }), async (ops, horizon) => {
    const ids = ['r0', 'r1', 'r2']
    const stores = await Promise.all(ids.map(async (_, i) => await openStore(i + 1, { horizon, replicas: ids })))
    const known = stores.map(() => [0, 0, 0])
    // Every cancellation each replica has applied: a visible tuple must be newer than all that match it.
    const seen: Array<Array<{ pattern: Pattern, stamp: Stamp }>> = [[], [], []]
    const resync = async (stale: number, from: number): Promise<void> => {
      // loadSnapshot merges: the stale side keeps what it applied (its own writes too).
      await (stores[stale] as TupleStore).loadSnapshot((stores[from] as TupleStore).snapshot())
      seen[stale] = [...(seen[stale] ?? []), ...(seen[from] ?? [])]
      known[stale] = [0, 0, 0]
    }
    for (const o of ops) {
      if (o.kind === 'write') {
        const t = await (stores[o.at] as TupleStore).transact(o.updates)
        for (const u of o.updates) if (u.kind === 'negative') seen[o.at]?.push({ pattern: u.pattern, stamp: t.stamp })
      } else if (o.to !== o.from) {
        const to = stores[o.to] as TupleStore
        const from = stores[o.from] as TupleStore
        if (o.kind === 'sync') {
          let delta
          try { delta = from.deltaSince((known[o.to] as number[])[o.from] as number) } catch (err) {
            if (!isQuorateError(err, 'TUPLE_HORIZON_EXCEEDED')) throw err
            await resync(o.to, o.from)
            continue
          }
          try { await to.merge(delta) } catch (err) {
            if (!isQuorateError(err, 'TUPLE_HORIZON_EXCEEDED')) throw err
            await resync(o.from, o.to)
            continue
          }
          ;(known[o.to] as number[])[o.from] = delta.version
          for (const r of delta.rules) seen[o.to]?.push(r)
          for (const e of delta.entries) if (e.neg !== null) seen[o.to]?.push({ pattern: e.tuple, stamp: e.neg })
        } else {
          let pending
          try { pending = from.pendingFor(ids[o.to] as string) } catch (err) {
            if (!isQuorateError(err, 'TUPLE_HORIZON_EXCEEDED')) throw err
            await resync(o.to, o.from)
            await from.acknowledge(ids[o.to] as string, from.version)
            continue
          }
          for (const p of pending) {
            try {
              await to.applyTransaction(p.transaction)
              for (const u of p.transaction.updates) if (u.kind === 'negative') seen[o.to]?.push({ pattern: u.pattern, stamp: p.transaction.stamp })
            } catch (err) {
              if (!isQuorateError(err, 'TUPLE_HORIZON_EXCEEDED')) throw err
            }
            await from.acknowledge(ids[o.to] as string, p.version)
          }
        }
      }
      stores.forEach((s, i) => {
        for (const v of s.queryStamped([REST])) {
          for (const c of seen[i] ?? []) {
            if (matches(c.pattern, v.tuple)) assert.ok(compareStamps(v.stamp, c.stamp) >= 0, `replica ${i} resurrected ${JSON.stringify(v.tuple)}`)
          }
        }
      })
    }
  }), { numRuns: 2500, seed: 13 })
})

test.run()

import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { ANY, Counter, LwwArray, LwwMap, negative, positive, type TupleStore } from '../../src/lamport/index.js'
import { openStore, visibleSet } from './helpers.js'

async function exchange (a: TupleStore, b: TupleStore): Promise<void> {
  const da = a.deltaSince(0)
  const db = b.deltaSince(0)
  await a.merge(db)
  await b.merge(da)
}

test('the counter anti-pattern (not [count 0], [count 1]) loses a concurrent increment', async () => {
  const a = await openStore(1)
  const b = await openStore(2)
  await a.transact([positive(['count', 0])])
  await b.merge(a.deltaSince(0))
  // Both replicas "increment" concurrently, each writing exactly the same transaction.
  await a.transact([negative(['count', 0]), positive(['count', 1])])
  await b.transact([negative(['count', 0]), positive(['count', 1])])
  await exchange(a, b)
  assert.equal(a.query(['count', 1]), [['count', 1]])
  assert.equal(a.query(['count', 0]), [])
  assert.equal(visibleSet(a).length, 1, 'the counter reads 1 after two increments')
})

test('a per-event counter keeps every concurrent increment and converges', async () => {
  const a = await openStore(1)
  const b = await openStore(2)
  const ca = new Counter(a, 'hits')
  const cb = new Counter(b, 'hits')
  await ca.increment()
  await cb.increment()
  await cb.increment(5)
  await exchange(a, b)
  assert.is(ca.value, 7)
  assert.is(cb.value, 7)
  ca.close()
  cb.close()
})

test('counter value stays equal to a recount under random increments, resets and merges', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: 1 }), fc.oneof(fc.integer({ min: -3, max: 5 }), fc.constant('reset' as const), fc.constant('sync' as const))), { maxLength: 20 }), async (ops) => {
    const stores = [await openStore(1), await openStore(2)]
    const counters = stores.map((s) => new Counter(s, 'c'))
    for (const [who, op] of ops) {
      const c = counters[who] as Counter
      if (op === 'reset') await c.reset()
      else if (op === 'sync') await exchange(stores[0] as TupleStore, stores[1] as TupleStore)
      else await c.increment(op)
      stores.forEach((s, i) => {
        const values = s.query(['counter', 'c', ANY, ANY]).reduce((acc, t) => acc + (t[3] as number), 0)
        assert.is((counters[i] as Counter).value, values)
      })
    }
    await exchange(stores[0] as TupleStore, stores[1] as TupleStore)
    assert.is((counters[0] as Counter).value, (counters[1] as Counter).value)
  }), { seed: 1000, numRuns: 60 })
})

test('LwwMap: the newest write per key wins on every replica, whatever the merge order', async () => {
  const a = await openStore(1)
  const b = await openStore(2)
  const ma = new LwwMap(a, 'cfg')
  const mb = new LwwMap(b, 'cfg')
  await ma.set('colour', 'red')
  await mb.set('colour', 'blue') // concurrent: stamps 1@1 and 1@2, so b's write is newer
  await ma.set('size', 3)
  await mb.set(1n, Uint8Array.of(1))
  await exchange(a, b)
  assert.is(ma.get('colour'), 'blue')
  assert.is(mb.get('colour'), 'blue')
  assert.equal(ma.entries(), mb.entries())
  assert.equal(ma.entries(), [[1n, Uint8Array.of(1)], ['colour', 'blue'], ['size', 3]])
  await ma.delete('size')
  await exchange(a, b)
  assert.not.ok(mb.has('size'))
  assert.equal(ma.stampOf('colour'), { counter: 1, node: 2 })
})

test('LwwArray: elements are stamped and updated independently', async () => {
  const a = await openStore(1)
  const b = await openStore(2)
  const xa = new LwwArray(a, 'list')
  const xb = new LwwArray(b, 'list')
  await xa.set(0, 'a0')
  await xa.set(2, 'a2')
  await xb.set(1, 'b1')
  await xb.set(2, 'b2')
  await exchange(a, b)
  assert.equal(xa.toArray(), ['a0', 'b1', 'b2'])
  assert.equal(xb.toArray(), xa.toArray())
  assert.is(xa.length, 3)
  await xa.delete(2)
  await exchange(a, b)
  assert.equal(xb.toArray(), ['a0', 'b1'])
  assert.is(xb.get(5), undefined)
})

test.run()

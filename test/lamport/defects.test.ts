/**
 * Regression tests for the six defects of issue 13, each named after the behaviour that
 * was broken, in the older delta / replay-log API (the mirrored sync protocol is tested
 * in sync.test.ts).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import { negative, positive, type Delta, type TupleStore } from '../../src/lamport/index.js'
import { openStore, visibleSet } from './helpers.js'

test('defect 1: a peer one write behind gets a delta although a re-asserted tuple\'s old cancellation expired', async () => {
  const a = await openStore(1, { horizon: 1 })
  const b = await openStore(2, { horizon: 1 })
  await a.transact([positive(['x'])])
  await a.transact([negative(['x'])])
  await a.transact([positive(['y'])])
  await b.merge(a.deltaSince(0))
  const cursor = a.version
  await a.transact([positive(['x'])]) // re-assert: the old record on ['x'] expires now
  assert.ok(a.watermark > 2, 'the cancellation of [x] expired on a')
  const d = a.deltaSince(cursor) // b missed one write: it must be served, not refused
  await b.merge(d)
  assert.equal(visibleSet(b), visibleSet(a))
})

test('defect 1: merging an already-expired cancellation record leaves every peer\'s cursor valid', async () => {
  const a = await openStore(1, { horizon: 1 })
  const old = await openStore(3, { horizon: 1 })
  await old.transact([negative(['z'])]) // stamped 1@3, long expired everywhere else
  for (let i = 0; i < 5; i++) await a.transact([positive(['t', i])])
  const peerCursor = a.version
  await a.merge(old.deltaSince(0))
  await a.transact([positive(['t', 99])])
  const d = a.deltaSince(peerCursor)
  assert.equal(d.entries.map((e) => e.tuple), [['t', 99]])
})

/** Pull `to` <- `from` with the documented fix for TUPLE_HORIZON_EXCEEDED; returns resyncs done. */
async function pull (stores: TupleStore[], known: number[][], to: number, from: number): Promise<number> {
  const dst = stores[to] as TupleStore
  const src = stores[from] as TupleStore
  let delta: Delta
  try { delta = src.deltaSince((known[to] as number[])[from] as number) } catch (err) {
    if (!isQuorateError(err, 'TUPLE_HORIZON_EXCEEDED')) throw err
    const snap = src.snapshot()
    await dst.loadSnapshot(snap) // the requester loads the server's snapshot
    ;(known[to] as number[])[from] = snap.version
    return 1
  }
  try { await dst.merge(delta) } catch (err) {
    if (!isQuorateError(err, 'TUPLE_HORIZON_EXCEEDED')) throw err
    const snap = dst.snapshot()
    await src.loadSnapshot(snap) // the sender is the stale side
    ;(known[from] as number[])[to] = snap.version
    return 1
  }
  ;(known[to] as number[])[from] = delta.version
  return 0
}

test('defect 2: with no writes, resyncs stop after the first rounds instead of storming', async () => {
  const stores = [await openStore(1, { horizon: 2 }), await openStore(2, { horizon: 2 }), await openStore(3, { horizon: 2 })]
  const known = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
  for (let i = 0; i < 12; i++) {
    const s = stores[i % 3] as TupleStore
    await s.transact([positive(['job', i])])
    await s.transact([negative(['job', i])])
  }
  const perRound: number[] = []
  for (let round = 0; round < 8; round++) {
    let resyncs = 0
    for (let to = 0; to < 3; to++) for (let from = 0; from < 3; from++) if (to !== from) resyncs += await pull(stores, known, to, from)
    perRound.push(resyncs)
  }
  assert.ok(perRound.every((n) => n <= 6), JSON.stringify(perRound))
  assert.equal(perRound.slice(2), [0, 0, 0, 0, 0, 0], `resyncs per round: ${JSON.stringify(perRound)}`)
  assert.equal(visibleSet(stores[1] as TupleStore), visibleSet(stores[0] as TupleStore))
  assert.equal(visibleSet(stores[2] as TupleStore), visibleSet(stores[0] as TupleStore))
})

test('defect 3: loading a snapshot keeps a cancellation and a write this replica applied and its peers acknowledged', async () => {
  const ids = ['a', 'b', 'c']
  const [a, b, c] = await Promise.all(ids.map(async (_, i) => await openStore(i + 1, { replicas: ids.filter((x) => x !== ids[i]) }))) as [TupleStore, TupleStore, TupleStore]
  const job = await a.transact([positive(['job', 1])])
  await b.applyTransaction(job)
  await c.applyTransaction(job)
  const staleSnapshot = a.snapshot() // taken before c's cancellation arrives anywhere
  const cancel = await c.transact([negative(['job', 1]), positive(['done', 1])])
  for (const peer of [a, b]) await peer.applyTransaction(cancel)
  await c.acknowledge('a', c.version)
  await c.acknowledge('b', c.version)
  assert.is(c.stats.pending, 0, 'both peers acknowledged: the replay log is empty')
  await c.loadSnapshot(staleSnapshot)
  assert.not.ok(c.has(['job', 1]), 'the acknowledged cancellation survives')
  assert.ok(c.has(['done', 1]), 'the acknowledged write survives')
  assert.equal(visibleSet(c), visibleSet(a))
})

test('defect 4: merging a snapshot drops a tuple the sender cancelled and expired, and the replicas converge', async () => {
  const a = await openStore(1, { horizon: 2 })
  const b = await openStore(2, { horizon: 2 })
  await a.transact([positive(['gone'])])
  await b.merge(a.deltaSince(0)) // b lags from here on, holding ['gone']
  await a.transact([negative(['gone'])])
  for (let i = 0; i < 4; i++) await a.transact([positive(['t', i])])
  assert.ok(a.watermark > 2 && a.stats.entries === 4, 'the cancellation and the cancelled tuple expired on a')
  await b.merge(a.snapshot())
  assert.not.ok(b.has(['gone']))
  assert.equal(visibleSet(b), visibleSet(a))
  await a.merge(b.snapshot())
  assert.equal(visibleSet(a), visibleSet(b), 'still converged after merging back')
})

test('defect 5: merges and applied transactions do not advance the Lamport clock, so sync chatter leaves the horizon alone', async () => {
  const a = await openStore(1)
  const b = await openStore(2)
  const t = await b.transact([positive(['x'])])
  await a.applyTransaction(t)
  const before = a.clock.counter
  const empty = b.deltaSince(b.version)
  for (let i = 0; i < 100; i++) {
    await a.merge(empty)
    await a.applyTransaction(t)
  }
  const next = await a.transact([positive(['y'])])
  assert.is(next.stamp.counter, before + 1)
  assert.ok(next.stamp.counter > t.stamp.counter, 'still after everything received')
})

test('defect 6: acknowledging an untracked replica fails with TUPLE_UNKNOWN_REPLICA and tracks nothing', async () => {
  const a = await openStore(1, { replicas: ['b'] })
  await a.transact([positive(['x'])])
  try { await a.acknowledge('typo', a.version); assert.unreachable() } catch (err) {
    assert.ok(isQuorateError(err, 'TUPLE_UNKNOWN_REPLICA'), String(err))
  }
  assert.is(a.stats.pending, 1, 'still waiting for b only')
  await a.acknowledge('b', a.version)
  assert.is(a.stats.pending, 0)
})

test.run()

import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { isQuorateError } from '../../src/errors.js'
import {
  ANY, LamportClock, TupleStore, decodeSyncMessage, encodeSyncMessage, negative, positive, type TupleStoreOptions
} from '../../src/lamport/index.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { visibleSet } from './helpers.js'

const RETENTION = 1000

async function mirrors (n: number, time = new ManualClock(), options: Partial<TupleStoreOptions> = {}): Promise<TupleStore[]> {
  const nodes = Array.from({ length: n }, (_, i) => i + 1)
  const out: TupleStore[] = []
  for (const node of nodes) {
    const s = new TupleStore({ clock: new LamportClock({ node }), mirrors: nodes.filter((m) => m !== node), retentionMs: RETENTION, time, ...options })
    await s.open()
    out.push(s)
  }
  return out
}

/** One exchange: `from` asks `to` and applies the answer. */
async function pull (from: TupleStore, to: TupleStore): Promise<{ applied: number, resynced: boolean }> {
  return await from.applySync(await to.syncResponse(from.syncRequest()))
}

test('two mirrors catch up in either direction with exactly the transactions each lacks', async () => {
  const [a, b] = await mirrors(2) as [TupleStore, TupleStore]
  await a.transact([positive(['x', 1])])
  await a.transact([positive(['x', 2])])
  await b.transact([negative(['x', ANY])])
  assert.equal(await pull(b, a), { applied: 2, resynced: false })
  assert.equal(await pull(a, b), { applied: 1, resynced: false })
  assert.equal(await pull(a, b), { applied: 0, resynced: false }, 'nothing twice')
  assert.equal(visibleSet(a), visibleSet(b))
  assert.equal(a.applied, b.applied)
})

test('writes relay along a chain: a mirror forwards other origins\' transactions from its log', async () => {
  const [a, b, c] = await mirrors(3) as [TupleStore, TupleStore, TupleStore]
  await a.transact([positive(['from-a'])])
  await pull(b, a)
  await pull(c, b)
  assert.ok(c.has(['from-a']))
})

test('the replay log keeps a transaction until every mirror applied it', async () => {
  const [a, b, c] = await mirrors(3) as [TupleStore, TupleStore, TupleStore]
  await a.transact([positive(['x'])])
  await pull(b, a)
  await pull(a, b) // a learns b's progress
  assert.is(a.syncStats.logged, 1, 'c has not applied it')
  await pull(c, a)
  await pull(a, c)
  assert.is(a.syncStats.logged, 0)
})

test('a cancellation record expires only once every mirror applied it and nothing older can arrive', async () => {
  const [a, b, c] = await mirrors(3) as [TupleStore, TupleStore, TupleStore]
  const all = async (): Promise<void> => { for (const x of [a, b, c]) for (const y of [a, b, c]) if (x !== y) await pull(x, y) }
  await a.transact([positive(['job'])])
  await all()
  for (let i = 0; i < 3; i++) await b.transact([positive(['pad', i])])
  await b.transact([negative(['job'])]) // stamped 5@2
  await pull(a, b)
  assert.is(a.stats.entries, a.size + 1, 'a keeps the record while c has not applied it')
  // c re-asserts concurrently, before seeing the cancellation, with a smaller stamp (2@3):
  // it arrives after the record could have expired elsewhere, and must stay cancelled.
  await c.transact([positive(['job'])])
  await all()
  await all()
  for (const s of [a, b, c]) {
    assert.not.ok(s.has(['job']))
    assert.is(s.stats.entries, s.size, 'every record expired once stable, with what it cancelled')
  }
})

test('a mirror away longer than the retention resyncs from a snapshot, keeping its own writes and relaying the rest', async () => {
  const time = new ManualClock()
  const [a, b, c] = await mirrors(3, time) as [TupleStore, TupleStore, TupleStore]
  await c.transact([positive(['c-while-away'])])
  for (let i = 0; i < 3; i++) {
    await a.transact([positive(['a', i])])
    await pull(b, a)
    await pull(a, b)
    time.advance(RETENTION)
  }
  await a.transact([negative(['a', 0])])
  await pull(b, a)
  await pull(a, b)
  assert.ok(a.syncStats.logged < 4, 'a dropped transactions c never applied (c is past the retention)')
  const r = await pull(c, a)
  assert.ok(r.resynced, 'c is the side that resyncs')
  assert.ok(c.has(['c-while-away']), 'nothing c applied is lost')
  assert.not.ok(c.has(['a', 0]))
  await pull(a, c)
  await pull(b, c)
  assert.ok(a.has(['c-while-away']) && b.has(['c-while-away']))
  assert.equal(visibleSet(a), visibleSet(c))
  assert.equal(visibleSet(b), visibleSet(c))
})

test('a mirrored store restarts from its database with its progress and replay log', async () => {
  const db = new MemoryLevel()
  const [a, b] = await mirrors(3) as [TupleStore, TupleStore] // their third mirror is the db-backed c
  const options = { clock: new LamportClock({ node: 3 }), mirrors: [1, 2], retentionMs: RETENTION, time: new ManualClock(), db }
  let c = new TupleStore(options)
  await c.open()
  await c.transact([positive(['c'])])
  await a.transact([positive(['a'])])
  await c.applySync(await a.syncResponse(c.syncRequest()))
  c = new TupleStore({ ...options, clock: new LamportClock({ node: 3 }) })
  await c.open()
  assert.equal(c.applied, [[1, 1], [3, 1]])
  assert.is(c.syncStats.logged, 2)
  await b.applySync(await c.syncResponse(b.syncRequest()))
  assert.ok(b.has(['a']) && b.has(['c']), 'c relays a\'s write after the restart')
  const next = await c.transact([positive(['c', 2])])
  assert.is(next.stamp.counter, 2, 'the clock resumes past what was persisted')
})

test('sync messages survive their binary encoding, snapshots included, and garbage fails with TUPLE_INVALID', async () => {
  const time = new ManualClock()
  const [a, b] = await mirrors(2, time) as [TupleStore, TupleStore]
  await a.transact([positive(['x', 1n, new Uint8Array([1, 2])]), negative(['y', ANY])])
  const request = b.syncRequest()
  assert.equal(decodeSyncMessage(encodeSyncMessage(request)), request)
  const response = await a.syncResponse(request)
  assert.equal(decodeSyncMessage(encodeSyncMessage(response)), response)
  time.advance(RETENTION + 1)
  await a.transact([positive(['z'])]) // b unheard for longer than the retention: a drops its log
  const snap = await a.syncResponse(b.syncRequest())
  assert.ok(snap.snapshot !== null && snap.snapshot.entries.length > 0)
  const round = decodeSyncMessage(encodeSyncMessage(snap))
  assert.equal(round, snap)
  await b.applySync(round as typeof snap)
  assert.equal(visibleSet(b), visibleSet(a))
  for (const junk of [new Uint8Array([9]), new Uint8Array([1, 7, 1]), encodeSyncMessage(request).subarray(0, 3)]) {
    try { decodeSyncMessage(junk); assert.unreachable() } catch (err) { assert.ok(isQuorateError(err, 'TUPLE_INVALID'), String(err)) }
  }
})

test('sync messages from a node that is not a mirror fail with TUPLE_UNKNOWN_REPLICA', async () => {
  const [a] = await mirrors(2) as [TupleStore]
  const stranger = (await mirrors(3))[2] as TupleStore
  try { await a.syncResponse(stranger.syncRequest()); assert.unreachable() } catch (err) {
    assert.ok(isQuorateError(err, 'TUPLE_UNKNOWN_REPLICA'), String(err))
  }
})

test('a mirrored store refuses the older delta and replay calls, which would bypass its progress', async () => {
  const [a, b] = await mirrors(2) as [TupleStore, TupleStore]
  const t = await b.transact([positive(['x'])])
  for (const call of [async () => await a.applyTransaction(t), async () => a.deltaSince(0), async () => await a.merge(b.snapshot())]) {
    try { await call(); assert.unreachable() } catch (err) { assert.ok(isQuorateError(err, 'TUPLE_INVALID'), String(err)) }
  }
})

test('mirror options are validated: own node, duplicates, unknown keys', async () => {
  const bad: Array<Record<string, unknown>> = [{ mirrors: [1] }, { mirrors: [2, 2] }, { mirrors: [-1] }, { retentionMs: 0 }, { time: 5 }, { mirros: [2] }]
  for (const extra of bad) {
    try { new TupleStore({ clock: new LamportClock({ node: 1 }), ...extra } as unknown as TupleStoreOptions); assert.unreachable(JSON.stringify(extra)) } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'), String(err))
    }
  }
})

test.run()

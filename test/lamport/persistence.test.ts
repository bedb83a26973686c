import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryLevel } from 'memory-level'
import { ClassicLevel } from 'classic-level'
import { ANY, LamportClock, REST, TupleStore, negative, positive } from '../../src/lamport/index.js'
import { isQuorateError } from '../../src/errors.js'
import { fingerprint, visibleSet } from './helpers.js'

const bytes = { keyEncoding: 'view', valueEncoding: 'view' } as const

async function populate (s: TupleStore): Promise<void> {
  await s.transact([positive(['job', 1, 'running']), positive(['job', 2, 'running']), positive(['cfg', 'a', 1])])
  await s.transact([negative(['job', ANY, 'running'])])
  await s.transact([positive(['job', 3, 'running']), negative(['cfg', 'a', 1])])
  await s.applyTransaction({ stamp: { counter: 1, node: 5 }, updates: [positive(['job', 9, 'running'])] })
}

test('a store reopened from its database has the same visible set, rules and clock floor', async () => {
  const db = new MemoryLevel()
  const a = new TupleStore({ clock: new LamportClock({ node: 1 }), db, replicas: ['r2'] })
  await a.open()
  await populate(a)
  await a.acknowledge('r2', 1)
  const before = fingerprint(a)
  await a.close()

  const clock = new LamportClock({ node: 1 })
  const b = new TupleStore({ clock, db, replicas: ['r2'] })
  await b.open()
  assert.is(fingerprint(b), before)
  assert.is(b.version, a.version)
  assert.ok(clock.counter >= 3, 'the clock resumes at or above every stored stamp')
  const id = await b.uniqueId()
  const c = new TupleStore({ clock: new LamportClock({ node: 1 }), db })
  await c.open()
  assert.not.equal(await c.uniqueId(), id, 'ids stay unique across a restart')
  assert.equal(b.pendingFor('r2').map((p) => p.version), [2, 3])
  await b.applyTransaction({ stamp: { counter: 1, node: 7 }, updates: [positive(['job', 10, 'running'])] })
  assert.not.ok(b.has(['job', 10, 'running']), 'the reloaded rule still cancels late older positives')
  await db.close()
})

test('each transaction is written as exactly one chained batch', async () => {
  const db = new MemoryLevel()
  let batches = 0
  const original = db.batch.bind(db)
  ;(db as unknown as { batch: () => unknown }).batch = (...args: unknown[]) => {
    if (args.length === 0) batches++
    return (original as (...a: unknown[]) => unknown)(...args)
  }
  const s = new TupleStore({ clock: new LamportClock({ node: 1 }), db })
  await s.open()
  await s.transact([positive(['a']), positive(['b']), negative(['c', REST])])
  assert.is(batches, 1)
  await s.transact([negative(['a'])])
  assert.is(batches, 2)
  await db.close()
})

test('a crash between transactions leaves a prefix: reopening sees every completed transaction', async () => {
  const db = new MemoryLevel()
  const s = new TupleStore({ clock: new LamportClock({ node: 1 }), db })
  await s.open()
  await s.transact([positive(['a'])])
  const pending = s.transact([positive(['b'])])
  // Simulate the process dying: reopen from the same db without closing the first store.
  await pending
  const t = new TupleStore({ clock: new LamportClock({ node: 1 }), db })
  await t.open()
  assert.equal(visibleSet(t), visibleSet(s))
  await db.close()
})

test('corrupt stored records fail open() with STORAGE_CORRUPT', async () => {
  const db = new MemoryLevel()
  const s = new TupleStore({ clock: new LamportClock({ node: 1 }), db })
  await s.open()
  await s.transact([positive(['a'])])
  await s.close()
  await db.put(Uint8Array.of(0x74, 0xee), Uint8Array.of(1, 1, 0), bytes)
  const t = new TupleStore({ clock: new LamportClock({ node: 1 }), db })
  try { await t.open(); assert.unreachable() } catch (err) { assert.ok(isQuorateError(err, 'STORAGE_CORRUPT'), String(err)) }
  assert.is(t.status, 'closed')
  await db.close()
})

test('a failed write stops the store: STORAGE_WRITE_FAILED, then NODE_FAILED', async () => {
  const db = new MemoryLevel()
  const s = new TupleStore({ clock: new LamportClock({ node: 1 }), db })
  await s.open()
  ;(db as unknown as { batch: () => unknown }).batch = () => ({
    put () {}, del () {}, async write () { throw new Error('disk full') }
  })
  try { await s.transact([positive(['a'])]); assert.unreachable() } catch (err) { assert.ok(isQuorateError(err, 'STORAGE_WRITE_FAILED')) }
  try { await s.transact([positive(['b'])]); assert.unreachable() } catch (err) { assert.ok(isQuorateError(err, 'NODE_FAILED')) }
})

test('classic-level works as the database and lays tuples out in tuple order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-lamport-'))
  try {
    const db = new ClassicLevel(dir)
    const s = new TupleStore({ clock: new LamportClock({ node: 3 }), db })
    await s.open()
    await populate(s)
    const keys: string[] = []
    for await (const k of db.keys({ gte: Uint8Array.of(0x74), lt: Uint8Array.of(0x75), keyEncoding: 'view' })) keys.push(Buffer.from(k).toString('hex'))
    assert.equal(keys, [...keys].sort())
    const before = fingerprint(s)
    await s.close()
    await db.close()
    const db2 = new ClassicLevel(dir)
    const t = new TupleStore({ clock: new LamportClock({ node: 3 }), db: db2 })
    await t.open()
    assert.is(fingerprint(t), before)
    await db2.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()

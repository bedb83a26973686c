import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { ANY, TupleStateMachine, negative, positive, type Update } from '../../src/lamport/index.js'
import { fingerprint, openStore, validUpdates } from './helpers.js'

const updates = validUpdates

async function * chunksOf (machine: TupleStateMachine): AsyncIterable<Uint8Array> {
  for await (const c of machine.snapshot()) yield c.slice()
}

test('the same log gives the same store on every replica', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: 2 }), updates), { minLength: 1, maxLength: 15 }), async (proposals) => {
    const machines = await Promise.all([1, 2, 3].map(async (n) => new TupleStateMachine(await openStore(n, { horizon: 4 }))))
    // Each proposer stamps with its own clock; the log fixes one order for everyone.
    const log = proposals.map(([who, us]) => (machines[who] as TupleStateMachine).command(us))
    for (const m of machines) {
      for (let i = 0; i < log.length; i++) await m.apply(log[i] as Uint8Array, i + 1)
    }
    const [a, b, c] = machines.map((m) => fingerprint(m.store))
    assert.is(b, a)
    assert.is(c, a)
  }), { seed: 1010, numRuns: 80 })
})

test('apply reports malformed commands as a result instead of throwing', async () => {
  const m = new TupleStateMachine(await openStore(1))
  const r = await m.apply(Uint8Array.of(9, 9, 9), 7)
  assert.equal({ ok: r.ok, index: r.index, code: r.ok ? null : r.code }, { ok: false, index: 7, code: 'TUPLE_INVALID' })
  const ok = await m.apply(m.command([positive(['a'])]), 8)
  assert.ok(ok.ok)
  assert.ok(m.store.has(['a']))
})

test('apply reports a command older than the horizon as TUPLE_HORIZON_EXCEEDED, identically on every replica', async () => {
  const proposer = new TupleStateMachine(await openStore(9, { horizon: 2 }))
  const stale = proposer.command([positive(['job', 1])])
  const machines = await Promise.all([1, 2].map(async (n) => new TupleStateMachine(await openStore(n, { horizon: 2 }))))
  const leader = machines[0] as TupleStateMachine
  const log = [leader.command([negative(['job', ANY])])]
  for (let i = 0; i < 4; i++) log.push(leader.command([positive(['tick', i])]))
  log.push(stale)
  const results = []
  for (const m of machines) {
    for (let i = 0; i < log.length; i++) results.push(await m.apply(log[i] as Uint8Array, i + 1))
  }
  const last = results.filter((r) => r.index === log.length)
  assert.equal(last.map((r) => r.ok ? 'ok' : r.code), ['TUPLE_HORIZON_EXCEEDED', 'TUPLE_HORIZON_EXCEEDED'])
  assert.is(fingerprint(machines[1]?.store as never), fingerprint(leader.store))
})

test('snapshot and restore reproduce the store, in chunks', async () => {
  const a = new TupleStateMachine(await openStore(1))
  const big: Update[] = []
  for (let i = 0; i < 3000; i++) big.push(positive(['item', i, 'x'.repeat(20)]))
  await a.apply(a.command(big), 1)
  await a.apply(a.command([negative(['item', 5, ANY])]), 2)
  let chunks = 0
  for await (const _ of a.snapshot()) chunks++
  assert.ok(chunks > 1, 'a large snapshot streams in several chunks')
  const b = new TupleStateMachine(await openStore(2))
  await b.apply(b.command([positive(['old'])]), 1)
  await b.restore(chunksOf(a))
  assert.is(fingerprint(b.store), fingerprint(a.store))
  assert.not.ok(b.store.has(['old']), 'restore replaces the state')
})

test.run()

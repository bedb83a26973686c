import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import {
  LamportClock, compareStamps, decodeStamp, decodeStampCompact, encodeStamp, encodeStampCompact,
  parseStampId, stampId, type Stamp
} from '../../src/lamport/index.js'
import { isQuorateError } from '../../src/errors.js'

const stamp: fc.Arbitrary<Stamp> = fc.record({
  counter: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.maxSafeNat()),
  node: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.nat({ max: 0xffffffff }))
}).map((s) => ({ counter: s.counter, node: s.node }))

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0)

test('fixed stamp encodings sort bytewise in stamp order and round-trip', () => {
  fc.assert(fc.property(stamp, stamp, (a, b) => {
    const ea = encodeStamp(a)
    assert.is(ea.length, 12)
    assert.equal(decodeStamp(ea), a)
    assert.is(sign(Buffer.compare(ea, encodeStamp(b))), sign(compareStamps(a, b)))
  }), { seed: 1006, numRuns: 100 })
})

test('compact encoding round-trips and is short for small stamps', () => {
  fc.assert(fc.property(stamp, (s) => { assert.equal(decodeStampCompact(encodeStampCompact(s)), s) }), { seed: 1007, numRuns: 100 })
  assert.is(encodeStampCompact({ counter: 100, node: 3 }).length, 2)
})

test('stamp ids are unique per stamp and sort as strings in stamp order', () => {
  fc.assert(fc.property(stamp, stamp, (a, b) => {
    assert.equal(parseStampId(stampId(a)), a)
    const ia = stampId(a)
    const ib = stampId(b)
    assert.is(sign(ia < ib ? -1 : ia > ib ? 1 : 0), sign(compareStamps(a, b)))
  }), { seed: 1008, numRuns: 100 })
})

test('parseStampId rejects malformed ids with TUPLE_INVALID', () => {
  try { parseStampId('xyz'); assert.unreachable() } catch (err) { assert.ok(isQuorateError(err, 'TUPLE_INVALID')) }
})

test('tick increments the counter; receive takes max(local, received) + 1', () => {
  const c = new LamportClock({ node: 7 })
  assert.equal(c.tick(), { counter: 1, node: 7 })
  assert.equal(c.receive({ counter: 10, node: 2 }), { counter: 11, node: 7 })
  assert.equal(c.receive({ counter: 3, node: 2 }), { counter: 12, node: 7 })
  c.observe({ counter: 5, node: 1 })
  assert.is(c.counter, 12)
})

test('clock options are validated with OPTIONS_INVALID naming the field', () => {
  for (const bad of [{ node: -1 }, { node: 1.5 }, { node: 2 ** 32 }, { node: 1, initial: -1 }]) {
    try {
      // eslint-disable-next-line no-new
      new LamportClock(bad)
      assert.unreachable()
    } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'))
      assert.match((err as Error).message, /node|initial/)
    }
  }
})

test('stamps respect happened-before across message passing', () => {
  // Each event carries a vector clock; a → b iff vc(a) <= vc(b) componentwise and differs.
  const N = 4
  const op = fc.oneof(
    fc.record({ kind: fc.constant('local' as const), at: fc.nat({ max: N - 1 }) }),
    fc.record({ kind: fc.constant('send' as const), from: fc.nat({ max: N - 1 }), to: fc.nat({ max: N - 1 }) })
  )
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    const clocks = Array.from({ length: N }, (_, i) => new LamportClock({ node: i }))
    const vcs = Array.from({ length: N }, () => new Array<number>(N).fill(0))
    const events: Array<{ stamp: Stamp, vc: number[] }> = []
    const record = (node: number, s: Stamp): void => {
      (vcs[node] as number[])[node]! += 1
      events.push({ stamp: s, vc: [...(vcs[node] as number[])] })
    }
    for (const o of ops) {
      if (o.kind === 'local') { record(o.at, (clocks[o.at] as LamportClock).tick()); continue }
      const sent = (clocks[o.from] as LamportClock).tick()
      record(o.from, sent)
      const msgVc = [...(vcs[o.from] as number[])]
      const to = vcs[o.to] as number[]
      for (let i = 0; i < N; i++) to[i] = Math.max(to[i] as number, msgVc[i] as number)
      record(o.to, (clocks[o.to] as LamportClock).receive(sent))
    }
    for (const a of events) {
      for (const b of events) {
        const before = a !== b && a.vc.every((v, i) => v <= (b.vc[i] as number))
        if (before) assert.ok(compareStamps(a.stamp, b.stamp) < 0, 'happened-before implies a smaller stamp')
      }
    }
    const seen = new Set(events.map((e) => stampId(e.stamp)))
    assert.is(seen.size, events.length, 'no two events share a stamp')
  }), { seed: 1009, numRuns: 100 })
})

test.run()

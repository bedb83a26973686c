import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { harness, type Delivery, type Harness } from './memory-harness.js'
import type { MemoryNetworkOptions } from '../../src/transport/memory.js'

const IDS = ['n1', 'n2', 'n3', 'n4']

/** One step of a generated workload: a send of `count` messages, or time passing. */
type Step = { kind: 'send', from: number, to: number, count: number } | { kind: 'wait', ms: number }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), from: fc.nat(IDS.length - 1), to: fc.nat(IDS.length - 1), count: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 20 }) })
)

const latencyArb = fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }))
  .map(([x, y]) => ({ min: Math.min(x, y), max: Math.max(x, y) }))

/** Runs the workload; every message gets a unique context. Returns the harness after the network is idle. */
async function run (steps: readonly Step[], options: MemoryNetworkOptions & { seed: number }): Promise<{ h: Harness, sent: number }> {
  const h = await harness(IDS, options)
  let next = 0
  for (const step of steps) {
    if (step.kind === 'wait') {
      h.clock.advance(step.ms)
      continue
    }
    const contexts = Array.from({ length: step.count }, () => next++)
    h.send(IDS[step.from]!, IDS[step.to]!, ...contexts)
  }
  h.clock.runUntilIdle()
  return { h, sent: next }
}

test('property: with no loss, duplication or partition every message is delivered exactly once, to its addressee', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(stepArb, { maxLength: 40 }), latencyArb, fc.boolean(), fc.integer(),
    async (steps, latency, reorder, seed) => {
      const { h, sent } = await run(steps, { latency, reorder, seed })
      const contexts = h.log.map((d) => d.context).sort((x, y) => x - y)
      assert.equal(contexts, Array.from({ length: sent }, (_, i) => i))
      assert.is(h.net.stats().dropped, 0)
    }
  ), { seed: 1044, numRuns: 150 })
})

test('property: FIFO links (reorder off) deliver each link\'s messages in send order', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(stepArb, { maxLength: 40 }), latencyArb, fc.integer(),
    async (steps, latency, seed) => {
      const { h } = await run(steps, { latency, seed })
      for (const from of IDS) {
        for (const to of IDS) {
          const got = h.received(to, from)
          assert.equal(got, [...got].sort((x, y) => x - y), `${from} → ${to} in order`)
        }
      }
    }
  ), { seed: 1045, numRuns: 100 })
})

test('property: the same seed reproduces the same delivery sequence, faults included', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(stepArb, { maxLength: 40 }), latencyArb, fc.boolean(), fc.double({ min: 0, max: 0.5, noNaN: true }),
    fc.double({ min: 0, max: 0.5, noNaN: true }), fc.integer(),
    async (steps, latency, reorder, loss, duplication, seed) => {
      const options = { latency, reorder, loss, duplication, seed }
      const first: Delivery[] = (await run(steps, options)).h.log
      const second: Delivery[] = (await run(steps, options)).h.log
      assert.equal(second, first)
    }
  ), { seed: 1046, numRuns: 100 })
})

test('property: sent + duplicated = received + dropped + pending at every point', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(stepArb, { maxLength: 30 }), latencyArb, fc.double({ min: 0, max: 1, noNaN: true }),
    fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(),
    async (steps, latency, loss, duplication, seed) => {
      const h = await harness(IDS, { latency, loss, duplication, seed })
      h.net.partition(['n1', 'n2'], ['n3'])
      h.net.clog('n2', 'n1')
      let next = 0
      for (const step of steps) {
        if (step.kind === 'wait') h.clock.advance(step.ms)
        else h.send(IDS[step.from]!, IDS[step.to]!, ...Array.from({ length: step.count }, () => next++))
        const s = h.net.stats()
        assert.is(s.sent + s.duplicated, s.received + s.dropped + s.pending)
      }
      h.clock.runUntilIdle()
      const s = h.net.stats()
      assert.is(s.sent + s.duplicated, s.received + s.dropped + s.pending)
      assert.is(s.dropped, s.droppedLoss + s.droppedUnreachable + s.droppedNoPeer + s.droppedClosed + s.droppedInvalid)
    }
  ), { seed: 1047, numRuns: 100 })
})

test('property: a one-way cut blocks exactly its own direction', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(stepArb, { maxLength: 40 }), fc.nat(IDS.length - 1), fc.nat(IDS.length - 1), latencyArb, fc.integer(),
    async (steps, x, y, latency, seed) => {
      fc.pre(x !== y)
      const from = IDS[x]!
      const to = IDS[y]!
      const h = await harness(IDS, { latency, seed })
      h.net.cut(from, to)
      const expected = new Map<string, number>()
      let next = 0
      for (const step of steps) {
        if (step.kind === 'wait') { h.clock.advance(step.ms); continue }
        const f = IDS[step.from]!
        const t = IDS[step.to]!
        const key = `${f}>${t}`
        if (f !== from || t !== to) expected.set(key, (expected.get(key) ?? 0) + step.count)
        h.send(f, t, ...Array.from({ length: step.count }, () => next++))
      }
      h.clock.runUntilIdle()
      const got = new Map<string, number>()
      for (const d of h.log) got.set(`${d.from}>${d.to}`, (got.get(`${d.from}>${d.to}`) ?? 0) + 1)
      assert.equal(got, expected)
    }
  ), { seed: 1048, numRuns: 100 })
})

test('property: after heal() every pair of nodes can talk again', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.nat(3), { minLength: IDS.length, maxLength: IDS.length }),
    fc.array(fc.tuple(fc.nat(IDS.length - 1), fc.nat(IDS.length - 1)), { maxLength: 6 }),
    fc.subarray(IDS), latencyArb, fc.integer(),
    async (groupOf, cuts, isolated, latency, seed) => {
      const h = await harness(IDS, { latency, seed })
      const groups = [0, 1, 2, 3].map((g) => IDS.filter((_, i) => groupOf[i] === g))
      h.net.partition(...groups)
      for (const [a, b] of cuts) h.net.cut(IDS[a]!, IDS[b]!)
      for (const id of isolated) h.net.isolate(id)
      h.net.heal()
      let next = 0
      for (const from of IDS) for (const to of IDS) if (from !== to) h.send(from, to, next++)
      h.clock.runUntilIdle()
      assert.is(h.log.length, next)
    }
  ), { seed: 1049, numRuns: 100 })
})

test.run()

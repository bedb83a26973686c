import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { MemoryLevel } from 'memory-level'
import {
  ANY, LamportClock, REST, TupleStore, compareStamps, formatStamp, matches, tupleKey,
  type Pattern, type Stamp, type Tuple, type Update
} from '../../src/lamport/index.js'
import { smallPattern, validUpdates } from './helpers.js'

/** The model: the whole history, and visibility computed from its definition. */
interface Model {
  readonly history: Array<{ stamp: Stamp, updates: readonly Update[] }>
  readonly usedStamps: Set<string>
}
interface Real { store: TupleStore, readonly db: MemoryLevel }

const isExact = (p: Pattern): boolean => !p.some(function wild (e: unknown): boolean {
  return e === ANY || e === REST || (Array.isArray(e) && e.some(wild))
})

function modelVisible (m: Model): string[] {
  return modelTuples(m).map((v) => `${v.hex}@${formatStamp(v.stamp)}`).sort()
}

const hexKey = (t: Tuple): string => Buffer.from(tupleKey(t), 'latin1').toString('hex')

function modelTuples (m: Model): Array<{ hex: string, tuple: Tuple, stamp: Stamp }> {
  const pos = new Map<string, { tuple: Tuple, stamp: Stamp }>()
  for (const { stamp, updates } of m.history) {
    for (const u of updates) {
      if (u.kind !== 'positive') continue
      const k = tupleKey(u.tuple)
      const old = pos.get(k)
      if (old === undefined || compareStamps(stamp, old.stamp) > 0) pos.set(k, { tuple: u.tuple, stamp })
    }
  }
  const out: Array<{ hex: string, tuple: Tuple, stamp: Stamp }> = []
  for (const { tuple, stamp } of pos.values()) {
    const cancelled = m.history.some((t) => t.updates.some((u) => u.kind === 'negative' && matches(u.pattern, tuple) &&
      (isExact(u.pattern) ? compareStamps(t.stamp, stamp) >= 0 : compareStamps(t.stamp, stamp) > 0)))
    if (!cancelled) out.push({ hex: hexKey(tuple), tuple, stamp })
  }
  return out
}

function realVisible (r: Real): string[] {
  return r.store.queryStamped([REST]).map((s) => `${hexKey(s.tuple)}@${formatStamp(s.stamp)}`).sort()
}

class Transact implements fc.AsyncCommand<Model, Real> {
  constructor (readonly updates: readonly Update[]) {}
  check (): boolean { return true }
  async run (m: Model, r: Real): Promise<void> {
    const t = await r.store.transact(this.updates)
    m.history.push({ stamp: t.stamp, updates: this.updates })
    assert.equal(realVisible(r), modelVisible(m))
  }

  toString (): string { return `transact(${JSON.stringify(this.updates, (_k, v) => typeof v === 'symbol' ? String(v) : v)})` }
}

class Remote implements fc.AsyncCommand<Model, Real> {
  constructor (readonly stamp: Stamp, readonly updates: readonly Update[]) {}
  check (m: Model): boolean { return !m.usedStamps.has(formatStamp(this.stamp)) }
  async run (m: Model, r: Real): Promise<void> {
    m.usedStamps.add(formatStamp(this.stamp))
    await r.store.applyTransaction({ stamp: this.stamp, updates: this.updates })
    m.history.push({ stamp: this.stamp, updates: this.updates })
    assert.equal(realVisible(r), modelVisible(m))
  }

  toString (): string { return `remote(${formatStamp(this.stamp)})` }
}

class Query implements fc.AsyncCommand<Model, Real> {
  constructor (readonly pattern: Pattern) {}
  check (): boolean { return true }
  async run (m: Model, r: Real): Promise<void> {
    const got = r.store.query(this.pattern).map(hexKey)
    const want = modelTuples(m).filter((v) => matches(this.pattern, v.tuple)).map((v) => v.hex).sort()
    assert.equal(got, want, 'the matching tuples, in tuple order')
  }

  toString (): string { return 'query' }
}

class Reopen implements fc.AsyncCommand<Model, Real> {
  check (): boolean { return true }
  async run (m: Model, r: Real): Promise<void> {
    await r.store.close()
    r.store = new TupleStore({ clock: new LamportClock({ node: 1 }), db: r.db })
    await r.store.open()
    assert.equal(realVisible(r), modelVisible(m))
  }

  toString (): string { return 'reopen' }
}

test('the store behaves like the definition of visibility over the whole history', async () => {
  const commands = [
    validUpdates.map((us) => new Transact(us)),
    fc.tuple(fc.integer({ min: 1, max: 15 }), fc.integer({ min: 100, max: 103 }), validUpdates)
      .map(([counter, node, us]) => new Remote({ counter, node }, us)),
    smallPattern.map((p) => new Query(p)),
    fc.constant(new Reopen())
  ]
  await fc.assert(fc.asyncProperty(fc.commands(commands, { maxCommands: 25 }), async (cmds) => {
    const db = new MemoryLevel()
    const store = new TupleStore({ clock: new LamportClock({ node: 1 }), db })
    await store.open()
    await fc.asyncModelRun(() => ({ model: { history: [], usedStamps: new Set<string>() }, real: { store, db } }), cmds)
    await db.close()
  }), { seed: 1001, numRuns: 120 })
})

test.run()

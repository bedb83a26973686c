// Model-based test: random sequences of writes, truncations, snapshots, reads and reopens
// against LevelStorage on memory-level must agree with a plain array model of the log.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { MemoryLevel } from 'memory-level'
import { LevelStorage } from '../../src/storage/level-storage.js'
import type { Entry, HardState } from '../../src/raft/types.js'
import { entrySize } from '../../src/raft/types.js'
import { assertEntriesEqual, assertRejectsWith, makeEntries } from '../../src/testing/storage-conformance.js'

interface Model {
  snapshotIndex: number
  snapshotTerm: number
  entries: Entry[]
  hardState: HardState
}

interface Real {
  db: MemoryLevel
  storage: LevelStorage
}

const CONFIG = { voters: ['n1', 'n2', 'n3'], votersOutgoing: [], learners: [] }

function last (m: Model): number {
  return m.snapshotIndex + m.entries.length
}

async function * chunks (count: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield new Uint8Array(i + 1).fill(i)
}

class Append implements fc.AsyncCommand<Model, Real> {
  constructor (readonly count: number, readonly term: number, readonly bytes: number, readonly sync: boolean) {}
  check (): boolean { return true }
  async run (m: Model, r: Real): Promise<void> {
    const entries = makeEntries(last(m) + 1, this.count, this.term, this.bytes)
    await r.storage.write({ hardState: null, entries }, { sync: this.sync })
    m.entries.push(...entries)
  }

  toString (): string { return `append(${this.count}, t${this.term}, ${this.bytes}B)` }
}

class TruncateAppend implements fc.AsyncCommand<Model, Real> {
  constructor (readonly back: number, readonly count: number, readonly term: number) {}
  check (m: Model): boolean { return m.entries.length > 0 }
  async run (m: Model, r: Real): Promise<void> {
    const from = Math.max(m.snapshotIndex + 1, last(m) + 1 - this.back)
    const entries = makeEntries(from, this.count, this.term)
    const hardState = { term: this.term, vote: 'n2', commit: m.snapshotIndex }
    await r.storage.write({ hardState, truncateFrom: from, entries })
    m.entries.length = from - m.snapshotIndex - 1
    m.entries.push(...entries)
    m.hardState = hardState
  }

  toString (): string { return `truncateAppend(back ${this.back}, ${this.count}, t${this.term})` }
}

class SetHardState implements fc.AsyncCommand<Model, Real> {
  constructor (readonly hardState: HardState) {}
  check (): boolean { return true }
  async run (m: Model, r: Real): Promise<void> {
    await r.storage.write({ hardState: this.hardState, entries: [] })
    m.hardState = this.hardState
  }

  toString (): string { return `hardState(${JSON.stringify(this.hardState)})` }
}

class ReadRange implements fc.AsyncCommand<Model, Real> {
  constructor (readonly start: number, readonly length: number, readonly maxBytes: number | undefined) {}
  check (m: Model): boolean { return m.entries.length > 0 }
  async run (m: Model, r: Real): Promise<void> {
    const lo = m.snapshotIndex + 1 + (this.start % m.entries.length)
    const hi = Math.min(last(m) + 1, lo + this.length)
    const wanted = m.entries.slice(lo - m.snapshotIndex - 1, hi - m.snapshotIndex - 1)
    let bytes = 0
    let n = 0
    for (const e of wanted) {
      bytes += entrySize(e)
      if (n > 0 && bytes > (this.maxBytes ?? Infinity)) break
      n++
    }
    assertEntriesEqual(await r.storage.entries(lo, hi, { maxBytes: this.maxBytes }), wanted.slice(0, n))
  }

  toString (): string { return `read(+${this.start}, ${this.length}, max ${String(this.maxBytes)})` }
}

class ReadOutside implements fc.AsyncCommand<Model, Real> {
  constructor (readonly past: number) {}
  check (): boolean { return true }
  async run (m: Model, r: Real): Promise<void> {
    const lo = this.past === 0 ? m.snapshotIndex : last(m) + this.past
    await assertRejectsWith(r.storage.entries(lo, lo + 1), 'STORAGE_INVALID_RANGE')
  }

  toString (): string { return `readOutside(${this.past})` }
}

class Snapshot implements fc.AsyncCommand<Model, Real> {
  constructor (readonly ahead: number, readonly chunkCount: number) {}
  check (): boolean { return true }
  async run (m: Model, r: Real): Promise<void> {
    const index = m.snapshotIndex + this.ahead
    const term = index <= last(m) && index > m.snapshotIndex ? m.entries[index - m.snapshotIndex - 1]!.term : m.snapshotTerm + 1
    await r.storage.saveSnapshot({ index, term, config: CONFIG }, chunks(this.chunkCount))
    m.entries = m.entries.slice(Math.min(m.entries.length, index - m.snapshotIndex))
    m.snapshotIndex = index
    m.snapshotTerm = term
    const loaded = await r.storage.loadSnapshot()
    assert.equal(loaded?.meta, { index, term, config: CONFIG })
    let count = 0
    for await (const chunk of loaded!.chunks) assert.is(chunk.byteLength, ++count)
    assert.is(count, this.chunkCount)
  }

  toString (): string { return `snapshot(+${this.ahead}, ${this.chunkCount} chunks)` }
}

class Reopen implements fc.AsyncCommand<Model, Real> {
  check (): boolean { return true }
  async run (m: Model, r: Real): Promise<void> {
    await r.storage.close()
    r.storage = new LevelStorage({ db: r.db })
    await r.storage.open()
    await checkLoad(m, r)
  }

  toString (): string { return 'reopen' }
}

class Load implements fc.AsyncCommand<Model, Real> {
  check (): boolean { return true }
  async run (m: Model, r: Real): Promise<void> { await checkLoad(m, r) }
  toString (): string { return 'load' }
}

async function checkLoad (m: Model, r: Real): Promise<void> {
  const state = await r.storage.load()
  assert.equal(state.hardState, m.hardState)
  assert.is(state.snapshot?.index ?? 0, m.snapshotIndex)
  assertEntriesEqual(state.entries, m.entries)
}

const commands = [
  fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 300 }), fc.boolean())
    .map(([n, t, b, s]) => new Append(n, t, b, s)),
  fc.tuple(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 9 }))
    .map(([back, n, t]) => new TruncateAppend(back, n, t)),
  fc.record({ term: fc.nat(50), vote: fc.option(fc.constantFrom('n1', 'n2', 'n3')), commit: fc.nat(50) })
    .map(({ term, vote, commit }) => new SetHardState({ term, vote, commit })),
  fc.tuple(fc.nat(100), fc.integer({ min: 0, max: 30 }), fc.option(fc.integer({ min: 1, max: 2000 }), { nil: undefined }))
    .map(([s, l, max]) => new ReadRange(s, l, max)),
  fc.integer({ min: 0, max: 3 }).map((p) => new ReadOutside(p)),
  fc.tuple(fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 4 })).map(([a, c]) => new Snapshot(a, c)),
  fc.constant(new Reopen()),
  fc.constant(new Load())
]

test('LevelStorage on memory-level behaves like an array model of the log', async () => {
  await fc.assert(fc.asyncProperty(fc.commands(commands, { maxCommands: 40 }), async (cmds) => {
    const db = new MemoryLevel()
    const real: Real = { db, storage: new LevelStorage({ db }) }
    await real.storage.open()
    const model: Model = { snapshotIndex: 0, snapshotTerm: 0, entries: [], hardState: { term: 0, vote: null, commit: 0 } }
    try {
      await fc.asyncModelRun(() => ({ model, real }), cmds)
      await checkLoad(model, real)
    } finally {
      await real.storage.close()
    }
  }), { seed: 1027, numRuns: 100 })
})

test.run()

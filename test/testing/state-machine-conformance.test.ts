/**
 * The state-machine conformance suite passes a correct machine and catches each deliberately
 * broken variant: a nondeterministic apply, a snapshot read lazily (after later applies), one
 * whose copy-on-write pin is let go after the first chunk, a
 * restore that merges instead of replacing, a restore that depends on chunk boundaries, and
 * applyBatch variants that reorder, drop or misnumber commands; a machine without applyBatch
 * passes too.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { stateMachineConformance } from '../../src/testing/state-machine-conformance.js'
import type { StateMachine } from '../../src/node/state-machine.js'
import { randomInt } from '../../src/util/random.js'

/** A set of small numbers; its snapshot is one byte per member, in one chunk per member. */
class NumberSet implements StateMachine<boolean> {
  values = new Set<number>()
  apply (command: Uint8Array): boolean {
    const n = command[0] ?? 0
    if (this.values.has(n)) { this.values.delete(n); return false }
    this.values.add(n)
    return true
  }

  snapshot (): AsyncIterable<Uint8Array> {
    const bytes = Uint8Array.from([...this.values].sort((a, b) => a - b))
    return (async function * () { yield bytes })()
  }

  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.values = new Set()
    for await (const c of chunks) for (const b of c) this.values.add(b)
  }
}

/** NumberSet with a correct applyBatch: apply, in order. */
class BatchedNumberSet extends NumberSet {
  applyBatch (commands: readonly Uint8Array[]): boolean[] { return commands.map((c) => this.apply(c)) }
}

/** A set where index matters: odd indexes add, even ones remove (a batch must number its commands right). */
class IndexedSet extends BatchedNumberSet {
  override apply (command: Uint8Array, index = 0): boolean {
    const n = command[0] ?? 0
    if (index % 2 === 0) return this.values.delete(n)
    this.values.add(n)
    return true
  }

  override applyBatch (commands: readonly Uint8Array[], firstIndex = 0): boolean[] { return commands.map((c, i) => this.apply(c, firstIndex + i)) }
}

/** Applies so far in this process: a stand-in for a clock or a random draw inside apply. */
let applies = 0
const variants: Record<string, () => StateMachine> = {
  correct: () => new NumberSet(),
  correctBatch: () => new BatchedNumberSet(),
  correctIndexedBatch: () => new IndexedSet(),
  reorderingBatch: () => Object.assign(new BatchedNumberSet(), {
    applyBatch (this: NumberSet, commands: readonly Uint8Array[]) { return [...commands].reverse().map((c) => this.apply(c)).reverse() }
  }),
  droppingBatch: () => Object.assign(new BatchedNumberSet(), {
    applyBatch (this: NumberSet, commands: readonly Uint8Array[]) { return commands.map((c, i) => i === 1 ? false : this.apply(c)) }
  }),
  shortBatch: () => Object.assign(new BatchedNumberSet(), {
    applyBatch (this: NumberSet, commands: readonly Uint8Array[]) { return commands.slice(0, 3).map((c) => this.apply(c)) }
  }),
  misnumberedBatch: () => Object.assign(new IndexedSet(), {
    applyBatch (this: IndexedSet, commands: readonly Uint8Array[], firstIndex: number) { return commands.map((c, i) => this.apply(c, firstIndex + i + 1)) }
  }),
  nondeterministicApply: () => Object.assign(new NumberSet(), { apply (this: NumberSet, c: Uint8Array) { NumberSet.prototype.apply.call(this, c); return applies++ } }),
  lazySnapshot: () => Object.assign(new NumberSet(), {
    snapshot (this: NumberSet) {
      const self = this
      return (async function * () { yield Uint8Array.from([...self.values].sort((a, b) => a - b)) })()
    }
  }),
  // Copy-on-write that lets go of its pin when the first chunk is read: right when every apply
  // comes before the first read, wrong when applies land between chunks (one chunk per member).
  earlyReleasedSnapshot: () => {
    const m = new NumberSet()
    let pin: { values: Set<number> | null } | null = null
    const apply = m.apply.bind(m)
    m.apply = (c: Uint8Array) => {
      if (pin !== null && pin.values === null) pin.values = new Set(m.values)
      return apply(c)
    }
    m.snapshot = () => {
      const mine: { values: Set<number> | null } = { values: null }
      pin = mine
      return (async function * () {
        for (let k = 0; ; k++) {
          const members = [...(mine.values ?? m.values)].sort((a, b) => a - b)
          if (k >= members.length) return
          if (pin === mine) pin = null // the bug: released once the first chunk is read
          yield Uint8Array.of(members[k]!)
        }
      })()
    }
    return m
  },
  mergingRestore: () => Object.assign(new NumberSet(), {
    async restore (this: NumberSet, chunks: AsyncIterable<Uint8Array>) { for await (const c of chunks) for (const b of c) this.values.add(b) }
  }),
  chunkBoundRestore: () => Object.assign(new NumberSet(), {
    async restore (this: NumberSet, chunks: AsyncIterable<Uint8Array>) {
      this.values = new Set()
      for await (const c of chunks) { this.values.add(c[0]!); break }
    }
  })
}

async function failuresOf (create: () => StateMachine): Promise<string[]> {
  const tests: Array<[string, () => Promise<void>]> = []
  stateMachineConformance(
    (name, fn) => { tests.push([name, fn]) },
    {
      name: 'numbers',
      seeds: 8,
      create,
      commands: (random, n) => Array.from({ length: n }, () => Uint8Array.of(randomInt(random, 0, 12))),
      state: (m) => [...(m as NumberSet).values].sort((a, b) => a - b)
    })
  const failed: string[] = []
  for (const [name, fn] of tests) {
    try { await fn() } catch { failed.push(name.replace('numbers: ', '').split(':')[0]!) }
  }
  return failed
}

test('a correct machine passes every check, with and without applyBatch', async () => {
  assert.equal(await failuresOf(variants.correct!), [])
  assert.equal(await failuresOf(variants.correctBatch!), [])
  assert.equal(await failuresOf(variants.correctIndexedBatch!), [])
})

test('each broken variant is caught by the check that targets it', async () => {
  const caught = async (variant: string, check: string): Promise<void> => {
    const failed = await failuresOf(variants[variant]!)
    assert.ok(failed.some((f) => f.startsWith(check)), `${variant} should fail "${check}", failed: ${JSON.stringify(failed)}`)
  }
  await caught('nondeterministicApply', 'apply is deterministic')
  await caught('lazySnapshot', 'a snapshot holds the state as of the snapshot() call')
  await caught('earlyReleasedSnapshot', 'a snapshot holds the state as of the snapshot() call while commands are applied between its chunks')
  assert.not.ok((await failuresOf(variants.earlyReleasedSnapshot!)).includes('a snapshot holds the state as of the snapshot() call, not of the first read'),
    'the first-read check alone does not see it: only applies between chunks do')
  await caught('mergingRestore', 'restore replaces every earlier state')
  await caught('chunkBoundRestore', 'a restored machine continues like the original')
  for (const v of ['reorderingBatch', 'droppingBatch', 'shortBatch', 'misnumberedBatch']) await caught(v, 'applyBatch is apply')
})

test.run()

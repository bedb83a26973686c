import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import { runTupleSimulation, searchTupleMutant, TUPLE_MUTANTS } from '../../src/testing/index.js'

// Each broken store must fail some seed quickly; the finding shows which check caught it.
const expected: Record<typeof TUPLE_MUTANTS[number], RegExp> = {
  skipClockMerge: /lacks|shows/, // a cancellation stamped below what it cancels: visibility differs from the model
  expireEarly: /resurrection/,
  dropLogOnSnapshot: /received \d+ of \d+ transactions/ // relayed writes never arrive: no convergence
}

for (const mutant of TUPLE_MUTANTS) {
  test(`the tuple simulator catches the ${mutant} mutant within 50 seeds`, async () => {
    const r = await searchTupleMutant(mutant, { maxSeeds: 50, firstSeed: 1 })
    assert.ok(r.caughtBy !== null, `${mutant} survived ${r.seeds} seeds`)
    assert.match(r.finding as string, expected[mutant])
  })
}

test('one seed replays the same run, and simulation options are validated', async () => {
  const a = await runTupleSimulation({ seed: 42, topology: 'chain' })
  const b = await runTupleSimulation({ seed: 42, topology: 'chain' })
  assert.equal(b, a)
  for (const bad of [{ seed: -1 }, { seed: 1, topology: 'ring' }, { seed: 1, loss: 1 }, { seed: 1, replicas: 1 }, { seed: 1, stepz: 3 }]) {
    try { await runTupleSimulation(bad as never); assert.unreachable(JSON.stringify(bad)) } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'), String(err))
    }
  }
})

test.run()

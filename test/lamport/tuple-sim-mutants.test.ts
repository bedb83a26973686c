import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { searchTupleMutant, TUPLE_MUTANTS } from '../../src/testing/index.js'

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

test.run()

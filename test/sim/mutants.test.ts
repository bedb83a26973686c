/**
 * The mutation check with small seed caps: every deliberately broken variant of the node is
 * caught by the simulator within a few seeds (the full table, with up to 1,000 seeds per
 * mutant, is `npm run sim -- --mutants`; docs/simulator.md records it).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { searchMutant } from '../../src/testing/sim/index.js'
import type { MutantName } from '../../src/testing/sim/index.js'

/** Seeds each mutant may take in `npm test` (about twice what docs/simulator.md records). */
const CAPS: ReadonlyArray<[MutantName, number]> = [
  ['commitOldTerm', 20],
  ['skipVotePersist', 5],
  ['ackBeforeDurable', 5],
  ['skipUpToDateCheck', 10],
  ['staleReads', 5],
  ['truncateSuffixOnAppend', 10],
  ['forwardedProposalLeak', 15],
  ['snapshotResumeAcrossLeaders', 40]
]

for (const [mutant, cap] of CAPS) {
  test(`the ${mutant} mutant is caught within ${cap} seeds`, async () => {
    const r = await searchMutant(mutant, { maxSeeds: cap })
    assert.ok(r.caughtBy !== null, `${mutant} survived ${cap} seeds`)
    assert.type(r.finding, 'string')
  })
}

test.run()

/**
 * `npm run sim:transponder` reads its arguments strictly: seeds 1..N by default, one seed with
 * --seed, and an unknown mutant is a usage error, not a silent clean run.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { interpret } from '../../src/testing/transponder-sim/cli.js'
import { QuorateError } from '../../src/errors.js'

test('seeds 1..N by default, one seed with --seed, scale and mode as given', () => {
  assert.equal(interpret({ seeds: '3' }).seeds, [1, 2, 3])
  const one = interpret({ seed: '42', agents: '100', transponders: '4', direct: true })
  assert.equal([one.seeds, one.agents, one.transponders, one.direct, one.verbose], [[42], 100, 4, true, true])
})

test('an unknown mutant or a bad number is a usage error', () => {
  assert.throws(() => interpret({ mutant: 'ack-early' }), (e: unknown) => e instanceof QuorateError && e.code === 'OPTIONS_INVALID')
  assert.throws(() => interpret({ seeds: '0' }), (e: unknown) => e instanceof QuorateError && e.code === 'OPTIONS_INVALID')
})

test.run()

/**
 * quorate/level in the simulator: a key-value workload (puts, deletes, multi-key batches,
 * single and all-key reads) through the LevelStateMachine on the router, over memory-level,
 * under the simulator's full fault mix (crashes of leaders included, snapshots taken and
 * installed). Every history must be linearizable, which makes every batch atomic: a read of
 * all keys never sees part of one.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { describeFinding, levelSimWorkload, runSimulation } from '../../src/testing/sim/index.js'
import type { LevelInput, LevelOutput } from '../../src/testing/sim/index.js'

const SEEDS = 100

test(`${SEEDS} seeds of level puts, deletes, batches and reads under faults are linearizable (batches atomic)`, async () => {
  const failures: string[] = []
  const seen = { batches: 0, reads: 0, crashes: 0, installed: 0 }
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = await runSimulation<LevelInput, LevelOutput>({ seed, workload: levelSimWorkload() })
    if (r.coverage.snapshotsInstalled > 0) seen.installed++
    for (const op of r.history) {
      const input = op.input as LevelInput
      const output = op.output as LevelOutput | null | undefined
      if (op.return === null || output === undefined || output === null) continue
      if (input.op === 'batch' && output.op === 'ok') seen.batches++
      if (input.op === 'read') seen.reads++
      if (output.op === 'refused') failures.push(`seed ${seed}: ${input.op} refused with ${output.code}`)
    }
    if (!r.ok) {
      const found = describeFinding(r)
      failures.push(`seed ${seed}: ${found?.finding ?? '?'}: ${found?.detail ?? ''}`)
    }
  }
  assert.equal(failures, [], failures.join('\n'))
  assert.ok(seen.batches > SEEDS && seen.reads > SEEDS, `completed: ${JSON.stringify(seen)}`)
  assert.ok(seen.installed >= SEEDS / 10, `snapshots installed in ${seen.installed} seeds`)
})

test('the check has teeth: a client that writes only the first key of each batch is caught on every seed', async () => {
  const base = levelSimWorkload()
  const partial = { ...base, encode: (input: LevelInput) => base.encode(input.op === 'batch' ? { ...input, keys: input.keys.slice(0, 1) } : input) }
  for (let seed = 1; seed <= 5; seed++) {
    const r = await runSimulation<LevelInput, LevelOutput>({ seed, workload: partial })
    assert.not.ok(r.ok, `seed ${seed} passed with partial batches`)
  }
})

test('a level workload seed replays exactly', async () => {
  const a = await runSimulation<LevelInput, LevelOutput>({ seed: 7, workload: levelSimWorkload() })
  const b = await runSimulation<LevelInput, LevelOutput>({ seed: 7, workload: levelSimWorkload() })
  assert.is(a.traceHash, b.traceHash)
})

test.run()

/**
 * The split seed sweep still covers every seed: one simulator-seeds-NN.test.ts per batch,
 * numbered 01..N with no gap, N batches of SEEDS_PER_BATCH making SWEEP_SEEDS.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SEEDS_PER_BATCH, SWEEP_SEEDS } from './seed-batch.js'

const sourceDir = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'), 'test', 'sim')

test('the batch files together sweep every seed of the sweep once', () => {
  const files = readdirSync(sourceDir).filter((f) => /^simulator-seeds-\d+\.test\.ts$/.test(f)).sort()
  const batches = Math.ceil(SWEEP_SEEDS / SEEDS_PER_BATCH)
  assert.equal(files, Array.from({ length: batches }, (_, i) => `simulator-seeds-${String(i + 1).padStart(2, '0')}.test.ts`))
  files.forEach((file, i) => {
    assert.match(readFileSync(join(sourceDir, file), 'utf8'), new RegExp(`^seedBatch\\(${i + 1}\\)$`, 'm'), file)
  })
})

test.run()

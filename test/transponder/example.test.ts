/**
 * The README's transponder example is examples/transponder.mjs verbatim, and it runs: an
 * event acknowledged after the station stored it, a fan-out answered by both agents, an
 * altered command refused.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'

const root = new URL('../../../', import.meta.url).pathname

test('the transponder example in the README is examples/transponder.mjs verbatim, and it runs', async () => {
  const example = readFileSync(root + 'examples/transponder.mjs', 'utf8').trimEnd()
  assert.ok(readFileSync(root + 'README.md', 'utf8').includes(example), 'README transponder example drifted from examples/transponder.mjs')
  const { stdout } = await promisify(execFile)(process.execPath, [root + 'examples/transponder.mjs'], { cwd: root, timeout: 60_000 })
  assert.match(stdout, 'event: acknowledged')
  assert.match(stdout, 'stored at the station: evt-1')
  assert.match(stdout, 'replies: true,true')
  assert.match(stdout, 'altered command: TRANSPONDER_SIGNATURE_INVALID')
})

test.run()

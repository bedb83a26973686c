/**
 * The README's coordinator example is examples/coordinator.mjs verbatim, and it runs on a real
 * 3-node station in one process: a move decided by the built-in rules, a failover to another
 * node's supervisor, and the custom rule run by the new coordinator under a newer token.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const root = new URL('../../../', import.meta.url).pathname

test('the README coordinator example is examples/coordinator.mjs verbatim', () => {
  const readme = readFileSync(root + 'README.md', 'utf8')
  const example = readFileSync(root + 'examples/coordinator.mjs', 'utf8').trimEnd()
  assert.ok(readme.includes(example), 'README coordinator example drifted from examples/coordinator.mjs')
})

test('the coordinator example runs: a move, a failover, and the custom rule under a newer token', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [root + 'examples/coordinator.mjs'], { cwd: root, timeout: 60_000 })
  assert.match(stdout, 'what-if: node-failure: w1 dead; w1: moved 1 instance(s)')
  const start = /w2: start web \(token (\d+)\)/.exec(stdout)
  const stop = /w2: stop web \(token (\d+)\)/.exec(stdout)
  assert.ok(start !== null && stop !== null, stdout)
  assert.ok(Number(stop[1]) > Number(start[1]), 'the new coordinator acts under a newer token')
  assert.equal(stdout.match(/coordinator started on/g)?.length, 2, stdout)
})

test.run()

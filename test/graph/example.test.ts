/**
 * The README's graph example is examples/graph.mjs verbatim, and it runs on a real 3-node
 * cluster printing what it promises: queries by relation and field, a retried emit answered
 * 'duplicate', a handle that moves the service and trims its event in one entry, a watch.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const root = new URL('../../../', import.meta.url).pathname

test('the README graph example is examples/graph.mjs verbatim', () => {
  const readme = readFileSync(root + 'README.md', 'utf8')
  const example = readFileSync(root + 'examples/graph.mjs', 'utf8').trimEnd()
  assert.ok(readme.includes(example), 'README graph example drifted: run node scripts/sync-readme.mjs')
})

test('the graph example runs and prints what it promises', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [root + 'examples/graph.mjs'], { cwd: root, timeout: 60_000 })
  for (const line of ['web runs on: a', 'services on port 8080: 1', 'emit: stored', 'retry: duplicate', 'web now runs on: b', 'events left: 0']) {
    assert.match(stdout, line)
  }
  assert.match(stdout, /watched entries: \d+,\d+/)
})

test.run()

/**
 * The README's node-agent example is examples/agent.mjs verbatim, and it runs: a real HTTP
 * service supervised, restarted after SIGKILL, stopped, and a stale coordinator refused.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const root = new URL('../../../', import.meta.url).pathname

test('the agent example in the README is examples/agent.mjs verbatim, and it runs', async () => {
  const example = readFileSync(root + 'examples/agent.mjs', 'utf8').trimEnd()
  assert.ok(readFileSync(root + 'README.md', 'utf8').includes(example), 'README agent example drifted from examples/agent.mjs')
  const { stdout } = await promisify(execFile)(process.execPath, [root + 'examples/agent.mjs'], { cwd: root, timeout: 60_000 })
  assert.match(stdout, 'ready: true')
  assert.match(stdout, 'exit signal: SIGKILL | restarted with a new pid: true')
  assert.match(stdout, 'stopped: stopped')
  assert.match(stdout, 'stale coordinator: LEASE_FENCED')
})

test.run()

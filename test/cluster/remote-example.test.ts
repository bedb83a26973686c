/**
 * The README's remote-client example is examples/remote-client.mjs verbatim, and it runs:
 * three node processes on 127.0.0.1-3, a client holding only the CA and its own certificate.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'

const root = new URL('../../../', import.meta.url).pathname

test('the README remote-client example is examples/remote-client.mjs verbatim, and it prints what it promises', async () => {
  const example = readFileSync(root + 'examples/remote-client.mjs', 'utf8').trimEnd()
  assert.ok(readFileSync(root + 'README.md', 'utf8').includes(example), 'README remote-client example drifted from examples/remote-client.mjs')
  const { stdout } = await promisify(execFile)(process.execPath, [root + 'examples/remote-client.mjs'], { cwd: root, timeout: 60_000 })
  assert.match(stdout, 'appended: open+paid')
  assert.match(stdout, "read: [ 'open+paid' ]")
  assert.match(stdout, /leader: n[123]/)
})

test.run()

/**
 * The README is part of the product: its quickstart must run and its error table must list
 * every code.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { ERROR_CODES } from '../src/errors.js'

const root = new URL('../../', import.meta.url).pathname
const readme = readFileSync(root + 'README.md', 'utf8')

test('the README starts with the three set-up commands', () => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
  const commands = firstBlock.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean)
  assert.equal(commands, ['npm install', 'npm start', 'npm test'])
})

test('every error code is documented in the README', () => {
  for (const code of Object.keys(ERROR_CODES)) assert.ok(readme.includes(`\`${code}\``), `${code} is missing: run node scripts/sync-readme.mjs`)
})

test('the README quickstart is examples/quickstart.mjs verbatim', () => {
  const example = readFileSync(root + 'examples/quickstart.mjs', 'utf8').trimEnd()
  assert.ok(readme.includes(example), 'README quickstart drifted: run node scripts/sync-readme.mjs')
})

test('the quickstart runs and prints what it promises', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [root + 'examples/quickstart.mjs'], { cwd: root, timeout: 60_000 })
  assert.match(stdout, 'size after put: 1')
  assert.match(stdout, 'follower sees: hello')
})

/** Checks that the README holds examples/<name>.mjs verbatim, runs it and returns what it printed. */
async function runExample (name: string): Promise<string> {
  const example = readFileSync(root + `examples/${name}.mjs`, 'utf8').trimEnd()
  assert.ok(readme.includes(example), `README ${name} example drifted from examples/${name}.mjs`)
  const { stdout } = await promisify(execFile)(process.execPath, [root + `examples/${name}.mjs`], { cwd: root, timeout: 60_000 })
  return stdout
}

test('the router example in the README is examples/router.mjs verbatim, and it runs', async () => {
  const stdout = await runExample('router')
  assert.match(stdout, 'counter: 5')
  assert.match(stdout, 'exactly-once add: 7')
  assert.match(stdout, /lease token: \d+/)
})

test('the level example in the README is examples/level.mjs verbatim, and it runs', async () => {
  const stdout = await runExample('level')
  assert.match(stdout, "replicated: [ [ 'a', '1' ], [ 'b', '2' ], [ 'greeting', 'hello' ] ]")
  assert.match(stdout, 'read on n3: hello')
})

test.run()

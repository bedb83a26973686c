/**
 * Runs every scenario file in test/raft/testdata (see scenario/runner.ts for the commands).
 * A file fails with a diff of its golden output; `REWRITE=1` rewrites the files instead,
 * for review with `git diff`.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runFile } from './scenario/datadriven.js'
import { ScenarioRunner } from './scenario/runner.js'

const dir = new URL('../../../test/raft/testdata/', import.meta.url).pathname
const rewrite = process.env.REWRITE === '1'

for (const name of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
  test(`scenario ${name.replace(/\.txt$/, '').replaceAll('-', ' ')} matches its golden output`, () => {
    const path = join(dir, name)
    const runner = new ScenarioRunner()
    const { actual, expected } = runFile(readFileSync(path, 'utf8'), `test/raft/testdata/${name}`, (c) => runner.run(c))
    if (rewrite) { if (actual !== expected) writeFileSync(path, expected); return }
    assert.fixture(actual, expected, `${name} differs from what the runner prints (REWRITE=1 to accept)`)
  })
}

test('the scenario runner reports a changed output, an unknown argument and a missing separator', () => {
  const file = 'add-nodes 1\n----\nn1: leader\n\nraft-state\n----\nn1: follower term=0 leader=-\n'
  const runner = new ScenarioRunner()
  const { actual, expected } = runFile(file, 'inline', (c) => runner.run(c))
  assert.is.not(actual, expected, 'a golden output that no longer matches is a difference')
  assert.ok(expected.includes('n1: follower term=0 leader=- last=0/0 voters=(n1)'), 'and the rewrite holds the real output')
  assert.throws(() => runFile('add-nodes 1 prevote=false\n----\n', 'inline', (c) => new ScenarioRunner().run(c)), /inline:1: add-nodes: unknown argument\(s\): prevote=false/)
  assert.throws(() => runFile('raft-state\n', 'inline', (c) => new ScenarioRunner().run(c)), /inline:1: case has no ----/)
})

test.run()

/** The quorate-node bin: --help, --version, and exit 2 with the usage on a usage error. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { linkedBin, run, version } from './helpers.js'

const bin = linkedBin('quorate-node')
test.after(() => { bin.cleanup() })

test('quorate-node --help prints the usage and exits 0 (also when run through the npm bin symlink)', () => {
  const r = run(bin.path, ['--help'])
  assert.is(r.status, 0, r.stderr)
  assert.match(r.stdout, /^Usage: quorate-node --config <file.json>/)
})

test('quorate-node --version prints the package version', () => {
  const r = run(bin.path, ['--version'])
  assert.is(r.status, 0, r.stderr)
  assert.is(r.stdout.trim(), `quorate-node ${version}`)
})

test('quorate-node exits 2 with the usage on an unknown option, a missing --config or a stray argument', () => {
  for (const args of [['--config', 'n1.json', '--verbose'], [], ['--config'], ['--config', 'n1.json', 'extra']]) {
    const r = run(bin.path, args)
    assert.is(r.status, 2, `${JSON.stringify(args)}: ${r.stderr}`)
    assert.match(r.stderr, /Usage: quorate-node/)
    assert.is(r.stdout, '')
  }
})

test('quorate-node exits 1 when the config cannot be loaded (a run failure, not a usage error)', () => {
  const r = run(bin.path, ['--config', '/nonexistent/quorate-n1.json'])
  assert.is(r.status, 1, r.stderr)
  assert.match(r.stderr, /^quorate-node: /)
})

test.run()

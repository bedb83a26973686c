/**
 * The quorate-sim bin: strict options (a misspelt option or malformed value never falls back
 * to a default run), both `--seeds=N` and `--seeds N`, and the figure-16 output path option.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { linkedBin, run, version } from './helpers.js'
import { interpretSimArgs, SIM_CLI, DEFAULT_FIGURE16_OUT } from '../../src/testing/sim/cli.js'
import { parseCommandLine } from '../../src/util/cli.js'
import { isQuorateError } from '../../src/errors.js'

const bin = linkedBin('quorate-sim')
test.after(() => { bin.cleanup() })

function parse (argv: readonly string[]): unknown {
  return parseCommandLine(SIM_CLI, argv, interpretSimArgs)
}

test('quorate-sim --help and --version exit 0 without running anything', () => {
  const help = run(bin.path, ['--help'])
  assert.is(help.status, 0, help.stderr)
  assert.match(help.stdout, /^Usage: quorate-sim/)
  assert.not.match(help.stdout, /sim: \d+ seeds/)
  const v = run(bin.path, ['--version'])
  assert.is(v.status, 0, v.stderr)
  assert.is(v.stdout.trim(), `quorate-sim ${version}`)
})

test('quorate-sim exits 2 with the usage on --sedes 5, --seeds=abc, a stray argument or two modes', () => {
  for (const args of [['--sedes', '5'], ['--seeds=abc'], ['--seeds', '0'], ['5'], ['--seeds', '2', '--seed', '3'], ['--mutant', 'nope'], ['--figure16', '--nodes', '3']]) {
    const r = run(bin.path, args)
    assert.is(r.status, 2, `${JSON.stringify(args)}: ${r.stderr}`)
    assert.match(r.stderr, /Usage: quorate-sim/)
    assert.not.match(r.stdout, /sim: \d+ seeds/, 'no default run')
  }
})

test('quorate-sim --seeds=2 and --seeds 2 run the same two seeds', () => {
  const a = run(bin.path, ['--seeds=2'])
  const b = run(bin.path, ['--seeds', '2'])
  assert.is(a.status, 0, a.stderr)
  const last = (out: string): string => out.trim().split('\n').at(-1) ?? ''
  assert.match(last(a.stdout), /^sim: 2 seeds, 0 violations, 0 liveness failures, trace [0-9a-f]+$/)
  assert.is(last(b.stdout), last(a.stdout))
})

test('quorate-sim --workload router runs every shipped machine on one router, and differs from the kv run', () => {
  const kv = run(bin.path, ['--seeds', '2'])
  const routed = run(bin.path, ['--seeds', '2', '--workload', 'router'])
  assert.is(routed.status, 0, routed.stderr)
  const last = (out: string): string => out.trim().split('\n').at(-1) ?? ''
  assert.match(last(routed.stdout), /^sim: 2 seeds, 0 violations, 0 liveness failures, trace [0-9a-f]+$/)
  assert.is.not(last(routed.stdout), last(kv.stdout), 'another workload, another trace')
})

test('the argument interpreter: defaults, --from, --nodes, the figure-16 output default', () => {
  assert.equal(parse([]), { kind: 'run', args: { mode: 'seeds', first: 1, count: 100, run: { nodes: undefined, workload: 'kv' } } })
  assert.equal(parse(['--seeds', '5', '--from=7', '--nodes', '5']), { kind: 'run', args: { mode: 'seeds', first: 7, count: 5, run: { nodes: 5, workload: 'kv' } } })
  assert.equal(parse(['--seeds', '5', '--workload', 'router']), { kind: 'run', args: { mode: 'seeds', first: 1, count: 5, run: { nodes: undefined, workload: 'router' } } })
  assert.throws(() => parse(['--seeds', '5', '--workload', 'rooter']), (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID') && /--workload must be one of kv, router, level, coordinator/.test((err as Error).message))
  assert.throws(() => parse(['--mutants', '--workload', 'router']), (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID') && /--workload does not apply/.test((err as Error).message))
  assert.equal(parse(['--figure16']), { kind: 'run', args: { mode: 'figure16', trials: 1000, seed: 1, out: DEFAULT_FIGURE16_OUT } })
  assert.equal(parse(['--mutant', 'staleReads', '--max-seeds', '3']), { kind: 'run', args: { mode: 'mutants', names: ['staleReads'], maxSeeds: 3, first: 1, nodes: undefined } })
  assert.throws(() => parse(['--seed', '1', '--faults', '{not json']), (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID') && /--faults/.test((err as Error).message))
})

test('quorate-sim --figure16 --out writes the results where it is told', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-fig16-'))
  try {
    const out = join(dir, 'nested', 'f16.json')
    const r = run(bin.path, ['--figure16', '--trials', '2', '--out', out], dir)
    assert.is(r.status, 0, r.stderr)
    const result = JSON.parse(readFileSync(out, 'utf8')) as { trialsPerLine?: number }
    assert.is(result.trialsPerLine, 2)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()

/**
 * scripts/charts.mjs (`npm run charts`): the committed docs/*.svg are what the committed
 * bench/results give (--check), a result with a recorded CDF is drawn solid and one with only
 * summary quantiles dashed, and a changed result makes --check fail.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const root = new URL('../../../', import.meta.url).pathname
const script = join(root, 'scripts', 'charts.mjs')
const run = promisify(execFile)

interface Charts { figure16Chart: (result: unknown, preVote: boolean) => string, CHARTS: Record<string, unknown> }
const charts = await import(script) as Charts

function figure16Result (withCdf: boolean): unknown {
  const line = (low: number, high: number, preVote: boolean): Record<string, unknown> => ({
    label: `${low}-${high}`, low, high, heartbeatMs: 75, preVote, trials: 10, median: 200, mean: 210, p99: 400, max: 450, min: 120, over10s: 0,
    ...(withCdf ? { cdf: [[120, 0.05], [200, 0.5], [400, 0.99], [450, 1]] } : {})
  })
  return { seed: 1, trialsPerLine: 10, latencyMs: { min: 7, max: 8 }, lines: [line(150, 300, true), line(150, 200, true), line(150, 300, false)] }
}

test('the committed SVGs are up to date with bench/results (npm run charts regenerates them)', async () => {
  const { stdout } = await run(process.execPath, [script, '--check'], { cwd: root })
  assert.not.match(stdout, /stale/)
})

test('one path per line of the chosen PreVote setting; solid with a recorded CDF, dashed without', () => {
  const solid = charts.figure16Chart(figure16Result(true), true)
  const paths = [...solid.matchAll(/<path [^>]*>/g)].map((m) => m[0])
  assert.is(paths.length, 2)
  assert.ok(paths.every((p) => !p.includes('stroke-dasharray')))
  assert.match(solid, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  assert.ok(solid.trimEnd().endsWith('</svg>'))
  const dashed = charts.figure16Chart(figure16Result(false), true)
  assert.ok([...dashed.matchAll(/<path [^>]*>/g)].every((m) => m[0].includes('stroke-dasharray')))
  assert.match(dashed, /only min, median, p99 and max were recorded/)
  assert.is(charts.figure16Chart(figure16Result(true), true), solid, 'the same input draws the same bytes')
})

test('--check fails once a result changes under its chart', async () => {
  const results = mkdtempSync(join(tmpdir(), 'quorate-charts-results-'))
  const out = mkdtempSync(join(tmpdir(), 'quorate-charts-out-'))
  try {
    for (const f of ['figure16.json', 'peers-runs.json']) copyFileSync(join(root, 'bench', 'results', f), join(results, f))
    await run(process.execPath, [script, '--results', results, '--out', out])
    for (const name of Object.keys(charts.CHARTS)) assert.ok(readFileSync(join(out, name), 'utf8').includes('<svg'), name)
    await run(process.execPath, [script, '--check', '--results', results, '--out', out])
    const peers = JSON.parse(readFileSync(join(results, 'peers-runs.json'), 'utf8')) as { systems: { quorate: { runs: Array<Array<{ commitsPerSec: number }>> } } }
    for (const r of peers.systems.quorate.runs.flat()) r.commitsPerSec *= 2
    writeFileSync(join(results, 'peers-runs.json'), JSON.stringify(peers))
    const failed = await run(process.execPath, [script, '--check', '--results', results, '--out', out]).then(() => null, (err: { code: number, stdout: string }) => err)
    assert.ok(failed !== null && failed.code === 1, 'exit 1')
    assert.match(failed.stdout, /stale .*peers-throughput\.svg/)
  } finally {
    rmSync(results, { recursive: true, force: true })
    rmSync(out, { recursive: true, force: true })
  }
})

test.run()

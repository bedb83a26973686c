/**
 * bench/ha-b2.ts end to end in a tiny mode: real node processes with the graph and the level
 * machine (node-process.ts `machine` option), the HA client, 300 ms windows, one run, no etcd.
 * Checks only that the result file is valid JSON with the expected fields and that the emit
 * run's dedup check passed — never a timing. Bounded: the run's process group is killed after
 * 120 s.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { RESULTS_DIR, REPO_ROOT } from '../../bench/measure.js'
import { HA_TARGETS } from '../../bench/ha-plan.js'
import type { HaResult } from '../../bench/ha-report.js'

const script = join(REPO_ROOT, 'dist/bench/ha-b2.js')
const LIMIT_MS = 120_000

/**
 * Runs ha-b2.js in its own process group; past LIMIT_MS the whole group (the script, its node
 * processes and its client) is killed, so a hung run fails the test and leaves nothing behind.
 */
async function run (args: string[]): Promise<{ status: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [script, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += String(d) })
  child.stderr.on('data', (d) => { stderr += String(d) })
  const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL') } catch {} }, LIMIT_MS)
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve))
  clearTimeout(timer)
  return { status, stdout, stderr }
}

test('a tiny bench:ha run of an emit and a level scenario writes a result with every field the report reads', async () => {
  const out = `ha-b2-test-${process.pid}`
  const file = join(RESULTS_DIR, `${out}.json`)
  try {
    const r = await run(['--only', 'events-c1,level-c1', '--runs', '1', '--warmup-ms', '100', '--measure-ms', '300', '--out', out])
    assert.is(r.status, 0, `${r.stdout}\n${r.stderr}`)
    const result = JSON.parse(readFileSync(file, 'utf8')) as HaResult
    assert.is(result.runs, 1)
    assert.is(result.quick, false)
    assert.equal(Object.keys(result.scenarios), ['level-c1', 'events-c1'], 'in plan order')
    for (const s of Object.values(result.scenarios)) {
      assert.is(s.runs.length, 1, s.key)
      const row = s.runs[0]!
      assert.ok(row.commits > 0, `${s.key} committed something`)
      assert.ok(row.latency.p50Us > 0 && row.latency.p99Us >= row.latency.p50Us, s.key)
      assert.is(typeof row.loadAverage1m, 'number')
      assert.is(s.summary.commitsPerSec.n, 1)
      assert.is(row.nodes?.length, 3)
      assert.is(row.nodes?.filter((n) => n.role === 'leader').length, 1)
    }
    assert.is(result.emitChecks.length, 1)
    assert.ok(result.emitChecks[0]!.ok, JSON.stringify(result.emitChecks[0]))
    assert.ok(result.emitChecks[0]!.storedAcks > 0)
    assert.is(result.etcd.available, false, 'etcd was not selected')
    assert.equal(result.ratios, {}, 'no etcd, no ratios')
    assert.is(result.targets.length, HA_TARGETS.length)
    assert.ok(result.targets.every((t) => ['met', 'missed', 'not measured'].includes(t.status)))
    assert.is(result.targets.find((t) => t.scenario === 'graph-c1')!.status, 'not measured')
    assert.equal(result.failures, [])
    assert.ok(result.loadAverage1m.max >= result.loadAverage1m.min)
  } finally {
    rmSync(file, { force: true })
  }
  assert.not.ok(existsSync(file))
})

test('bench:ha exits 2 on an unknown option or scenario, before starting anything', async () => {
  for (const args of [['--runs'], ['--fast'], ['--only', 'events-c2'], ['--runs', '0']]) {
    const r = await run(args)
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, /bench:ha: /)
  }
})

test.run()

/**
 * The simulator's progress reporter (src/testing/sim/progress.ts) on a fake clock: ten plain
 * lines off a terminal, an in-place line at most every TTY_EVERY_MS on one, and an estimate
 * of the time left from the mean time per item so far.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RunProgress, TTY_EVERY_MS, formatDuration, progressLine } from '../../src/testing/sim/progress.js'
import { figure16TrialCount } from '../../src/testing/sim/figure16.js'

test('the estimate is the mean time per item so far times the items left', () => {
  assert.is(progressLine('seeds', 25, 100, 10_000), 'sim: 25/100 seeds (25%), 10 s elapsed, about 30 s left')
  assert.is(progressLine('seeds', 0, 100, 500), 'sim: 0/100 seeds (0%), 1 s elapsed, estimating the time left')
  assert.is(progressLine('trials', 7, 7, 3_000), 'sim: 7/7 trials (100%), 3 s elapsed, done')
})

test('durations read as seconds, minutes and hours', () => {
  assert.is(formatDuration(12_400), '12 s')
  assert.is(formatDuration(185_000), '3 min 05 s')
  assert.is(formatDuration(3_720_000), '1 h 02 min')
})

test('off a terminal, a run of any length prints one line per tenth', () => {
  for (const total of [3, 10, 1000]) {
    const out: string[] = []
    let now = 0
    const p = new RunProgress({ unit: 'seeds', total, tty: false, write: (t) => { out.push(t) }, now: () => now })
    for (let i = 1; i <= total; i++) { now += 100; p.update(i) }
    p.finish()
    assert.ok(out.length <= 10 && out.length >= Math.min(total, 10), `${total}: ${out.length} lines`)
    assert.ok(out.every((l) => l.endsWith('\n') && !l.includes('\r')))
    assert.match(out.at(-1)!, `${total}/${total} seeds (100%)`)
  }
})

test('on a terminal, the line is rewritten in place at most every TTY_EVERY_MS and ends with a newline', () => {
  const out: string[] = []
  let now = 0
  const p = new RunProgress({ unit: 'seeds', total: 100, tty: true, write: (t) => { out.push(t) }, now: () => now })
  for (let i = 1; i <= 100; i++) { now += TTY_EVERY_MS / 5; p.update(i) }
  p.finish()
  const rewrites = out.filter((t) => t.startsWith('\r'))
  assert.ok(rewrites.length >= 19 && rewrites.length <= 21, `${rewrites.length} rewrites over 20 intervals`)
  assert.match(rewrites.at(-1)!, '100/100 seeds (100%)')
  assert.is(out.at(-1), '\n')
})

test('figure16TrialCount counts what runFigure16 runs: each line capped at its maxTrials, times both PreVote settings', () => {
  assert.is(figure16TrialCount({ trials: 1, ranges: [{ low: 150, high: 300, heartbeatMs: 75 }], preVote: [true] }), 1)
  assert.is(figure16TrialCount({ trials: 10, ranges: [{ low: 150, high: 300, heartbeatMs: 75 }, { low: 150, high: 150, heartbeatMs: 75, maxTrials: 4 }] }), 28)
})

test.run()

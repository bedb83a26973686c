/**
 * The monitor API and its built-in checks, on the virtual clock where the check is a plain
 * function: the first result and every change are reported as 'resource-health' events (not
 * every run), failureThreshold consecutive failures make a resource unhealthy, a throwing or
 * hanging check is a failed run, and processAlive, diskSpace and pathWritable judge real
 * processes and directories.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Monitor, diskSpace, parseStartTime, pathWritable, processAlive } from '../../src/agent/index.js'
import type { HaEvent, Health } from '../../src/agent/index.js'
import { ManualClock } from '../../src/testing/manual-clock.js'

/** Lets the monitor's promise chains run between virtual-clock steps. */
const settle = async (): Promise<void> => { for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve)) }

test('a monitor reports the first result and each change, after failureThreshold consecutive failures', async () => {
  const clock = new ManualClock(0)
  const results: Array<Health | 'throw' | 'hang'> = [
    { healthy: true, detail: 'ok' }, { healthy: true, detail: 'ok' },
    { healthy: false, detail: 'bad' }, { healthy: true, detail: 'ok' }, // one failure: below the threshold
    'throw', 'hang', // two failed runs: unhealthy
    { healthy: false, detail: 'bad' }, { healthy: true, detail: 'back' }
  ]
  const events: HaEvent[] = []
  const m = new Monitor({
    node: 'w1', resource: 'disk-1', intervalMs: 100, timeoutMs: 50, failureThreshold: 2, clock, now: () => clock.now(),
    check: async () => {
      const r = results.shift() ?? { healthy: true, detail: 'ok' }
      if (r === 'throw') throw new Error('probe broke')
      if (r === 'hang') return await new Promise<Health>(() => {})
      return r
    },
    onEvent: (e) => { events.push(e) }
  })
  await m.open()
  for (let i = 0; i < 40; i++) { await settle(); clock.advance(25) }
  await m.close()
  assert.equal(events.map((e) => e.type === 'resource-health' && [e.healthy, e.detail]), [[true, 'ok'], [false, 'check timed out after 50 ms'], [true, 'back']])
  assert.ok(events.every((e) => e.type === 'resource-health' && e.node === 'w1' && e.resource === 'disk-1'))
})

test('processAlive follows a real process and refuses a pid reused by another process start time', async () => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  await new Promise((resolve) => child.once('spawn', resolve))
  const pid = child.pid!
  assert.is((await processAlive(pid)(new AbortController().signal)).healthy, true)
  assert.is((await processAlive(pid, '1')(new AbortController().signal)).healthy, false, 'another start time: not the same process')
  child.kill('SIGKILL')
  await new Promise((resolve) => child.once('exit', resolve))
  assert.is((await processAlive(pid)(new AbortController().signal)).healthy, false)
  assert.is(parseStartTime('42 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 123456 19'), '123456', 'a command name with ") " inside')
})

test('diskSpace and pathWritable judge real directories', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-monitor-'))
  const signal = new AbortController().signal
  try {
    assert.is((await diskSpace(dir, { minFreeBytes: 1 })(signal)).healthy, true)
    assert.is((await diskSpace(dir, { minFreeBytes: Number.MAX_SAFE_INTEGER })(signal)).healthy, false)
    assert.is((await pathWritable(dir)(signal)).healthy, true)
    // A path that is not a writable directory (a plain file) fails the check, for root too.
    await writeFile(join(dir, 'plain'), '')
    let failed = false
    try { await pathWritable(join(dir, 'plain'))(signal) } catch { failed = true }
    assert.ok(failed, 'a path that is not a directory fails the check')
    assert.throws(() => diskSpace(dir, { minFreeBytez: 1 } as never), /did you mean "minFreeBytes"/)
    assert.throws(() => new Monitor({ node: 'w1', resource: 'r', check: () => ({ healthy: true, detail: '' }), intervalMS: 5 } as never), /did you mean "intervalMs"/)
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test.run()

/**
 * `npm start` (dist/demo/demo.js): Ctrl-C (SIGINT, once or twice) and a reader that goes away (`npm start | head`)
 * stop every node process and remove the temporary directory; a missing openssl is explained;
 * the options are listed and validated. The full run (the HA story, then the Raft checks) is
 * test/cluster/demo-ha.test.ts.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { processAlive } from './process-helpers.js'
import { nodePids, runDemo, storageDir } from './demo-helpers.js'
import type { DemoRun } from './demo-helpers.js'
import { parseDemoArgs } from '../../demo/args.js'
import { isQuorateError } from '../../src/errors.js'

test('SIGINT stops every node process, removes the temporary directory and exits 130', async () => {
  let sent = false
  const run = await runDemo(['--duration', '30', '--insecure'], (line, pid) => {
    if (!sent && / ready$/.test(line)) {
      sent = true
      process.kill(pid, 'SIGINT')
    }
  })
  assert.ok(sent, run.stdout + run.stderr)
  assert.equal(run.code, 130, run.stdout + run.stderr)
  const pids = nodePids(run.stdout)
  assert.equal(pids.length, 3)
  for (const pid of pids) assert.not.ok(processAlive(pid), `node process ${pid} outlived the demo`)
  assert.not.ok(existsSync(storageDir(run.stdout)), 'the temporary directory was removed')
})

test('a second SIGINT exits at once and still kills every node process and removes the temporary directory', async () => {
  let sent = false
  const run = await runDemo(['--duration', '30', '--insecure'], (line, pid) => {
    if (!sent && / ready$/.test(line)) {
      sent = true
      process.kill(pid, 'SIGINT')
      process.kill(pid, 'SIGINT')
    }
  })
  assert.ok(sent, run.stdout + run.stderr)
  assert.equal(run.code, 130, run.stdout + run.stderr)
  const pids = nodePids(run.stdout)
  assert.equal(pids.length, 3)
  // SIGKILLed by the exit hook: give the kernel a moment to reap them.
  for (let i = 0; i < 50 && pids.some(processAlive); i++) await new Promise((resolve) => setTimeout(resolve, 20))
  for (const pid of pids) assert.not.ok(processAlive(pid), `node process ${pid} outlived the demo`)
  assert.not.ok(existsSync(storageDir(run.stdout)), 'the temporary directory was removed')
})

test('a closed stdout (npm start | head) stops the demo without an EPIPE crash, kills the nodes, removes the directory, exits 0', async () => {
  let closed = false
  let seen = ''
  const run = await runDemo(['--duration', '30', '--insecure'], (line, _pid, stdout) => {
    seen += line + '\n'
    if (!closed && / ready$/.test(line)) {
      closed = true
      stdout.destroy()
    }
  })
  assert.ok(closed, seen + run.stderr)
  assert.equal(run.code, 0, seen + run.stderr)
  assert.not.match(run.stderr, /EPIPE|Error/, run.stderr)
  const pids = nodePids(seen)
  assert.equal(pids.length, 3)
  for (const pid of pids) assert.not.ok(processAlive(pid), `node process ${pid} outlived the demo`)
  assert.not.ok(existsSync(storageDir(seen)), 'the temporary directory was removed')
})

test('without openssl on PATH the demo says to install it or use --insecure / --in-process, exits 1 and leaves no directory', async () => {
  const run = await runDemo(['--duration', '4'], () => {}, { ...process.env, PATH: '/nonexistent-quorate-path' })
  assert.equal(run.code, 1, run.stdout + run.stderr)
  assert.match(run.stderr, /openssl was not found on PATH/)
  assert.match(run.stderr, /apt-get install openssl/)
  assert.match(run.stderr, /--insecure/)
  assert.match(run.stderr, /--in-process/)
  assert.not.match(run.stdout, /storage and configs in/, 'nothing was started')
})

test('reruns on one --dir write keys of their own, so each run checks its own writes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-demo-test-'))
  try {
    const first = await runDemo(['--duration', '4', '--in-process', '--dir', dir])
    const second = await runDemo(['--duration', '4', '--in-process', '--dir', dir])
    for (const run of [first, second]) {
      assert.equal(run.code, 0, run.stdout + run.stderr)
      assert.match(run.stdout, new RegExp(`data kept in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
    }
    const ids = [first, second].map((run) => /this run's keys start with demo-([0-9a-f]+)-/.exec(run.stdout)?.[1])
    assert.ok(ids[0] !== undefined && ids[1] !== undefined, first.stdout)
    assert.is.not(ids[0], ids[1])
    // The second run's read covers exactly the writes it acknowledged, not the first run's too.
    const acked = (run: DemoRun): number => Number(/workload stopped: (\d+) writes acknowledged/.exec(run.stdout)?.[1])
    const read = (run: DemoRun): number => Number(/linearizable read of all (\d+) acknowledged keys/.exec(run.stdout)?.[1])
    assert.equal(read(second), acked(second))
    const keys = Number(/agree at applied index \d+: (\d+) keys/.exec(second.stdout)?.[1])
    assert.ok(keys >= acked(first) + acked(second), `the store holds both runs' keys (${keys})`)
    assert.ok(existsSync(dir), 'a --dir is kept')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('--help lists the options and exits 0; an unknown option exits 2 with the usage', async () => {
  const help = await runDemo(['--help'])
  assert.equal(help.code, 0)
  for (const flag of ['--nodes N', '--duration S', '--dir PATH', '--in-process', '--insecure']) assert.ok(help.stdout.includes(flag), flag)
  const bad = await runDemo(['--nodes', '2'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--nodes must be an integer >= 3/)
  assert.match(bad.stderr, /Usage: npm start/)
})

test('the demo parses its options strictly: --tick-ms=20 and --tick-ms 20 agree, a misspelt option is a usage error', () => {
  assert.equal(parseDemoArgs(['--tick-ms=20', '--in-process']), parseDemoArgs(['--tick-ms', '20', '--in-process']))
  assert.equal(parseDemoArgs(['--version']), { kind: 'version' })
  for (const argv of [['--nodse', '3'], ['--duration=abc'], ['--in-process', '--insecure'], ['extra']]) {
    assert.throws(() => parseDemoArgs(argv), (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID'), JSON.stringify(argv))
  }
})

test.run()

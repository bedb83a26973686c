/**
 * `npm start` (dist/demo/demo.js) end to end: a short run exits 0 after the kill, the
 * re-election and the checks; Ctrl-C (SIGINT) stops every node process and removes the
 * temporary directory; the options are listed and validated.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { processAlive } from './process-helpers.js'
import { parseDemoArgs } from '../../demo/args.js'
import { isQuorateError } from '../../src/errors.js'

const DEMO = fileURLToPath(new URL('../../demo/demo.js', import.meta.url))

interface DemoRun { readonly code: number | null, readonly stdout: string, readonly stderr: string }

/** Runs the demo; `onLine` may act on each stdout line (for example send a signal). */
async function runDemo (args: string[], onLine: (line: string, pid: number) => void = () => {}): Promise<DemoRun> {
  const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let partial = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
    partial += d
    let nl: number
    while ((nl = partial.indexOf('\n')) >= 0) {
      onLine(partial.slice(0, nl), child.pid!)
      partial = partial.slice(nl + 1)
    }
  })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const code = await new Promise<number | null>((resolve) => { child.once('exit', (c) => { resolve(c) }) })
  return { code, stdout, stderr }
}

function nodePids (stdout: string): number[] {
  return [...new Set([...stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1])))]
}

function storageDir (stdout: string): string {
  const m = /storage and configs in (\S+)/.exec(stdout)
  assert.ok(m !== null, 'the demo names its directory')
  return m[1]!
}

test('the demo kills the leader, sees a new one elected, verifies every write and exits 0', async () => {
  const run = await runDemo(['--duration', '4'])
  assert.equal(run.code, 0, run.stdout + run.stderr)
  assert.match(run.stdout, /SIGKILL leader n\d \(pid \d+\)/)
  assert.match(run.stdout, /n\d is leader \(term \d+, \d+ ms after n\d was killed\)/)
  assert.match(run.stdout, /restarted n\d \(pid \d+\) from its stored log/)
  assert.match(run.stdout, /linearizable read of all \d+ acknowledged keys: every value present/)
  assert.match(run.stdout, /all 3 replicas agree at applied index \d+/)
  assert.match(run.stdout, /Timeline \(elapsed ms: event\)\n\s+\d+: starting 3 node processes/)
  for (const pid of nodePids(run.stdout)) assert.not.ok(processAlive(pid), `node process ${pid} outlived the demo`)
  assert.not.ok(existsSync(storageDir(run.stdout)), 'the temporary directory was removed')
})

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

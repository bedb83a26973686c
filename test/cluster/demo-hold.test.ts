/**
 * `npm start -- --hold` (demo/demo.ts, demo/watch.ts) with the real `quorate` bin: the demo
 * prints how to watch it before the story, and after its summary keeps the cluster up; the
 * printed `quorate status` command, run as printed, shows the 3 station members with one
 * leader and the coordinator, `--json` the same as data, and the printed dashboard URL serves
 * the page; SIGINT then ends the hold with the run's exit code (0), and no node, agent or
 * service outlives it, nor the temporary directory (it holds the CA key).
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import * as https from 'node:https'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { hashClientToken } from '../../src/cluster/auth.js'
import { nodeTlsOptions } from '../../src/cluster/stream-connection.js'
import type { ClusterView } from '../../src/cluster/views/view.js'
import { noneAlive, nodePids, runDemo, storageDir } from './demo-helpers.js'

const QUORATE_BIN = fileURLToPath(new URL('../../src/cluster/cli/quorate.js', import.meta.url))
/** Should the demo never reach its hold (or never leave it), SIGTERM it after this long. */
const GIVE_UP_MS = 120_000

interface Seen {
  readonly table: string
  readonly json: ClusterView
  readonly page: { readonly status: number, readonly type: string }
  readonly token: string
  readonly urlToken: string
  readonly config: string
}

/** What a person would do during the hold: paste the command (with and without --json), open the URL. */
async function watchAsPrinted (stdout: string): Promise<Seen> {
  const command = /^ {2}watch it: +npx quorate (.+)$/m.exec(stdout)
  const url = /^ {2}dashboard: +(\S+)/m.exec(stdout)
  assert.ok(command !== null && url !== null, `the demo prints the command and the URL:\n${stdout}`)
  assert.not.match(command[1]!, /['"\\]/, 'no shell quoting needed on this machine, so splitting on spaces is exact')
  const args = command[1]!.split(' ')
  const run = promisify(execFile)
  // A member whose /health takes over 500 ms on a loaded machine shows as down for one
  // call: ask again, as a person would, before judging the table.
  let table = await run(process.execPath, [QUORATE_BIN, ...args], { timeout: 20_000 })
  for (let i = 0; i < 4 && / down /.test(table.stdout); i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000))
    table = await run(process.execPath, [QUORATE_BIN, ...args], { timeout: 20_000 })
  }
  const json = await run(process.execPath, [QUORATE_BIN, ...args, '--json'], { timeout: 20_000 })
  const dashboard = new URL(url[1]!)
  const ca = readFileSync(args[args.indexOf('--ca') + 1]!, 'utf8')
  const page = await new Promise<Seen['page']>((resolve, reject) => {
    https.get({ host: dashboard.hostname, port: dashboard.port, path: dashboard.pathname, ...nodeTlsOptions({ ca } as never, null), agent: false, timeout: 10_000 }, (res) => {
      res.resume()
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']) }) })
    }).on('error', reject)
  })
  const config = readFileSync(join(storageDir(stdout), 'n1.json'), 'utf8')
  return { config, table: table.stdout, json: JSON.parse(json.stdout) as ClusterView, page, token: args[args.indexOf('--token') + 1]!, urlToken: dashboard.hash.replace(/^#token=/, '') }
}

test('--hold: the printed quorate status shows 3 members, one leader and the coordinator; SIGINT then exits 0 leaving no process and no directory', async () => {
  let out = ''
  let giveUp: NodeJS.Timeout | undefined
  let watched = null as Promise<Seen> | null
  const run = await runDemo(['--duration', '4', '--hold'], (line, pid) => {
    out += line + '\n'
    giveUp ??= setTimeout(() => { process.kill(pid, 'SIGTERM') }, GIVE_UP_MS)
    if (watched === null && /^Ctrl-C \(SIGINT\) or SIGTERM stops everything/.test(line)) {
      watched = watchAsPrinted(out)
      // Whatever the checks find, end the hold: the assertions come after the demo exited.
      void watched.finally(() => { process.kill(pid, 'SIGINT') }).catch(() => {})
    }
  })
  clearTimeout(giveUp)
  assert.ok(watched !== null, `the demo held:\n${run.stdout}${run.stderr}`)
  const seen = await watched

  const rows = seen.table.split('\n').filter((l) => /^n\d\s/.test(l))
  assert.is(rows.length, 3, seen.table)
  assert.is(rows.filter((r) => /\sleader\s/.test(r)).length, 1, seen.table)
  assert.ok(rows.every((r) => /\sup\s/.test(r)), seen.table)
  assert.match(seen.table, /^coordinator: n\d, fencing token \d+, \d+ decisions$/m)
  assert.match(seen.table, /counter-1 \(running\)/)

  assert.is(seen.json.members.length, 3)
  assert.is(seen.json.members.filter((m) => m.up && m.role === 'leader').length, 1)
  assert.ok(seen.json.coordinator !== null && /^n\d$/.test(seen.json.coordinator.holder) && seen.json.coordinator.token > 0, JSON.stringify(seen.json.coordinator))
  assert.equal(seen.json.graph?.instances.map((i) => i.id).sort(), ['counter-1', 'counter-2', 'ticker-1'])

  assert.is(seen.page.status, 200)
  assert.match(seen.page.type, /^text\/html/)
  assert.is(seen.urlToken, seen.token, 'the dashboard URL carries the same token in its fragment')
  assert.ok(seen.config.includes(hashClientToken(seen.token)) && !seen.config.includes(seen.token), 'the node config holds the token\'s hash, not the token')
  assert.match(seen.config, /"dashboard": true/)

  // The watch lines come before the story, the report once and before the hold.
  const stdout = run.stdout
  assert.ok(stdout.indexOf('watch it:') < stdout.indexOf('services placed by the coordinator'), stdout)
  assert.is(stdout.split('Summary (every check passed)').length, 2, `one summary:\n${stdout}`)
  assert.ok(stdout.indexOf('Summary (every check passed)') < stdout.indexOf('Holding (--hold)'), stdout)
  assert.is(run.code, 0, stdout + run.stderr)
  await noneAlive(nodePids(stdout))
  assert.not.ok(existsSync(storageDir(stdout)), 'the temporary directory (with the CA key) was removed')
})

test.run()

/**
 * Supervision on real processes: a service SIGKILLed is reported and restarted by the local
 * policy; a crash loop backs off and gives up after maxRestarts; readiness that never comes
 * fails the instance; a failing liveness check restarts it; an agent restarted (in process, and
 * as a SIGKILLed OS process) re-adopts its running services with 0 restarts; commands with an
 * old token are refused with LEASE_FENCED, the highest token survives the agent's restart, and
 * a replayed command id answers its first reply. Events reach a real EventsQueue.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeHaEvent, RestartBackoff } from '../../src/agent/index.js'
import type { AgentCommand, HaEvent } from '../../src/agent/index.js'
import { EventsQueue, GraphStateMachine } from '../../src/graph/index.js'
import { QuorateError } from '../../src/errors.js'
import { schema } from '../graph/helpers.js'
import { AgentFixture, LEASE, alive, nodeService, sleep, start, stop } from './helpers.js'

const SLEEPER = 'setInterval(() => {}, 1000)'

test('RestartBackoff doubles from initialBackoffMs up to maxBackoffMs, resets after a stable run and gives up after maxRestarts', () => {
  const b = new RestartBackoff({ initialBackoffMs: 100, maxBackoffMs: 500, stableAfterMs: 1000, maxRestarts: 6 })
  assert.equal([1, 2, 3, 4].map(() => b.onExit(1, null, 10)), [100, 200, 400, 500])
  assert.is(b.onExit(null, 'SIGKILL', 5000), 100, 'a stable run starts the backoff over')
  assert.equal([b.onExit(1, null, 1), b.onExit(1, null, 1), b.onExit(1, null, 1), b.onExit(1, null, 1), b.onExit(1, null, 1), b.onExit(1, null, 1)], [200, 400, 500, 500, 500, undefined])
  assert.is(new RestartBackoff().onExit(0, null, 1), undefined, "on-failure (the default) does not restart a clean exit")
  assert.is(new RestartBackoff({ mode: 'always' }).onExit(0, null, 1), 100)
  assert.is(new RestartBackoff({ mode: 'never' }).onExit(1, null, 1), undefined)
})

test('a service killed with SIGKILL is reported and restarted by the local policy, through a real events queue', async () => {
  const machine = new GraphStateMachine(schema, { events: { maxQueuedEvents: 1000 } })
  let attempts = 0
  const queue = new EventsQueue({
    machine,
    // Every third attempt fails before applying: the agent's events still arrive, once each.
    submit: async (command) => {
      if (++attempts % 3 === 0) throw new QuorateError('RAFT_NOT_LEADER', 'not now')
      return machine.apply(command, machine.appliedIndex + 1)
    },
    backoffInitialMs: 1,
    backoffMaxMs: 5
  })
  const f = await AgentFixture.create({ events: queue })
  try {
    const reply = await f.ok(start('web', nodeService(SLEEPER, { restart: { initialBackoffMs: 20 } })))
    const pid = reply.instances[0]!.pid!
    process.kill(pid, 'SIGKILL')
    const exit = await f.waitFor((e) => e.type === 'instance-exited')
    assert.equal({ exitCode: (exit as { exitCode: unknown }).exitCode, signal: (exit as { signal: unknown }).signal }, { exitCode: null, signal: 'SIGKILL' })
    const restarted = await f.waitFor((e) => e.type === 'instance-started', 5000, f.events.indexOf(exit))
    assert.is.not((restarted as { pid: number }).pid, pid)
    assert.is(f.agent.restarts('web'), 1)
    for (let i = 0; i < 200 && machine.events.list(0).length < f.events.length; i++) await sleep(10)
    const queued = machine.events.list(0).map((e) => decodeHaEvent(e.payload) as HaEvent)
    assert.equal(queued.map((e) => e.type).sort(), f.events.map((e) => e.type).sort(), 'every event is queued exactly once')
  } finally { await f.cleanup() }
})

test('a crash loop backs off and gives up after maxRestarts, leaving the instance failed', async () => {
  const f = await AgentFixture.create()
  try {
    await f.ok(start('loop', nodeService('process.exit(3)', { restart: { initialBackoffMs: 5, maxBackoffMs: 40, maxRestarts: 4 } })))
    for (let i = 0; i < 500 && f.agent.status()[0]?.state !== 'failed'; i++) await sleep(10)
    assert.is(f.agent.status()[0]!.state, 'failed')
    assert.is(f.count('instance-started'), 5, 'the first start and 4 restarts')
    assert.is(f.count('instance-exited'), 5)
    assert.ok(f.events.filter((e) => e.type === 'instance-exited').every((e) => (e as { exitCode: number }).exitCode === 3))
  } finally { await f.cleanup() }
})

test('a stop racing a crash loop\'s restarts leaves no process of the instance behind', async () => {
  const f = await AgentFixture.create()
  try {
    for (let round = 0; round < 5; round++) {
      // Exits within 10 ms, restarted after 1 to 5 ms: stops land before, during and after spawns.
      await f.ok(start('racy', { command: 'sh', args: ['-c', 'sleep 0.00$((RANDOM % 9)); exit 1'], restart: { initialBackoffMs: 1 + round, maxBackoffMs: 5, maxRestarts: 1000 } }))
      await sleep(30 + 7 * round)
      await f.ok(stop('racy'))
    }
    const pids = f.events.filter((e) => e.type === 'instance-started').map((e) => (e as { pid: number }).pid)
    assert.ok(pids.length > 5, `restarts happened (${pids.length} spawns)`)
    await sleep(50)
    assert.equal(pids.filter(alive), [], 'every spawned process is gone after the stops')
    assert.equal(f.agent.status(), [])
  } finally { await f.cleanup() }
})

test('readiness that never comes fails the instance and stops its process', async () => {
  const f = await AgentFixture.create()
  try {
    const reply = await f.ok(start('never', nodeService(SLEEPER, { readiness: { kind: 'tcp', port: 1, intervalMs: 10, timeoutMs: 200, failureThreshold: 3 } })))
    const pid = reply.instances[0]!.pid!
    const failed = await f.waitFor((e) => e.type === 'instance-check-failed')
    assert.is((failed as { check: string }).check, 'readiness')
    for (let i = 0; i < 300 && f.agent.status()[0]?.state !== 'failed'; i++) await sleep(10)
    assert.is(f.agent.status()[0]!.state, 'failed')
    assert.not.ok(alive(pid))
    assert.is(f.count('instance-ready'), 0)
    assert.is(f.count('instance-started'), 1, 'a failed readiness is not restarted locally (the coordinator decides)')
  } finally { await f.cleanup() }
})

test('a failing liveness check kills the instance and the restart policy starts it again', async () => {
  const f = await AgentFixture.create()
  try {
    // Live while the file ALIVE exists in the instance's cwd.
    const dir = await mkdtemp(join(tmpdir(), 'quorate-live-'))
    const { writeFile, unlink } = await import('node:fs/promises')
    await writeFile(join(dir, 'ALIVE'), '')
    await f.ok(start('live', nodeService(SLEEPER, {
      cwd: dir,
      stopGraceMs: 200,
      restart: { initialBackoffMs: 10 },
      liveness: { kind: 'command', command: 'test', args: ['-e', 'ALIVE'], intervalMs: 20, failureThreshold: 2 }
    })))
    await f.waitFor((e) => e.type === 'instance-ready')
    await unlink(join(dir, 'ALIVE'))
    const failed = await f.waitFor((e) => e.type === 'instance-check-failed')
    assert.is((failed as { check: string }).check, 'liveness')
    await writeFile(join(dir, 'ALIVE'), '')
    await f.waitFor((e) => e.type === 'instance-started', 5000, f.events.indexOf(failed))
    assert.is(f.agent.restarts('live'), 1)
    await rm(dir, { recursive: true, force: true })
  } finally { await f.cleanup() }
})

test('an agent closed and reopened re-adopts its running services: same pid, 0 restarts; a service that died meanwhile is restarted', async () => {
  const f = await AgentFixture.create()
  try {
    const kept = (await f.ok(start('kept', nodeService(SLEEPER)))).instances[0]!.pid!
    const lost = (await f.ok(start('lost', nodeService(SLEEPER, { restart: { initialBackoffMs: 10 } })))).instances[0]!.pid!
    await f.agent.close()
    assert.ok(alive(kept), 'close() leaves services running')
    process.kill(lost, 'SIGKILL')
    await sleep(50)
    const before = f.events.length
    await f.reopen()
    const status = new Map(f.agent.status().map((s) => [s.instance, s]))
    assert.is(status.get('kept')!.pid, kept)
    assert.is(status.get('kept')!.state, 'running')
    await f.waitFor((e) => e.type === 'instance-started' && e.instance === 'lost', 5000, before)
    await sleep(200)
    assert.is(f.count('instance-started', 'kept'), 1, 'the adopted service was not restarted')
    assert.is(f.agent.restarts('kept'), 0)
    // Stop works on an adopted process (not the agent's child).
    await f.ok(stop('kept'))
    assert.not.ok(alive(kept))
  } finally { await f.cleanup() }
})

test('an agent process killed with SIGKILL and started again finds its service running and does not restart it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-agent-proc-'))
  const main = fileURLToPath(new URL('./agent-main.js', import.meta.url))
  const launch = () => {
    const child = spawn(process.execPath, [main, dir], { stdio: ['pipe', 'pipe', 'inherit'] })
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
    const next = async (match: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
      for (;;) {
        const r = await lines.next()
        if (r.done === true) throw new Error('agent process ended')
        const m = JSON.parse(r.value) as Record<string, unknown>
        if (match(m)) return m
      }
    }
    const send = (c: AgentCommand): void => { child.stdin.write(JSON.stringify(c) + '\n') }
    return { child, next, send }
  }
  let servicePid = 0
  try {
    const a = launch()
    await a.next((m) => m.ready === true)
    a.send(start('svc', nodeService(SLEEPER)))
    const reply = (await a.next((m) => m.reply !== undefined)).reply as { instances: Array<{ pid: number }> }
    servicePid = reply.instances[0]!.pid
    a.child.kill('SIGKILL')
    await new Promise((resolve) => a.child.once('exit', resolve))
    assert.ok(alive(servicePid), 'the service outlived its agent')
    const b = launch()
    const ready = await b.next((m) => m.ready === true)
    assert.equal((ready.status as Array<{ pid: number, state: string }>).map((s) => [s.pid, s.state]), [[servicePid, 'running']])
    b.send({ kind: 'status', id: 'after', fence: { lease: LEASE, token: 1 } })
    const status = await b.next((m) => m.reply !== undefined)
    assert.equal(status.restarts, [0])
    b.send(stop('svc'))
    await b.next((m) => m.reply !== undefined)
    assert.not.ok(alive(servicePid))
    b.child.kill('SIGKILL')
  } finally {
    if (servicePid !== 0 && alive(servicePid)) process.kill(-servicePid, 'SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
})

test('a command with an older token is refused with LEASE_FENCED, also after the agent restarts; a replayed id answers its first reply', async () => {
  const f = await AgentFixture.create()
  try {
    const first = start('svc', nodeService(SLEEPER), {}, 5)
    const reply = await f.ok(first)
    const old = await f.agent.handle(stop('svc', 4))
    assert.is(old.ok, false)
    assert.is(!old.ok && old.code, 'LEASE_FENCED')
    assert.ok(alive(reply.instances[0]!.pid!), 'the refused stop did not act')
    // Replay: the first reply again, no second process.
    assert.equal(await f.agent.handle(first), reply)
    assert.is(f.count('instance-started'), 1)
    await f.agent.close()
    await f.reopen()
    assert.is(f.agent.highestToken(LEASE), 5)
    const stillOld = await f.agent.handle(stop('svc', 4))
    assert.is(!stillOld.ok && stillOld.code, 'LEASE_FENCED')
    assert.equal(await f.agent.handle(first), reply, 'remembered replies survive the restart')
    // A newer coordinator is obeyed, and the epoch file follows it.
    await f.ok(stop('svc', 6))
    const { readFile } = await import('node:fs/promises')
    assert.is((await readFile(join(f.dir, 'epochs', encodeURIComponent(LEASE)), 'utf8')).trim(), '6')
  } finally { await f.cleanup() }
})

test.run()

/**
 * The node agent on real OS processes: start, idempotent start, stop (SIGTERM, then SIGKILL
 * after the grace period, resolving only once the whole process group is gone), parameters and
 * the epoch materialised for the service, spawn failures. Bounded: every wait has a limit.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AgentFixture, LEASE, alive, nodeService, sleep, start, stop } from './helpers.js'

const SLEEPER = 'setInterval(() => {}, 1000)'

test('start spawns the service with its parameters as files and environment, and a repeated start returns the running instance', async () => {
  const f = await AgentFixture.create()
  try {
    const service = nodeService(`
      const fs = require('node:fs'), path = require('node:path')
      console.log(JSON.stringify({ env: process.env.QUORATE_PARAM_LISTEN_PORT, file: fs.readFileSync(path.join(process.env.QUORATE_PARAMS_DIR, 'listen-port'), 'utf8'), token: process.env.QUORATE_FENCE_TOKEN, epoch: fs.readFileSync(process.env.QUORATE_EPOCH_FILE, 'utf8').trim() }))
      ${SLEEPER}`, { readiness: { kind: 'stdout', pattern: '"env"', intervalMs: 20 } })
    const first = await f.ok(start('web-1', service, { 'listen-port': '8080' }, 3))
    const pid = first.instances[0]!.pid!
    assert.ok(alive(pid))
    await f.waitFor((e) => e.type === 'instance-ready')
    const line = JSON.parse((await readFile(join(f.dir, 'instances', 'web-1', 'stdout.log'), 'utf8')).trim()) as Record<string, string>
    assert.equal(line, { env: '8080', file: '8080', token: '3', epoch: '3' })
    // Same spec, same parameters (key order aside): the running instance, no second process.
    const again = await f.ok(start('web-1', { ...service }, { 'listen-port': '8080' }, 3))
    assert.is(again.instances[0]!.pid, pid)
    assert.is(f.count('instance-started'), 1)
    // Different parameters: the old process is stopped and a new one started.
    const changed = await f.ok(start('web-1', service, { 'listen-port': '9090' }, 3))
    assert.is.not(changed.instances[0]!.pid, pid)
    assert.not.ok(alive(pid))
  } finally { await f.cleanup() }
})

test('stop sends SIGTERM, and resolves once the process has exited', async () => {
  const f = await AgentFixture.create()
  try {
    const reply = await f.ok(start('svc', nodeService(SLEEPER)))
    const pid = reply.instances[0]!.pid!
    const stopped = await f.ok(stop('svc'))
    assert.is(stopped.instances[0]!.state, 'stopped')
    assert.not.ok(alive(pid))
    const exit = await f.waitFor((e) => e.type === 'instance-exited')
    assert.is((exit as { signal: string | null }).signal, 'SIGTERM')
    assert.equal(f.agent.status(), [])
  } finally { await f.cleanup() }
})

test('a service that ignores SIGTERM is killed with SIGKILL after its grace period', async () => {
  const f = await AgentFixture.create()
  try {
    const reply = await f.ok(start('stubborn', nodeService(`process.on('SIGTERM', () => console.log('ignoring')); console.log('up'); ${SLEEPER}`, { stopGraceMs: 300, readiness: { kind: 'stdout', pattern: '^up$', intervalMs: 20 } })))
    await f.waitFor((e) => e.type === 'instance-ready')
    const pid = reply.instances[0]!.pid!
    await f.ok(stop('stubborn'))
    assert.not.ok(alive(pid))
    const exit = await f.waitFor((e) => e.type === 'instance-exited')
    assert.is((exit as { signal: string | null }).signal, 'SIGKILL')
    assert.match(await readFile(join(f.dir, 'instances', 'stubborn', 'stdout.log'), 'utf8'), 'ignoring')
  } finally { await f.cleanup() }
})

test("a service's children die with it: stop kills the whole process group", async () => {
  const f = await AgentFixture.create()
  try {
    // The service spawns a grandchild that ignores SIGTERM and prints its pid.
    const source = `
      const { spawn } = require('node:child_process')
      const c = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' })
      console.log('child ' + c.pid)
      ${SLEEPER}`
    await f.ok(start('parent', nodeService(source, { stopGraceMs: 2000, readiness: { kind: 'stdout', pattern: '^child \\d+$', intervalMs: 20 } })))
    await f.waitFor((e) => e.type === 'instance-ready')
    const childPid = Number(/child (\d+)/.exec(await readFile(join(f.dir, 'instances', 'parent', 'stdout.log'), 'utf8'))![1])
    assert.ok(alive(childPid))
    await f.ok(stop('parent'))
    assert.not.ok(alive(childPid), 'the grandchild outlived the service')
  } finally { await f.cleanup() }
})

test('a command that cannot be spawned is refused with AGENT_SPAWN_FAILED and leaves nothing running', async () => {
  const f = await AgentFixture.create()
  try {
    const reply = await f.agent.handle(start('ghost', { command: '/nonexistent/quorate-no-such-binary' }))
    assert.is(reply.ok, false)
    assert.is(!reply.ok && reply.code, 'AGENT_SPAWN_FAILED')
    assert.equal(f.agent.status(), [])
  } finally { await f.cleanup() }
})

test('malformed commands are refused with AGENT_COMMAND_INVALID, never thrown', async () => {
  const f = await AgentFixture.create()
  try {
    for (const bad of [null, 42, 'start', {}, { kind: 'start', id: 'x', fence: { lease: LEASE, token: 1 } }, { kind: 'stop', id: 'y', fence: { lease: LEASE, token: 1 }, instance: 'a', extra: true },
      { kind: 'start', id: 'z', fence: { lease: LEASE, token: 1 }, instance: 'a', service: { command: 'x', readiness: { kind: 'tcp', port: 0 } }, parameters: {} }]) {
      const reply = await f.agent.handle(bad)
      assert.is(reply.ok, false)
      assert.is(!reply.ok && reply.code, 'AGENT_COMMAND_INVALID', JSON.stringify(bad))
    }
    assert.equal(f.agent.status(), [])
  } finally { await f.cleanup() }
})

test('a reply the agent cannot persist is AGENT_IO_FAILED, not remembered: the same id succeeds once the disk is writable again', async () => {
  const f = await AgentFixture.create()
  const { mkdir, rm, writeFile } = await import('node:fs/promises')
  const fence = join(f.dir, 'fence.json')
  try {
    await f.ok({ kind: 'status', id: 'io-0', fence: { lease: LEASE, token: 1 } })
    // A non-empty directory where the fence file goes: the rename over it fails, even for root.
    await rm(fence, { force: true })
    await mkdir(fence)
    await writeFile(join(fence, 'x'), '')
    const command = { kind: 'status' as const, id: 'io-1', fence: { lease: LEASE, token: 2 } }
    const failed = await f.agent.handle(command)
    assert.is(!failed.ok && failed.code, 'AGENT_IO_FAILED')
    assert.is(f.agent.highestToken(LEASE), 1, 'a token that did not reach the disk is not admitted')
    await rm(fence, { recursive: true })
    const again = await f.agent.handle(command)
    assert.equal(again, { id: 'io-1', ok: true, instances: [] })
    assert.is(JSON.parse(await readFile(fence, 'utf8')).fences[0][1], 2, 'the token is on disk now')
  } finally { await f.cleanup() }
})

test('stdout and stderr go to log files that rotate when large', async () => {
  const f = await AgentFixture.create({ maxLogBytes: 1000, maxLogFiles: 2, logCheckMs: 20 })
  try {
    await f.ok(start('chatty', nodeService("let i = 0; setInterval(() => { console.log('line ' + (i++) + ' ' + 'x'.repeat(100)); console.error('err') }, 5)")))
    const dir = join(f.dir, 'instances', 'chatty')
    for (let i = 0; i < 400; i++) {
      try { await readFile(join(dir, 'stdout.log.2')); break } catch { await sleep(10) }
    }
    assert.match(await readFile(join(dir, 'stdout.log.1'), 'utf8'), /line \d+ x+/)
    assert.match(await readFile(join(dir, 'stdout.log.2'), 'utf8'), /line \d+ x+/)
    assert.match(await readFile(join(dir, 'stderr.log'), 'utf8') + await readFile(join(dir, 'stderr.log.1'), 'utf8').catch(() => ''), 'err')
  } finally { await f.cleanup() }
})

test.run()

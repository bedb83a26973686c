/**
 * The supervisor against a scripted lease manager on virtual time: a crashed coordinator is
 * restarted with a capped, doubling backoff; a hung one is killed (isLive() false) before its
 * successor starts; on lease loss a coordinator that ignores its signal is killed after the
 * grace, and the supervisor contends again only after that; close() stops and releases.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { QuorateError, isQuorateError } from '../../src/errors.js'
import type { LeaseManager } from '../../src/lease/manager.js'
import { Supervisor } from './imports.js'
import type { CoordinatorContext, SupervisedCoordinator, SupervisorOptions } from './imports.js'
import { until } from './helpers.js'

/** A lease manager that grants at once (tokens 1, 2, ...) and lets the test revoke a grant. */
class ScriptedLeases {
  readonly clock = new ManualClock()
  readonly nodeId = 'n1'
  readonly defaultDurationMs = 1000
  readonly acquiredAt: number[] = []
  readonly released: number[] = []
  #token = 0
  current: { controller: AbortController, token: number } | null = null

  async acquire (): Promise<unknown> {
    const controller = new AbortController()
    const token = ++this.#token
    this.acquiredAt.push(this.clock.now())
    this.current = { controller, token }
    return {
      token,
      durationMs: 1000,
      signal: controller.signal,
      get valid () { return !controller.signal.aborted },
      release: async () => { this.released.push(token); controller.abort(new QuorateError('ABORTED', 'released')) }
    }
  }

  lose (): void { this.current?.controller.abort(new QuorateError('LEASE_EXPIRED', 'lost')) }
}

function supervisor (leases: ScriptedLeases, create: (ctx: CoordinatorContext) => SupervisedCoordinator, extra: Partial<SupervisorOptions> = {}): Supervisor {
  return new Supervisor({ leases: leases as unknown as LeaseManager, create, durationMs: 1000, pingIntervalMs: 100, pingTimeoutMs: 50, stopGraceMs: 40, restartBackoffInitialMs: 100, restartBackoffMaxMs: 400, ...extra })
}

/** Closes `s`, moving virtual time while it waits (a stop may take the grace period). */
async function closeOn (leases: ScriptedLeases, s: Supervisor): Promise<void> {
  let closed = false
  const closing = s.close().then(() => { closed = true })
  await until(leases.clock, () => closed)
  await closing
}

const idle = (signal: AbortSignal): Promise<void> => new Promise((resolve) => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })

test('a crashing coordinator is restarted under the same lease after a doubling backoff capped at restartBackoffMaxMs', async () => {
  const leases = new ScriptedLeases()
  const starts: number[] = []
  const s = supervisor(leases, ({ fence }) => ({
    run: async () => { starts.push(leases.clock.now()); assert.equal(fence.token, 1); throw new Error('crash') },
    ping: async () => {}
  })).open()
  await until(leases.clock, () => starts.length === 6)
  const gaps = starts.slice(1).map((t, i) => t - starts[i]!)
  assert.equal(gaps, [100, 200, 400, 400, 400])
  assert.equal(leases.acquiredAt.length, 1, 'one lease throughout')
  assert.equal(s.restarts, 6, 'every crash is counted')
  await closeOn(leases, s)
  assert.equal(leases.released, [1])
})

test('a hung coordinator is killed (isLive false) before its successor starts', async () => {
  const leases = new ScriptedLeases()
  const runs: CoordinatorContext[] = []
  const s = supervisor(leases, (ctx) => {
    runs.push(ctx)
    const hung = runs.length === 1
    return {
      run: async (signal) => { await (hung ? new Promise(() => {}) : idle(signal)) },
      ping: async () => { if (hung) await new Promise(() => {}) }
    }
  }).open()
  await until(leases.clock, () => runs.length === 2)
  assert.equal(runs[0]!.isLive(), false, 'the hung one was killed')
  assert.equal(runs[1]!.isLive(), true)
  assert.equal([runs[0]!.run, runs[1]!.run], [1, 2])
  await closeOn(leases, s)
})

test('on lease loss a coordinator that ignores its signal is killed after stopGraceMs, and only then is the lease contended again', async () => {
  const leases = new ScriptedLeases()
  const runs: CoordinatorContext[] = []
  let lostAt = 0
  const stops: Array<{ reason: string, killed: boolean }> = []
  const s = supervisor(leases, (ctx) => { runs.push(ctx); return { run: async () => { await new Promise(() => {}) }, ping: async () => {} } }, { retryMs: 10 })
  s.on('stop', (e) => { stops.push({ reason: e.reason, killed: e.killed }) })
  s.open()
  await until(leases.clock, () => runs.length === 1)
  leases.clock.advance(5)
  lostAt = leases.clock.now()
  leases.lose()
  await until(leases.clock, () => leases.acquiredAt.length === 2)
  assert.equal(stops[0], { reason: 'lease-lost', killed: true })
  assert.equal(runs[0]!.isLive(), false)
  assert.ok(leases.acquiredAt[1]! >= lostAt + 40, `contended again at ${leases.acquiredAt[1]}, lost at ${lostAt}`)
  await closeOn(leases, s)
})

test('close() stops a well-behaved coordinator (not killed) and releases the lease', async () => {
  const leases = new ScriptedLeases()
  const stops: Array<{ reason: string, killed: boolean }> = []
  const s = supervisor(leases, () => ({ run: async (signal) => { await idle(signal) }, ping: async () => {} }))
  s.on('stop', (e) => { stops.push({ reason: e.reason, killed: e.killed }) })
  s.open()
  await until(leases.clock, () => s.token === 1)
  const closing = s.close()
  await until(leases.clock, () => leases.released.length === 1)
  await closing
  assert.equal(stops, [{ reason: 'closing', killed: false }])
  assert.equal(s.token, null)
})

test('a superseded coordinator (LEASE_FENCED) ends its run: the lease is released and contended again', async () => {
  const leases = new ScriptedLeases()
  let runs = 0
  const s = supervisor(leases, () => ({ run: async (signal) => { if (++runs === 1) throw new QuorateError('LEASE_FENCED', 'newer'); await idle(signal) }, ping: async () => {} }), { retryMs: 10 })
  s.open()
  await until(leases.clock, () => runs === 2)
  assert.equal(leases.released, [1])
  assert.equal(s.token, 2)
  await closeOn(leases, s)
})

test('bad supervisor options are refused naming the option', () => {
  const leases = new ScriptedLeases() as unknown as LeaseManager
  const create = (): SupervisedCoordinator => ({ run: async () => {}, ping: async () => {} })
  const message = (f: () => unknown): string => { try { f(); return '' } catch (err) { return isQuorateError(err, 'OPTIONS_INVALID') ? err.message : String(err) } }
  assert.match(message(() => new Supervisor({ leases, create, pingIntervallMs: 5 } as never)), /unknown option "pingIntervallMs".*pingIntervalMs/)
  assert.match(message(() => new Supervisor({ leases, create, durationMs: 100, stopGraceMs: 100 })), /stopGraceMs/)
  assert.match(message(() => new Supervisor({ leases, create, restartBackoffInitialMs: 500, restartBackoffMaxMs: 100 })), /restartBackoffMaxMs/)
  assert.match(message(() => new Supervisor({ leases, create: 'x' } as never)), /create/)
})

test.run()

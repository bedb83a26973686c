/**
 * Exclusive execution on a three-node cluster in virtual time: one runner per node for the
 * same name, and the function moving between nodes on crash, partition, stop and return.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ExclusiveRunner, runExclusive } from '../../src/lease/exclusive.js'
import type { ExclusiveFn } from '../../src/lease/exclusive.js'
import { sleep } from '../../src/lease/deadline.js'
import { QuorateError } from '../../src/errors.js'
import { LeaseSim } from './lease-sim.js'
import type { SkewClock } from './skew-clock.js'
import type { LeaseHolder } from '../../src/lease/holder.js'

const IDS = ['n1', 'n2', 'n3']
const D = 1_000
const DRIFT = 0.05
const STOP_MS = 40

interface Span { node: string, token: number, start: number, stop: number | null, lease: LeaseHolder, clock: SkewClock }

function wasReleased (lease: LeaseHolder): boolean {
  const reason: unknown = lease.signal.reason
  return reason instanceof QuorateError && reason.code === 'ABORTED'
}

/** Runners on every node for 'coordinator', recording when (in true time) fn runs where. */
class Supervised {
  readonly spans: Span[] = []
  readonly runners = new Map<string, ExclusiveRunner>()
  constructor (readonly sim: LeaseSim, readonly returnAtOnce = false) {}

  startOn (id: string): void {
    const sim = this.sim
    const clock = sim.get(id).clock
    const fn: ExclusiveFn = async ({ signal, token, lease }) => {
      const running = this.spans.filter((s) => s.stop === null).map((s) => s.node)
      assert.equal(running, [], `fn starts on ${id} (token ${token}) while another instance runs`)
      for (const s of this.spans) assert.ok(s.clock.now() >= s.lease.expiresAt || wasReleased(s.lease), `the lease of the earlier instance on ${s.node} was released or had lapsed by its own clock`)
      const span: Span = { node: id, token, start: sim.clock.now(), stop: null, lease, clock }
      this.spans.push(span)
      if (!this.returnAtOnce) await new Promise((resolve) => { signal.aborted ? resolve(null) : signal.addEventListener('abort', resolve, { once: true }) })
      await sleep(clock, STOP_MS) // stopping takes a while; the runner must wait for it
      span.stop = sim.clock.now()
    }
    this.runners.set(id, runExclusive(sim.get(id).manager, 'coordinator', fn, { durationMs: D }))
  }

  running (): Span | undefined { return this.spans.find((s) => s.stop === null) }
}

/** Runs `body` with a runner on every node, then stops them and closes the cluster. */
async function withSupervised (body: (sim: LeaseSim, sup: Supervised) => Promise<void>, returnAtOnce = false): Promise<void> {
  const { sim, sup } = await setup(returnAtOnce)
  try {
    await body(sim, sup)
  } finally {
    for (const r of sup.runners.values()) void r.stop()
    await sim.close()
  }
}

async function setup (returnAtOnce: boolean): Promise<{ sim: LeaseSim, sup: Supervised }> {
  const sim = new LeaseSim(IDS, { maxDrift: DRIFT, maxLeaseDurationMs: D, defaultDurationMs: D, seed: 7 })
  await sim.startAll([1, 1.03, 0.99])
  await sim.waitForLeader()
  const sup = new Supervised(sim, returnAtOnce)
  for (const id of IDS) sup.startOn(id)
  return { sim, sup }
}

test('fn runs on exactly one node and moves to another node after that node crashes', async () => {
  await withSupervised(async (sim, sup) => {
    await sim.until(() => sup.running() !== undefined, 5 * D, 'fn starts somewhere')
    await sim.run(3 * D)
    const first = sup.running()!
    assert.is(sup.spans.length, 1, 'it kept running on one node')
    const crashedAt = sim.clock.now()
    await sim.crash(first.node)
    await sim.until(() => sup.running() !== undefined && sup.running()!.node !== first.node, 5 * D, 'fn moves')
    const second = sup.running()!
    assert.ok(second.token > first.token, 'the new instance holds a newer token')
    assert.ok(second.start - crashedAt <= 3 * D, `moved within a few durations (${second.start - crashedAt} ms)`)
    await sim.run(3 * D)
    assert.is(sup.running(), second, 'and stays there')
  })
})

test('a runner cut off by a partition stops fn before any other node starts it', async () => {
  await withSupervised(async (sim, sup) => {
    await sim.until(() => sup.running() !== undefined, 5 * D, 'fn starts somewhere')
    const first = sup.running()!
    const partitionedAt = sim.clock.now()
    sim.net.partition([first.node], IDS.filter((id) => id !== first.node))
    await sim.until(() => first.stop !== null, 2 * D, 'the cut-off instance stops')
    assert.ok(first.stop! - partitionedAt <= D, 'it stopped within its lease')
    assert.ok(sup.runners.get(first.node)!.running === false, 'its runner waited for fn to finish')
    await sim.until(() => sup.running() !== undefined, 5 * D, 'fn starts on the majority side')
    const second = sup.running()!
    assert.is.not(second.node, first.node)
    assert.ok(second.start >= first.stop!, 'the old instance stopped before the new one started')
    sim.net.heal()
    await sim.run(4 * D)
    assert.is(sup.running(), second, 'after healing, the old node does not take it back')
    assert.is(sup.spans.length, 2)
  })
})

test('stop() aborts fn, waits until it has stopped and releases the lease, so another node starts it without waiting for expiry', async () => {
  await withSupervised(async (sim, sup) => {
    await sim.until(() => sup.running() !== undefined, 5 * D, 'fn starts somewhere')
    const first = sup.running()!
    const runner = sup.runners.get(first.node)!
    const stopping = runner.stop()
    await sim.await(stopping)
    assert.ok(first.stop !== null, 'stop() resolved after fn stopped')
    assert.not.ok(runner.running)
    const stoppedAt = sim.clock.now()
    await sim.until(() => sup.running() !== undefined, 2 * D, 'fn starts elsewhere')
    assert.ok(sim.clock.now() - stoppedAt < D / 2, 'the released lease is taken over at once')
    await sim.await(runner.stop())
    runner.start()
    assert.not.ok(runner.running, 'a stopped runner does not start again')
  })
})

test('an fn that returns on its own is started again, one instance at a time', async () => {
  await withSupervised(async (sim, sup) => {
    await sim.until(() => sup.spans.filter((s) => s.stop !== null).length >= 4, 10 * D, 'fn restarts several times')
    const tokens = sup.spans.map((s) => s.token)
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, 'each run holds a new grant')
  }, true)
})

test('an aborted options signal stops the runner; bad options fail with OPTIONS_INVALID', async () => {
  const sim = new LeaseSim(IDS, { maxDrift: DRIFT, maxLeaseDurationMs: D, defaultDurationMs: D })
  await sim.startAll()
  try {
    const manager = sim.get('n1').manager
    const controller = new AbortController()
    let started = 0
    const runner = runExclusive(manager, 'job', () => { started++ }, { signal: controller.signal })
    controller.abort()
    await sim.await(runner.stop())
    await sim.run(2 * D)
    assert.is(started, 0)
    for (const [options, field] of [[{ durationMs: -1 }, 'durationMs'], [{ retryMs: 0 }, 'retryMs'], [{ holder: '' }, 'holder']] as const) {
      assert.throws(() => new ExclusiveRunner(manager, 'job', () => {}, options), (e: unknown) => e instanceof QuorateError && e.code === 'OPTIONS_INVALID' && e.message.includes(`"${field}"`))
    }
    assert.throws(() => new ExclusiveRunner(manager, '', () => {}), (e: unknown) => e instanceof QuorateError && e.code === 'OPTIONS_INVALID')
  } finally {
    await sim.close()
  }
})

test.run()

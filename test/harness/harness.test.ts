/**
 * The test harness itself: waits in virtual time are bounded and say what they waited for,
 * concurrent waits share one sequence of timer firings, a cluster is reproducible from its
 * seed, and the one real-time wait names what it awaited and the probe's last error.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { Cluster, VirtualTime, eventually } from './index.js'

async function rejection (p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

test('a virtual-time wait that runs out of its bound fails naming what it waited for', async () => {
  const clock = new ManualClock()
  const time = new VirtualTime(clock)
  const tick = (): void => { clock.setTimeout(tick, 10) }
  tick()
  const err = await rejection(time.until(() => false, { maxMs: 100, what: 'the moon' }))
  assert.match(err.message, 'timed out waiting for the moon: 100 ms of virtual time passed')
  assert.ok(clock.now() <= 100, `no timer past the bound fired (now ${clock.now()})`)
})

test('a virtual-time wait with no timer left fails at once instead of hanging', async () => {
  const time = new VirtualTime(new ManualClock())
  const err = await rejection(time.until(() => false, { maxMs: 1_000_000, what: 'nothing' }))
  assert.match(err.message, 'no timer is left to fire')
})

test('concurrent waits share one pump: each resolves at the first timer after which it holds', async () => {
  const clock = new ManualClock()
  const time = new VirtualTime(clock)
  let fired = 0
  for (const at of [5, 10, 15, 20]) clock.setTimeout(() => { fired++ }, at)
  const seen: Array<[string, number]> = []
  await Promise.all([
    time.until(() => fired >= 1, { maxMs: 100, what: 'one' }).then(() => seen.push(['one', clock.now()])),
    time.until(() => fired >= 3, { maxMs: 100, what: 'three' }).then(() => seen.push(['three', clock.now()]))
  ])
  assert.equal(seen, [['one', 5], ['three', 15]])
  await time.run(10)
  assert.is(clock.now(), 25, 'run() lets exactly that much virtual time pass')
  assert.is(fired, 4)
})

test('a cluster elects a leader and commits in virtual time, and the same seed gives the same run', async () => {
  const run = async (): Promise<string> => {
    const cluster = new Cluster(['n1', 'n2', 'n3'], { seed: 7 })
    await cluster.startAll()
    try {
      const leader = await cluster.waitForLeader()
      assert.is(await cluster.proposeWithRetry('x'), 'ok:x')
      await cluster.waitAllApplied()
      for (const m of cluster.open()) assert.equal(m.machine.log.map((e) => e.command), ['x'], `${m.id} applied x`)
      return `${leader.id}@${leader.status().term} t=${cluster.clock.now()}`
    } finally {
      await cluster.close()
    }
  }
  assert.is(await run(), await run())
})

test('a cluster wait that cannot be met fails within its tick bound naming what it waited for', async () => {
  const cluster = new Cluster(['n1', 'n2', 'n3'])
  await cluster.start('n1') // alone: no majority, no leader
  try {
    const err = await rejection(cluster.waitForLeader({ maxTicks: 50 }))
    assert.match(err.message, 'timed out waiting for a leader followed by a majority')
    assert.ok(cluster.clock.now() <= 50 * cluster.tickMs)
  } finally {
    await cluster.close()
  }
})

test('cluster options are checked: an unknown key is refused with OPTIONS_INVALID', () => {
  assert.throws(() => new Cluster(['n1'], { seeds: 3 } as never), (err: Error & { code?: string }) => err.code === 'OPTIONS_INVALID' && err.message.includes('seeds'))
  assert.throws(() => new Cluster(['n1'], { tickMs: 0 }), (err: Error & { code?: string }) => err.code === 'OPTIONS_INVALID' && err.message.includes('tickMs'))
})

test('eventually resolves with the first real value and, when it runs out, names what it awaited and the last error', async () => {
  let calls = 0
  assert.is(await eventually('three calls', () => ++calls >= 3 && calls, { intervalMs: 1 }), 3)
  const err = await rejection(eventually('the socket', () => { throw new Error('ECONNREFUSED') }, { timeoutMs: 20, intervalMs: 5 }))
  assert.match(err.message, 'timed out after 20 ms waiting for the socket: Error: ECONNREFUSED')
  assert.is((err.cause as Error).message, 'ECONNREFUSED')
})

test.run()

/**
 * Properties over seeds and fault schedules (fast-check), on real Raft nodes in virtual time.
 * Every node runs a worker that competes for one lease, holds it for a while issuing effects
 * (tagged with its token) to a fenced resource, then releases or silently abandons it.
 *
 * - Drift within the bound (faults: partitions, one-way cuts, isolation, paused delivery,
 *   crashes and restarts, leader crashes and transfers, clock rate changes): at the instant
 *   any holder is granted, no other holder is valid by its own judgment, so at no instant of
 *   true time do two holders both hold the lease. Holders run with no safety margin at all.
 * - Beyond the bound (adding process pauses longer than the lease with the clock stopped,
 *   forward clock jumps and rates outside the bound): the fenced resource accepts no effect
 *   whose token is older than one it already accepted.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { FencingGuard } from '../../src/lease/fencing.js'
import { sleep } from '../../src/lease/deadline.js'
import type { LeaseHolder } from '../../src/lease/holder.js'
import { QuorateError } from '../../src/errors.js'
import { SeededRandom } from '../../src/util/random.js'
import { LeaseSim } from './lease-sim.js'
import type { SimNode } from './lease-sim.js'

const IDS = ['n1', 'n2', 'n3']
const D = 500
const DRIFT = 0.2
const FAULT_WINDOW_MS = 6_000
const CALM_MS = 3_000
const EFFECT_EVERY_MS = 40

export const WITHIN = ['isolateHolder', 'isolate', 'cut', 'partition', 'pauseDelivery', 'crash', 'crashLeader', 'transferLeader', 'rate'] as const
export const BEYOND = ['freeze', 'jump', 'rateBeyond'] as const
type FaultKind = typeof WITHIN[number] | typeof BEYOND[number]

interface Fault { at: number, kind: FaultKind, node: number, other: number, lengthMs: number, amount: number }

function faultArb (kinds: readonly FaultKind[]): fc.Arbitrary<Fault> {
  return fc.record({
    at: fc.integer({ min: 0, max: FAULT_WINDOW_MS }),
    // Cutting off the current holder is where a wrong expiry judgment shows: weigh it up.
    kind: fc.oneof({ arbitrary: fc.constant<FaultKind>('isolateHolder'), weight: kinds.length }, { arbitrary: fc.constantFrom(...kinds), weight: kinds.length }),
    node: fc.nat(IDS.length - 1),
    other: fc.nat(IDS.length - 1),
    lengthMs: fc.integer({ min: 50, max: 5 * D }),
    amount: fc.double({ min: 0, max: 1, noNaN: true })
  })
}

export interface Scenario { seed: number, rates: number[], faults: Fault[] }

export function scenarioArb (kinds: readonly FaultKind[]): fc.Arbitrary<Scenario> {
  return fc.record({
    seed: fc.nat(),
    // The extremes of the band most often: that is where a wrong stretch would show.
    rates: fc.array(fc.oneof(fc.constant(1), fc.constant(1 + DRIFT), fc.double({ min: 1, max: 1 + DRIFT, noNaN: true })), { minLength: IDS.length, maxLength: IDS.length }),
    faults: fc.array(faultArb(kinds), { maxLength: 12 })
  })
}

interface Outcome {
  grants: number
  /** Grants made while another holder still judged itself valid. */
  overlaps: string[]
  accepted: number[]
  rejected: number
}

/** The protected resource: admits effects through a fencing guard and records what it accepted. */
class FencedResource {
  readonly guard = new FencingGuard()
  readonly accepted: number[] = []
  rejected = 0
  submit (token: number): void {
    try {
      this.guard.admit('L', token)
      this.accepted.push(token)
    } catch (err) {
      if (!(err instanceof QuorateError && err.code === 'LEASE_FENCED')) throw err
      this.rejected++
    }
  }
}

export async function runScenario (scenario: Scenario): Promise<Outcome> {
  const sim = new LeaseSim(IDS, { seed: scenario.seed, maxDrift: DRIFT, maxLeaseDurationMs: D, defaultDurationMs: D, safetyMarginFraction: 0 })
  const rnd = new SeededRandom(scenario.seed ^ 0x5eed)
  const resource = new FencedResource()
  const live = new Set<LeaseHolder>()
  const outcome: Outcome = { grants: 0, overlaps: [], accepted: resource.accepted, rejected: 0 }
  const workers = new Map<string, AbortController>()

  const onGrant = (node: SimNode, lease: LeaseHolder): void => {
    outcome.grants++
    for (const other of live) {
      if (other.valid) outcome.overlaps.push(`at ${sim.clock.now()}: ${lease.holder} (token ${lease.token}) granted while ${other.holder} (token ${other.token}) is valid`)
    }
    live.add(lease)
    lease.signal.addEventListener('abort', () => { live.delete(lease) }, { once: true })
  }

  const work = async (node: SimNode, stop: AbortSignal): Promise<void> => {
    const holder = `${node.id}#${node.incarnation}`
    const wait = async (ms: number): Promise<void> => { await sleep(node.clock, ms, stop).catch(() => {}) }
    while (!stop.aborted) {
      let lease: LeaseHolder
      try {
        lease = await node.manager.acquire('L', { holder, durationMs: D, signal: stop })
      } catch (err) {
        // An eager contender comes back at the first instant its node would grant.
        const hint = err instanceof QuorateError ? err.info?.retryAfterMs : undefined
        await wait(typeof hint === 'number' ? hint : 20 + rnd.next() * 180)
        continue
      }
      onGrant(node, lease)
      const holdUntil = node.clock.now() + D * (0.5 + rnd.next() * 3)
      while (lease.valid && node.clock.now() < holdUntil && !stop.aborted) {
        const token = lease.token
        // The effect travels to the resource for a while; fencing, not timing, keeps it safe.
        sim.clock.setTimeout(() => { resource.submit(token) }, rnd.next() * 30)
        await wait(EFFECT_EVERY_MS)
      }
      if (!lease.valid) continue
      if (rnd.next() < 0.5) await lease.release().catch(() => {})
      else lease.abandon(new QuorateError('ABORTED', 'abandoned without release'))
    }
  }

  const startWorker = (node: SimNode): void => {
    const controller = new AbortController()
    workers.set(node.id, controller)
    void work(node, controller.signal)
  }
  const crash = async (id: string): Promise<void> => {
    workers.get(id)?.abort()
    await sim.crash(id)
  }
  const restart = async (id: string): Promise<void> => {
    if (sim.nodes.has(id)) return
    startWorker(await sim.start(id, scenario.rates[IDS.indexOf(id)]))
  }

  try {
    await sim.startAll(scenario.rates)
    for (const node of sim.nodes.values()) startWorker(node)
    const origin = sim.clock.now()
    const faults = [...scenario.faults].sort((a, b) => a.at - b.at)
    const pendingRestarts: Array<{ at: number, id: string }> = []
    for (const f of faults) {
      await sim.run(origin + f.at - sim.clock.now())
      for (const r of pendingRestarts.filter((r) => r.at <= sim.clock.now())) await restart(r.id)
      const id = IDS[f.node]!
      const other = IDS[f.other]!
      const node = sim.nodes.get(id)
      const heal = (): void => { sim.clock.setTimeout(() => { sim.net.heal() }, f.lengthMs) }
      switch (f.kind) {
        case 'isolate': sim.net.isolate(id); heal(); break
        case 'isolateHolder': {
          const holder = [...live].find((l) => l.valid)
          if (holder !== undefined) { sim.net.isolate(holder.holder.split('#')[0]!); heal() }
          break
        }
        case 'cut': if (id !== other) { sim.net.cut(id, other); heal() } break
        case 'partition': sim.net.partition([id], IDS.filter((x) => x !== id)); heal(); break
        case 'pauseDelivery':
          sim.net.pause(id)
          sim.clock.setTimeout(() => { sim.net.resume(id) }, f.lengthMs)
          break
        case 'crash':
        case 'crashLeader': {
          const victim = f.kind === 'crash' ? id : sim.leader()?.id
          if (victim === undefined || !sim.nodes.has(victim)) break
          await crash(victim)
          pendingRestarts.push({ at: sim.clock.now() + f.lengthMs, id: victim })
          break
        }
        case 'transferLeader': {
          const leader = sim.leader()
          if (leader !== undefined && leader.id !== other) leader.node.transferLeadership(other).catch(() => {})
          break
        }
        case 'rate': node?.clock.setRate(1 + f.amount * DRIFT); break
        case 'rateBeyond': node?.clock.setRate(f.amount < 0.5 ? 0.3 + f.amount : 1.5 + f.amount); break
        case 'jump': node?.clock.jump(f.amount * 3 * D); break
        case 'freeze':
          if (node === undefined || node.clock.frozen) break
          sim.net.pause(id)
          node.clock.freeze()
          sim.clock.setTimeout(() => { node.clock.unfreeze(); sim.net.resume(id) }, f.lengthMs)
          break
      }
    }
    await sim.run(origin + FAULT_WINDOW_MS + 5 * D - sim.clock.now())
    sim.net.heal()
    for (const id of IDS) await restart(id)
    await sim.run(CALM_MS)
    outcome.rejected = resource.rejected
    return outcome
  } finally {
    for (const w of workers.values()) w.abort()
    await sim.close()
  }
}

function assertFenced (outcome: Outcome): void {
  const a = outcome.accepted
  for (let i = 1; i < a.length; i++) assert.ok(a[i]! >= a[i - 1]!, `accepted effect tokens never decrease (${a[i - 1]} then ${a[i]})`)
}

test('within the drift bound, no two holders ever hold the lease at the same instant, and fenced effects never go backwards', async () => {
  let grants = 0
  await fc.assert(fc.asyncProperty(scenarioArb(WITHIN), async (scenario) => {
    const outcome = await runScenario(scenario)
    assert.equal(outcome.overlaps, [], 'no grant while another holder is valid')
    assertFenced(outcome)
    assert.ok(outcome.grants > 0, 'the lease was granted at least once')
    grants += outcome.grants
  }), { seed: 1015, numRuns: 20 })
  assert.ok(grants > 20, `leases changed hands (${grants} grants)`)
})

test('beyond the drift bound (pauses past the lease, clock jumps, fast and slow clocks), fencing accepts no stale-token effect', async () => {
  await fc.assert(fc.asyncProperty(scenarioArb([...WITHIN, ...BEYOND]), async (scenario) => {
    const outcome = await runScenario(scenario)
    assertFenced(outcome)
  }), { seed: 1016, numRuns: 16 })
})

test('a holder paused past its lease resumes believing it still holds it, and the resource fences its late effect', async () => {
  const sim = new LeaseSim(IDS, { maxDrift: DRIFT, maxLeaseDurationMs: D, defaultDurationMs: D })
  const resource = new FencedResource()
  try {
    await sim.startAll()
    const leader = await sim.waitForLeader()
    await sim.run(2 * D)
    // Two followers, so that pausing the first does not also stop the cluster's leader.
    const [first, second] = IDS.filter((id) => id !== leader.id)
    const n1 = sim.get(first!)
    const old = await sim.await(n1.manager.acquire('L', { holder: n1.id }))
    resource.submit(old.token)
    // The process stops (GC pause, SIGSTOP): no time passes for it and nothing reaches it.
    sim.net.pause(n1.id)
    n1.clock.freeze()
    const n2 = sim.get(second!)
    await sim.until(() => n2.manager.judge('L').grantable, 4 * D, 'n2 judges the old lease expired')
    const successor = await sim.await(n2.manager.acquire('L', { holder: n2.id }))
    resource.submit(successor.token)
    n1.clock.unfreeze()
    assert.ok(old.valid, 'by its own (stopped) clock the old holder still holds the lease')
    resource.submit(old.token)
    assert.is(resource.rejected, 1, 'its late effect is fenced')
    assert.equal(resource.accepted, [old.token, successor.token])
    sim.net.resume(n1.id)
    await sim.until(() => old.signal.aborted, 2 * D, 'the old holder learns it lost the lease')
  } finally {
    await sim.close()
  }
})

if (process.env.LEASE_PROPERTY_LIBRARY === undefined) test.run()

/**
 * The simulator's pieces on their own: the per-node clock, the fault schedules and the
 * safety checkers (each fed a scenario that breaks exactly one property).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { NodeClock, SafetyChecker, drawFaultSchedule, DEFAULT_FAULT_RANGES, describeFault, leaseSafeSchedule } from '../../src/testing/sim/index.js'
import { faultScheduleArbitrary } from '../../src/testing/arbitraries.js'
import type { CheckerName, FaultEvent } from '../../src/testing/sim/index.js'
import { SeededRandom } from '../../src/util/random.js'
import { message } from '../../src/raft/types.js'

test('a drifting clock runs its timers at its own rate', () => {
  const global = new ManualClock()
  const fast = new NodeClock(global, 2)
  let firedAt = -1
  fast.setTimeout(() => { firedAt = global.now() }, 100)
  global.advance(49)
  assert.is(firedAt, -1)
  global.advance(1)
  assert.is(firedAt, 50, '100 local ms at rate 2 take 50 global ms')
  assert.is(fast.now(), 100)
})

test('a forward clock jump fires overdue timers at once and keeps later ones in order', () => {
  const global = new ManualClock()
  const clock = new NodeClock(global)
  const fired: string[] = []
  clock.setTimeout(() => fired.push('a'), 100)
  clock.setTimeout(() => fired.push('b'), 300)
  global.advance(10)
  clock.jump(150)
  global.advance(0)
  assert.equal(fired, ['a'])
  global.advance(139)
  assert.equal(fired, ['a'])
  global.advance(1)
  assert.equal(fired, ['a', 'b'], 'b was due at local 300 = global 150')
})

test('a paused clock holds its timers until resumed; a killed clock never fires again', () => {
  const global = new ManualClock()
  const clock = new NodeClock(global)
  const fired: number[] = []
  clock.setTimeout(() => fired.push(1), 10)
  clock.pause()
  global.advance(100)
  assert.equal(fired, [])
  clock.resume()
  global.advance(0)
  assert.equal(fired, [1])
  clock.setTimeout(() => fired.push(2), 10)
  clock.kill()
  clock.setTimeout(() => fired.push(3), 10)
  global.advance(100)
  assert.equal(fired, [1])
  assert.is(global.pendingTimers, 0)
})

test('the per-seed fault schedule is reproducible and stays within its ranges', () => {
  const a = drawFaultSchedule(new SeededRandom(9))
  const b = drawFaultSchedule(new SeededRandom(9))
  assert.equal(a, b)
  for (let seed = 0; seed < 200; seed++) {
    const s = drawFaultSchedule(new SeededRandom(seed))
    assert.is(s[0]!.kind, 'network')
    for (const e of s) {
      assert.ok(e.at >= 0 && e.at < DEFAULT_FAULT_RANGES.durationMs)
      if (e.kind === 'network') {
        assert.ok(e.loss >= 0 && e.loss <= 0.3 && e.duplication >= 0 && e.duplication <= 0.5)
        assert.ok(e.latencyMin <= e.latencyMax)
      }
      if (e.kind === 'pause') assert.ok(e.duration >= DEFAULT_FAULT_RANGES.minPauseMs, 'pauses outlast an election timeout')
      assert.type(describeFault(e, ['n1', 'n2', 'n3']), 'string')
    }
    for (let i = 1; i < s.length; i++) assert.ok(s[i]!.at >= s[i - 1]!.at, 'sorted by time')
  }
})

test('a lease-safe schedule has no pauses or clock jumps and drift within the bound', () => {
  const events: FaultEvent[] = [
    { at: 0, kind: 'pause', node: 1, duration: 300 },
    { at: 1, kind: 'jump', node: 2, ms: 500 },
    { at: 2, kind: 'drift', node: 0, rate: 1.2 },
    { at: 3, kind: 'drift', node: 1, rate: 0.99 },
    { at: 4, kind: 'crash', node: 0, downFor: 10 }
  ]
  const safe = leaseSafeSchedule(events, 0.05)
  assert.equal(safe.map((e) => e.kind), ['drift', 'drift', 'crash'])
  assert.equal(safe.map((e) => e.kind === 'drift' ? e.rate : null), [1.05, 0.99, null])
})

test('drawn schedules include membership changes and transfers in a good share of seeds', () => {
  let seeds = 0
  for (let seed = 0; seed < 200; seed++) {
    const s = drawFaultSchedule(new SeededRandom(seed))
    if (s.some((e) => e.kind === 'addNode' || e.kind === 'removeNode' || e.kind === 'replaceNodes' || e.kind === 'transfer')) seeds++
  }
  assert.ok(seeds >= 60, `${seeds} of 200 schedules change the membership or transfer leadership`)
})

test('the fault schedule arbitrary starts with network settings and is sorted', () => {
  fc.assert(fc.property(faultScheduleArbitrary(fc), (s) => {
    assert.is(s[0]!.kind, 'network')
    for (let i = 1; i < s.length; i++) assert.ok(s[i]!.at >= s[i - 1]!.at)
    assert.ok(s.length <= DEFAULT_FAULT_RANGES.maxEvents + 1)
  }), { seed: 1025, numRuns: 200 })
})

// ------------------------------------------------------------------ checkers

type Log = Array<{ term: number, type?: 'command' | 'noop' }>

/** Just enough of a RaftCore for the checker: role, term, a log and the applied configuration. */
function fakeCore (role: string, term: number, log: Log, committed: number, voters: string[] = ['a', 'b', 'c']): any {
  const entries = log.map((e, i) => ({ index: i + 1, term: e.term, type: e.type ?? 'command', data: new Uint8Array([i, e.term]) }))
  return {
    role,
    term,
    config: { voters, votersOutgoing: [], learners: [] },
    log: {
      snapshotIndex: 0,
      snapshotTerm: 0,
      committed,
      lastIndex: () => entries.length,
      entry: (i: number) => entries[i - 1],
      term: (i: number) => i === 0 ? 0 : (entries[i - 1]?.term ?? -1)
    }
  }
}

function checkerNames (c: SafetyChecker): CheckerName[] {
  return c.violations.map((v) => v.checker)
}

test('Election Safety: two leaders of one term, in state or on the wire, are a violation', () => {
  const c = new SafetyChecker({ now: () => 0 })
  c.afterStep([{ id: 'a', core: fakeCore('leader', 2, [{ term: 1 }], 0) }, { id: 'b', core: fakeCore('follower', 2, [{ term: 1 }], 0) }])
  assert.equal(c.violations, [])
  c.observeSend('b', message({ type: 'heartbeat', from: 'b', to: 'a', term: 2 }), null, null)
  assert.equal(checkerNames(c), ['election-safety'])
})

test('Log Matching: the same index and term over different prefixes is a violation', () => {
  const c = new SafetyChecker({ now: () => 0 })
  c.afterStep([{ id: 'a', core: fakeCore('follower', 3, [{ term: 1 }, { term: 3 }], 0) }])
  c.afterStep([{ id: 'b', core: fakeCore('follower', 3, [{ term: 2 }, { term: 3 }], 0) }])
  assert.equal(checkerNames(c), ['log-matching'])
})

test('Leader Completeness: a new leader without a committed entry is a violation', () => {
  const c = new SafetyChecker({ now: () => 0 })
  c.afterStep([{ id: 'a', core: fakeCore('follower', 1, [{ term: 1 }, { term: 1 }], 2) }])
  c.afterStep([{ id: 'b', core: fakeCore('leader', 2, [{ term: 1 }], 0) }])
  assert.equal(checkerNames(c), ['leader-completeness'])
})

test('Leader Append-Only and commit monotonicity: a leader losing an entry, a commit index going back', () => {
  const c = new SafetyChecker({ now: () => 0 })
  c.afterStep([{ id: 'a', core: fakeCore('leader', 1, [{ term: 1 }, { term: 1 }], 2) }])
  c.afterStep([{ id: 'a', core: fakeCore('leader', 1, [{ term: 1 }], 1) }])
  assert.equal(checkerNames(c).sort(), ['commit-monotonic', 'leader-append-only'])
})

test('the commit rule: a leader advancing its commit index to an earlier term\'s entry is a violation (Figure 8)', () => {
  const log: Log = [{ term: 1 }, { term: 1 }, { term: 2, type: 'noop' }]
  const c = new SafetyChecker({ now: () => 0 })
  const good = fakeCore('leader', 2, log, 1)
  c.afterStep([{ id: 'a', core: good }])
  good.log.committed = 3
  c.afterStep([{ id: 'a', core: good }])
  assert.equal(c.violations, [], 'committing through its own no-op is the rule')
  const d = new SafetyChecker({ now: () => 0 })
  const bad = fakeCore('leader', 2, log, 1)
  d.afterStep([{ id: 'a', core: bad }])
  bad.log.committed = 2
  d.afterStep([{ id: 'a', core: bad }])
  assert.equal(checkerNames(d), ['leader-commit-rule'])
})

test('State Machine Safety and acknowledged writes: different commands applied at one index', () => {
  const c = new SafetyChecker({ now: () => 0 })
  c.observeApply('a', 1, new Uint8Array([1]))
  c.observeAck(1, new Uint8Array([1]))
  c.observeApply('b', 1, new Uint8Array([2]))
  assert.equal(checkerNames(c), ['state-machine-safety', 'acknowledged-lost'])
})

test('a node that applied its own removal never leads again', () => {
  const c = new SafetyChecker({ now: () => 0 })
  const log: Log = [{ term: 1 }]
  c.afterStep([{ id: 'a', core: fakeCore('leader', 2, log, 1, ['a', 'b', 'c', 'd']) }])
  c.afterStep([{ id: 'a', core: fakeCore('follower', 2, log, 1, ['b', 'c', 'd']) }])
  assert.equal(c.violations, [], 'leading until its removal applies is no violation')
  c.afterStep([{ id: 'a', core: fakeCore('leader', 3, log, 1, ['b', 'c', 'd']) }])
  assert.equal(checkerNames(c), ['removed-leader'])
})

test('snapshots: two different states at one index are a violation; an installed snapshot stands for its applies', () => {
  const c = new SafetyChecker({ now: () => 0 })
  c.observeApply('a', 1, new Uint8Array([1]))
  c.observeAck(1, new Uint8Array([1]))
  c.observeSnapshot('a', 1, 0xabc, false)
  c.observeSnapshot('b', 1, 0xabc, true)
  c.observeApply('b', 2, new Uint8Array([2]))
  c.finish()
  assert.equal(c.violations, [], 'b never applied index 1: its snapshot covered it')
  c.observeSnapshot('c', 1, 0xdef, true)
  assert.equal(checkerNames(c), ['state-machine-safety'])
})

test('Durability: a vote granted before term and vote are durable is a violation', async () => {
  const c = new SafetyChecker({ now: () => 0 })
  const disk = new CrashStorage()
  await disk.open()
  const grant = message({ type: 'voteResponse', from: 'a', to: 'b', term: 3 })
  c.observeSend('a', grant, disk, null)
  assert.equal(checkerNames(c), ['durability'])
  await disk.write({ hardState: { term: 3, vote: 'b', commit: 0 }, entries: [] }, { sync: true })
  c.observeSend('a', grant, disk, null)
  assert.is(c.violations.length, 1, 'no new violation once the vote is durable')
  await disk.write({ hardState: { term: 4, vote: 'c', commit: 0 }, entries: [] }, { sync: false })
  assert.is(disk.durableHardState.term, 3, 'an unsynced write is not durable')
})

test.run()

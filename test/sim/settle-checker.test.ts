/** The simulator's promise-settle checker and its per-seed draws, on their own. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SettleChecker } from '../../src/testing/sim/settle-checker.js'
import { SETTLE_DRAW_DEFAULTS, drawSettle, oversizedCommand } from '../../src/testing/sim/settle-draws.js'
import { runSimulation } from '../../src/testing/sim/simulator.js'

function checker (): { c: SettleChecker, reports: string[], at: (ms: number) => void } {
  let now = 0
  const reports: string[] = []
  const c = new SettleChecker({ now: () => now, closeBoundMs: 100, healBoundMs: 1000, report: (rule, node, message) => reports.push(`${rule} ${node}: ${message}`) })
  return { c, reports, at: (ms) => { now = ms } }
}

test('an operation pending on a node that closed is reported once its close bound passes, naming node and rule', () => {
  const { c, reports, at } = checker()
  c.invoked('n1', '#1 c0 write')
  const other = c.invoked('n2', '#2 c1 write')
  at(50); c.nodeClosed('n1')
  at(149); c.check()
  assert.equal(reports, [])
  at(150); c.check(); c.check()
  assert.equal(reports, ['promise-settle n1: #1 c0 write on n1 has not settled within 100ms after its node closed at 50.0ms'])
  other()
})

test('an operation that settles in time is never reported, and one pending at heal gets the heal bound', () => {
  const { c, reports, at } = checker()
  const done = c.invoked('n1', '#1 c0 read')
  c.invoked('n2', '#2 c0 read')
  at(10); c.healed()
  at(500); done()
  at(1009); c.check()
  assert.equal(reports, [])
  at(1010); c.finish()
  assert.is(reports.length, 1)
  assert.match(reports[0]!, '#2 c0 read on n2 has not settled within 1000ms after the faults were healed at 10.0ms')
})

test('a later, looser bound never extends an earlier, tighter one', () => {
  const { c, reports, at } = checker()
  c.invoked('n1', '#1')
  c.nodeClosed('n1')
  c.healed()
  at(100); c.check()
  assert.is(reports.length, 1)
})

test('only the oversized proposal may fail with RAFT_PROPOSAL_TOO_LARGE, and it must', () => {
  const { c, reports } = checker()
  c.observeOversized('n1', 'RAFT_PROPOSAL_TOO_LARGE')
  c.observeOversized('n1', 'NODE_NOT_OPEN')
  c.observeWriteFailure('n1', '#3', 'RAFT_NOT_LEADER')
  assert.equal(reports, [])
  c.observeWriteFailure('n1', '#4', 'RAFT_PROPOSAL_TOO_LARGE')
  c.observeOversized('n2', null)
  c.observeOversized('n2', 'RAFT_TIMEOUT')
  assert.is(reports.length, 3)
  assert.match(reports[0]!, 'oversized-proposal n1: #4 (a small command) failed with RAFT_PROPOSAL_TOO_LARGE')
  assert.match(reports[1]!, 'was accepted')
  assert.match(reports[2]!, 'failed with RAFT_TIMEOUT')
})

test('the draws are a function of the seed, both kinds occur, and a fixed option overrides only its own draw', () => {
  const draws = Array.from({ length: 200 }, (_, i) => drawSettle(i + 1))
  assert.equal(draws.map((d) => d.forwardProposals), Array.from({ length: 200 }, (_, i) => drawSettle(i + 1).forwardProposals))
  const forwarding = draws.filter((d) => d.forwardProposals).length
  const oversized = draws.filter((d) => d.oversizeChance > 0).length
  assert.ok(forwarding > 60 && forwarding < 140, `forwarding in ${forwarding} of 200`)
  assert.ok(oversized > 30 && oversized < 90, `oversized in ${oversized} of 200`)
  for (const d of draws) assert.is(d.maxProposalBytes, d.oversizeChance > 0 ? SETTLE_DRAW_DEFAULTS.maxProposalBytes : undefined)
  const seed = draws.findIndex((d) => d.oversizeChance > 0) + 1
  assert.is(drawSettle(seed, { forwardProposals: true }).oversizeChance, drawSettle(seed).oversizeChance)
  assert.is(drawSettle(seed, { oversizedProposals: false }).oversizeChance, 0)
  assert.is(oversizedCommand(10).byteLength, 11)
})

test('seeds with forwarding and oversized proposals forced on run clean, and the oversized ones are refused', async () => {
  for (const seed of [1, 2, 3, 4]) {
    const r = await runSimulation({ seed, forwardProposals: true, oversizedProposals: true })
    assert.ok(r.ok, `seed ${seed}: ${JSON.stringify({ violations: r.violations, liveness: r.liveness, linearizability: r.linearizability })}`)
    assert.ok(r.coverage.forwardProposals)
    assert.ok(r.coverage.oversizedRefused > 0, `seed ${seed} refused ${r.coverage.oversizedRefused}`)
  }
})

test.run()

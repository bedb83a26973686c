/**
 * The pure failure detector, step by step on hand-chosen times: phi grows with silence,
 * suspicion is not death, death needs the silence bound and independent confirmations,
 * refused connections shorten the bound, a starved observer accuses nobody, a heartbeat
 * revives, a refuted suspicion raises the incarnation, failover holds deaths back.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { FailureDetector, phiOf } from '../../src/agent/index.js'
import type { Heartbeat, Transition } from '../../src/agent/index.js'

const hb = (from: string, suspects: string[] = [], refused: string[] = [], incarnation = 0): Heartbeat => ({ from, incarnation, suspects, refused })

/** Runs ticks every 100 ms from `from` to `to`, feeding heartbeats from `senders` every 200 ms; returns the transitions. */
function run (d: FailureDetector, from: number, to: number, senders: (t: number) => Heartbeat[]): Transition[] {
  const out: Transition[] = []
  for (let t = from; t <= to; t += 100) {
    if (t % 200 === 0) for (const h of senders(t)) { const x = d.receive(h, t); if (x !== undefined) out.push(x) }
    out.push(...d.tick(t))
  }
  return out
}

test('phi grows with silence beyond the mean', () => {
  assert.ok(phiOf(200, 200, 100) < 1)
  assert.ok(phiOf(1000, 200, 100) > 8)
  assert.ok(phiOf(400, 200, 100) < phiOf(600, 200, 100))
})

test('a silent peer becomes suspect, and dead only after deadAfterSilenceMs with a second observer agreeing', () => {
  const d = new FailureDetector({ self: 'a', peers: ['b', 'c'] }, 0)
  // b and c heartbeat until 2000; then b goes silent while c keeps gossiping that it suspects b.
  const ts = run(d, 0, 12_000, (t) => t <= 2000 ? [hb('b'), hb('c')] : [hb('c', t > 3000 ? ['b'] : [])])
  const suspect = ts.find((x) => x.node === 'b' && x.status === 'suspect')!
  const dead = ts.find((x) => x.node === 'b' && x.status === 'dead')!
  assert.ok(suspect.at > 2000 && suspect.at < 3500, `suspect at ${suspect.at}`)
  assert.is(dead.at, 7000, 'dead once silent for deadAfterSilenceMs (5000)')
  assert.is(ts.filter((x) => x.status === 'dead').length, 1)
  assert.not.ok(ts.some((x) => x.node === 'c'))
})

test('without a confirming observer, a silent peer stays suspect', () => {
  const d = new FailureDetector({ self: 'a', peers: ['b', 'c'] }, 0)
  const ts = run(d, 0, 12_000, (t) => t <= 2000 ? [hb('b'), hb('c')] : [hb('c')])
  assert.ok(ts.some((x) => x.node === 'b' && x.status === 'suspect'))
  assert.not.ok(ts.some((x) => x.status === 'dead'))
  assert.is(d.status('b'), 'suspect')
})

test('refused connections confirmed by another observer make a peer dead after refusedDeadAfterMs', () => {
  const d = new FailureDetector({ self: 'a', peers: ['b', 'c'] }, 0)
  const ts: Transition[] = []
  ts.push(...run(d, 0, 2000, () => [hb('b'), hb('c')]))
  d.refused('b', 2100)
  ts.push(...run(d, 2100, 6000, () => [hb('c', ['b'], ['b'])]))
  const dead = ts.find((x) => x.node === 'b' && x.status === 'dead')!
  assert.is(dead.at, 3000, 'refusedDeadAfterMs (1000) after the last heartbeat at 2000')
})

test('a starved observer (late tick) accuses nobody, and re-bases the silence it measured', () => {
  const d = new FailureDetector({ self: 'a', peers: ['b', 'c'] }, 0)
  run(d, 0, 2000, () => [hb('b'), hb('c')])
  // a stalls for 3 s: no ticks, no heartbeats processed between 2000 and 5000.
  assert.equal(d.tick(5000), [])
  assert.ok(d.starved(5000))
  const after = run(d, 5100, 9000, () => [hb('b'), hb('c')])
  assert.equal(after, [])
  assert.is(d.heartbeat(5100).suspects.length, 0, 'no suspicion gossiped while starved')
})

test('a heartbeat revives a dead peer; a node that sees itself suspected raises its incarnation', () => {
  const d = new FailureDetector({ self: 'a', peers: ['b'], confirmations: 1 }, 0)
  const ts = run(d, 0, 8000, (t) => t <= 1000 ? [hb('b')] : [])
  assert.ok(ts.some((x) => x.status === 'dead' && x.incarnation === 0))
  const alive = d.receive(hb('b', ['a'], [], 1), 8100)!
  assert.equal(alive, { node: 'b', status: 'alive', incarnation: 1, at: 8100 })
  assert.is(d.incarnation, 1, 'a was named a suspect by b')
})

test('a peer never heard from is not suspected by phi before startupGraceMs, and is after it', () => {
  const d = new FailureDetector({ self: 'a', peers: ['b', 'c'] }, 0)
  const ts = run(d, 0, 4000, () => [hb('c')])
  const suspect = ts.find((x) => x.node === 'b' && x.status === 'suspect')!
  assert.is(suspect.at, 2000, 'b is silent from the start, suspected once the startup grace is over')
  assert.not.ok(ts.some((x) => x.node === 'c'))
})

test('after failover(), no death is declared for failoverGraceMs', () => {
  const d = new FailureDetector({ self: 'a', peers: ['b'], confirmations: 1, failoverGraceMs: 4000 }, 0)
  run(d, 0, 1000, () => [hb('b')])
  d.failover(5000)
  const ts = run(d, 1100, 12_000, () => [])
  assert.is(ts.find((x) => x.status === 'dead')!.at, 9000, 'held back until failover + grace, though silent since 1000')
})

test('options are checked: unknown keys, self among peers, non-integers', () => {
  assert.throws(() => new FailureDetector({ self: 'a', peers: ['b'], phiSuspekt: 3 } as never, 0), /did you mean "phiSuspect"/)
  assert.throws(() => new FailureDetector({ self: 'a', peers: ['a'] }, 0), /peers/)
  assert.throws(() => new FailureDetector({ self: 'a', peers: ['b'], tickMs: 0.5 }, 0), /tickMs/)
})

test.run()

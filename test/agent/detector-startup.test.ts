/**
 * The failure detector at startup: a peer whose connections are refused before it was ever
 * heard from is within its startup grace, like a silent one (its process may not be up yet:
 * a station whose agents start after it); once the grace is over, or once it was heard and
 * then refused, it is suspected and declared dead as before.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { FailureDetector } from '../../src/agent/failure-detector.js'
import type { Transition } from '../../src/agent/failure-detector.js'

const statuses = (ts: readonly Transition[]): string[] => ts.map((t) => `${t.node}:${t.status}`)

function run (d: FailureDetector, from: number, to: number, each: (now: number) => void = () => {}): string[] {
  const out: string[] = []
  for (let now = from; now <= to; now += 100) { each(now); out.push(...statuses(d.tick(now))) }
  return out
}

test('refused connects to a never-heard peer are no evidence within startupGraceMs, and are after it', () => {
  const d = new FailureDetector({ self: 'a', peers: ['b'], startupGraceMs: 3000, confirmations: 1 }, 0)
  assert.equal(run(d, 100, 2900, (now) => { d.refused('b', now) }), [], 'nothing within the grace')
  const later = run(d, 3000, 5000, (now) => { d.refused('b', now) })
  assert.ok(later.includes('b:suspect') && later.includes('b:dead'), later.join(' '))
})

test('a peer heard from and then refused is suspected at once, grace or not', () => {
  const d = new FailureDetector({ self: 'a', peers: ['b'], startupGraceMs: 10_000, confirmations: 1 }, 0)
  d.receive({ from: 'b', incarnation: 0, suspects: [], refused: [] }, 100)
  d.refused('b', 200)
  const out = run(d, 300, 2000)
  assert.equal(out[0], 'b:suspect')
  assert.ok(out.includes('b:dead'), out.join(' '))
})

test.run()

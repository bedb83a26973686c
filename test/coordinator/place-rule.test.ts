/**
 * The place-new rule (src/coordinator/place-rule.ts): a node-alive places every declared,
 * unplaced instance over the eligible up nodes (least loaded, anti-affinity kept) and orders
 * their starts; placed, stopped or ineligible instances are left alone; the breaker holds it.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { BUILTIN_RULES, placeNewRule, simulate } from '../../src/coordinator/index.js'
import { host, populate } from './helpers.js'

const rules = [...BUILTIN_RULES, placeNewRule]
const alive = (node: string) => ({ type: 'node-alive' as const, node, observer: node, at: 2000 })
const starts = (d: ReturnType<typeof simulate>): string[] => d.commands.filter((c) => c.command.kind === 'start').map((c) => `${(c.command as { instance: string }).instance}@${c.node}`).sort()

test('a node-alive places every unplaced instance over the up nodes, spreading an anti-affinity group', async () => {
  const h = host()
  await populate(h, [{ id: 'w1' }, { id: 'w2' }, { id: 'w3', state: 'dead' }], [
    { id: 'a', group: 'g', state: 'starting' }, { id: 'b', group: 'g', state: 'starting' }, { id: 'c', state: 'starting' }
  ])
  const d = simulate(h.machine, alive('w1'), { rules, fence: { lease: 'coord', token: 3 } })
  assert.equal(starts(d), ['a@w1', 'b@w2', 'c@w1'])
  assert.ok(d.rules.includes('place-new'))
  assert.ok(d.commands.every((c) => c.command.fence.token === 3))
  assert.ok(d.notes.some((n) => n.includes('placed a on w1, b on w2, c on w1')), d.notes.join('; '))
})

test('placed and stopped instances are not its concern, and an instance with no eligible node waits', async () => {
  const h = host()
  await populate(h, [{ id: 'w1' }], [
    { id: 'placed', on: 'w1' }, { id: 'off', state: 'stopped' }, { id: 'db', nodeKind: 'storage', state: 'starting' }
  ])
  const d = simulate(h.machine, alive('w1'), { rules, fence: { lease: 'coord', token: 1 } })
  // node-failure restarts what is placed on the announcing node; place-new adds nothing.
  assert.equal(starts(d), ['placed@w1'])
  assert.not.ok(d.rules.includes('place-new'))
})

test('with the circuit breaker open nothing is placed', async () => {
  const h = host()
  await populate(h, [{ id: 'w1' }, { id: 'w2', state: 'dead' }, { id: 'w3', state: 'dead' }], [{ id: 'a', state: 'starting' }])
  const d = simulate(h.machine, alive('w1'), { rules, fence: { lease: 'coord', token: 1 } })
  assert.equal(starts(d), [])
})

test.run()

/**
 * Golden tests of the built-in rules: each file in test/coordinator/testdata is one
 * `(graph, input) -> (change, commands, phases, notes)` case, run through `simulate`. The
 * expected half was produced once with QUORATE_UPDATE_GOLDEN=1 and then read and checked by
 * hand against the rules' documentation (docs/coordinator.md); a rule change that alters any
 * decision fails here and shows the difference.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { ref, simulate } from './imports.js'
import type { RuleInput } from './imports.js'
import type { HaEvent } from '../../src/agent/protocol.js'
import { host, populate } from './helpers.js'
import type { InstanceSpec, NodeSpec } from './helpers.js'

const dir = new URL('../../../test/coordinator/testdata/', import.meta.url)
const update = process.env.QUORATE_UPDATE_GOLDEN === '1'

interface Fixture {
  readonly description: string
  readonly settings?: Record<string, number>
  readonly nodes: NodeSpec[]
  readonly instances: InstanceSpec[]
  readonly phases?: Array<{ rule: string, subject: string, phase: string, data?: Record<string, unknown>, wakeAt?: number }>
  /** Commands already in flight (outbox entries), to exercise the throttle. */
  readonly inFlight?: number
  /** Copies left on a node that was dead when its instances moved. */
  readonly stale?: Array<{ node: string, instance: string }>
  readonly input: HaEvent | RuleInput
  expect?: unknown
}

const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()

test('there are golden fixtures for every built-in rule', () => {
  assert.ok(files.length >= 12, `${files.length} fixtures`)
})

for (const file of files) {
  const fixture = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as Fixture
  test(`golden ${file}: ${fixture.description}`, async () => {
    const h = host()
    await populate(h, fixture.nodes, fixture.instances)
    if ((fixture.phases?.length ?? 0) > 0 || (fixture.inFlight ?? 0) > 0 || (fixture.stale?.length ?? 0) > 0) {
      const tx = h.graph.transaction()
      for (const p of fixture.phases ?? []) tx.put(ref('ha.phase', `phase:${p.rule}:${p.subject}`), { rule: p.rule, subject: p.subject, phase: p.phase, data: JSON.stringify(p.data ?? {}), ...(p.wakeAt === undefined ? {} : { wakeAt: p.wakeAt }) })
      for (const s of fixture.stale ?? []) tx.put(ref('ha.stale', `stale:${s.node}:${s.instance}`), s)
      for (let i = 0; i < (fixture.inFlight ?? 0); i++) tx.put(ref('ha.outbox', `out:busy-${i}`), { node: 'elsewhere', command: '{}', decision: 0 })
      await tx.commit()
    }
    const d = simulate(h.machine, fixture.input, { eventId: file.replace(/\.json$/, ''), fence: { lease: 'quorate/coordinator', token: 42 }, ...(fixture.settings === undefined ? {} : { settings: fixture.settings }) })
    const got = JSON.parse(JSON.stringify({ rules: d.rules, ops: d.ops, commands: d.commands, phases: d.phases, notes: d.notes })) as unknown
    if (update) {
      fixture.expect = got
      writeFileSync(new URL(file, dir), JSON.stringify(fixture, null, 2) + '\n')
    } else assert.equal(got, fixture.expect)
  })
}

test.run()

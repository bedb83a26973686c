/**
 * Decision batching: several queued events decided into one fenced entry give exactly the
 * decisions one entry per event gives (a decision that read what an earlier one of the batch
 * wrote starts the next batch), each decision replays on the graph at its recorded index, and
 * an entry that does not apply loses and repeats nothing: its events are decided again one per
 * entry, so a bad event is recorded as refused and the others take effect once.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { decodeCommand } from '../../src/graph/codec.js'
import { BUILTIN_RULES, Coordinator, readDecision, ref, replayDecision } from './imports.js'
import type { CoordinatorOptions, DecisionRecord, Rule } from './imports.js'
import { RecordingAgents, emit, host, machineAt, populate, schema, until } from './helpers.js'
import type { Host } from './helpers.js'

const NODES = [{ id: 'n1' }, { id: 'n2' }, { id: 'n3' }]
const INSTANCES = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i) => ({ id, on: `n${1 + (i % 3)}`, state: 'starting' }))

/** Started reports for every instance, a second failure of one instance, a node death: reads that overlap and reads that do not. */
async function emitMix (h: Host): Promise<void> {
  let k = 0
  for (const i of INSTANCES) await emit(h, `ev-${++k}`, { type: 'instance-started', node: i.on, instance: i.id, token: 1, pid: 1, at: 2000 + k })
  await emit(h, `ev-${++k}`, { type: 'instance-exited', node: 'n1', instance: 'a', exitCode: 1, signal: null, at: 2100 })
  await emit(h, `ev-${++k}`, { type: 'instance-exited', node: 'n2', instance: 'b', exitCode: 1, signal: null, at: 2101 })
  await emit(h, `ev-${++k}`, { type: 'node-dead', node: 'n3', observer: 'm', at: 2200 })
  await emit(h, `ev-${++k}`, { type: 'instance-started', node: 'n1', instance: 'a', token: 1, pid: 2, at: 2300 })
}

async function runAll (batchMaxEvents: number, rules: readonly Rule[] = BUILTIN_RULES, extra: Partial<CoordinatorOptions> = {}): Promise<{ h: Host, c: Coordinator, records: DecisionRecord[], agents: RecordingAgents }> {
  const h = host(); const clock = new ManualClock(); const agents = new RecordingAgents()
  await populate(h, NODES, INSTANCES)
  await emitMix(h)
  const total = h.machine.events.list().length
  const stop = new AbortController()
  const c = new Coordinator({ machine: h.machine, submit: h.submit, now: () => h.time, schema, channel: agents, fence: { lease: 'coord', token: 3 }, clock, rules, batchMaxEvents, ...extra })
  const run = c.run(stop.signal)
  await until(clock, () => h.machine.events.list().length === 0 && h.graph.local().byKind('ha.outbox').length === 0)
  stop.abort()
  await run
  const records: DecisionRecord[] = []
  for (let seq = 1; ; seq++) { const r = readDecision(h.graph.local(), seq); if (r === undefined) break; records.push(r) }
  assert.equal(records.filter((r) => r.input.kind === 'event').length, total, 'every event decided once')
  return { h, c, records, agents }
}

const essence = (r: DecisionRecord): unknown => ({ input: r.input, rules: r.rules, ops: r.ops, commands: r.commands, phases: r.phases, notes: r.notes })

test('batched decisions equal one-per-entry decisions, in fewer entries', async () => {
  const alone = await runAll(1)
  const batched = await runAll(64)
  assert.equal(batched.records.map(essence), alone.records.map(essence))
  assert.equal(batched.agents.executed.map((e) => [e.node, e.command.id]), alone.agents.executed.map((e) => [e.node, e.command.id]))
  assert.ok(batched.c.stats.decisionEntries < alone.c.stats.decisionEntries, `${batched.c.stats.decisionEntries} entries batched vs ${alone.c.stats.decisionEntries}`)
  assert.equal(alone.c.stats.decisionEntries, alone.c.stats.decisions)
  // The two exits of 'a' (read after its own started report) and the node death (which reads n3's instances) saw the batch's earlier writes.
  const a = batched.h.graph.local().get(ref('ha.instance', 'a'))!
  assert.equal(a.fields.failures, 1)
})

test('a decision of a batch replays on the graph at its recorded index', async () => {
  const { h, records } = await runAll(64)
  for (const r of records) {
    const replay = replayDecision(machineAt(h, r.graphIndex), r)
    assert.ok(replay.matches, `decision ${r.seq}: ${replay.differences.join('; ')}`)
  }
})

test('the byte bound splits a batch', async () => {
  const wide = await runAll(64)
  const narrow = await runAll(64, BUILTIN_RULES, { batchMaxBytes: 1 })
  assert.equal(narrow.c.stats.decisionEntries, narrow.c.stats.decisions, 'each decision over the bound is alone in its entry')
  assert.equal(narrow.records.map(essence), wide.records.map(essence))
})

test('a batch whose entry is refused is retried one event per entry: the bad event is recorded as refused, the others take effect once', async () => {
  // A rule whose change for one event names a resource that does not exist: the graph refuses it.
  const broken: Rule = {
    name: 'broken',
    on: ['instance-started'],
    decide: ({ event }) => (event?.type === 'instance-started' && event.instance === 'c' && event.pid === 1
      ? { change: (tx) => { tx.update(ref('ha.node', 'no-such-node'), { state: 'up' }) }, note: 'touches a missing node' }
      : undefined)
  }
  const { h, records } = await runAll(64, [...BUILTIN_RULES, broken])
  const refusedEntries = h.applied.filter((a) => a.status === 'refused')
  assert.ok(refusedEntries.length >= 1, 'the batch carrying the bad change was refused')
  const refusedBatch = decodeCommand(h.log[refusedEntries[0]!.index - 1]!)
  assert.ok(refusedBatch.type === 'tx' && refusedBatch.trim.length > 1, 'it was a batch')
  const bad = records.filter((r) => r.input.kind === 'event' && r.input.id === 'ev-3')
  assert.equal(bad.length, 1)
  assert.match(bad[0]!.notes.join(' '), /refused by the graph: GRAPH_NOT_FOUND/)
  assert.equal(bad[0]!.ops, [])
  // (c and f were on n3, which died: they are starting elsewhere; b failed after its start.)
  for (const id of ['a', 'd', 'e']) assert.equal(h.graph.local().get(ref('ha.instance', id))!.fields.state, 'running', `${id}'s started report took effect`)
  assert.equal(h.graph.local().get(ref('ha.instance', 'b'))!.fields.state, 'failed')
  // No event decided twice: one record per event id.
  const ids = records.flatMap((r) => (r.input.kind === 'event' ? [r.input.id] : []))
  assert.equal(new Set(ids).size, ids.length)
})

test('batchMaxEvents and batchMaxBytes must be positive integers', () => {
  const h = host()
  for (const bad of [{ batchMaxEvents: 0 }, { batchMaxBytes: 1.5 }, { batchMaxEvents: '8' }]) {
    assert.throws(() => new Coordinator({ machine: h.machine, submit: h.submit, schema, channel: new RecordingAgents(), fence: { lease: 'coord', token: 1 }, ...(bad as object) }), /OPTIONS_INVALID|batchMax/)
  }
})

test.run()

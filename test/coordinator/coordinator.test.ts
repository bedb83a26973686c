/**
 * The coordinator on one in-process replica (virtual time): decisions are committed fenced
 * and with their event's trim in one entry, commands go out after the commit with the fence
 * and ids derived from the input, an older coordinator is fenced once a newer one took over,
 * phases survive a change of coordinator, and bad input is refused with stable codes.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { decodeCommand } from '../../src/graph/codec.js'
import { defineSchema } from '../../src/graph/schema.js'
import { isQuorateError } from '../../src/errors.js'
import { BUILTIN_RULES, Coordinator, readDecision, readEpoch, ref, replayDecision, simulate } from './imports.js'
import type { CoordinatorOptions, Rule } from './imports.js'
import { RecordingAgents, emit, host, machineAt, populate, schema, until } from './helpers.js'
import type { Host } from './helpers.js'

function coordinator (h: Host, agents: RecordingAgents, clock: ManualClock, token: number, extra: Partial<CoordinatorOptions> = {}): Coordinator {
  return new Coordinator({ machine: h.machine, submit: h.submit, now: () => h.time, schema, channel: agents, fence: { lease: 'coord', token }, clock, settings: { restartBackoffInitialMs: 100 }, ...extra })
}

async function threeNodes (h: Host): Promise<void> {
  await populate(h, [{ id: 'n1' }, { id: 'n2' }, { id: 'n3' }], [{ id: 'a', on: 'n1' }, { id: 'b', on: 'n1' }, { id: 'c', on: 'n2' }])
}

test('a node-dead event: one fenced entry moves the instances, trims the event and records the decision; then fenced commands with event-derived ids', async () => {
  const h = host(); const clock = new ManualClock(); const agents = new RecordingAgents()
  await threeNodes(h)
  await emit(h, 'ev-1', { type: 'node-dead', node: 'n1', observer: 'm', at: 2000 })
  const stop = new AbortController()
  const c = coordinator(h, agents, clock, 7)
  const run = c.run(stop.signal)
  await until(clock, () => agents.executed.filter((e) => e.command.kind === 'start').length === 2)
  assert.equal(h.machine.events.list().length, 0, 'the event was trimmed')
  const view = h.graph.local()
  // Least loaded first: n3 (empty) takes a, then n2 (one instance) and n3 (a) tie and the lower id takes b.
  assert.equal(view.neighbours('a', 'ha.runs', 'in')[0]?.id, 'n3')
  assert.equal(view.neighbours('b', 'ha.runs', 'in')[0]?.id, 'n2', 'spread over the eligible nodes')
  // The decision's entry carries the fence, the trim and the decision record together.
  const record = readDecision(view, 1)!
  assert.equal(record.input, { kind: 'event', id: 'ev-1', event: { type: 'node-dead', node: 'n1', observer: 'm', at: 2000 }, at: 2000 })
  const entry = decodeCommand(h.log.find((cmd) => { const d = decodeCommand(cmd); return d.type === 'tx' && d.trim.includes('ev-1') })!)
  assert.ok(entry.type === 'tx' && entry.fence?.token === 7 && entry.ops.some((op) => op.op === 'put' && op.id === 'decision:000000000001'))
  const starts = agents.executed.filter((e) => e.command.kind === 'start')
  assert.equal(starts.map((s) => [s.node, s.command.id, s.command.fence.token]), [['n3', 'e:ev-1#0', 7], ['n2', 'e:ev-1#1', 7]])
  // Acknowledged commands leave the outbox.
  await until(clock, () => h.graph.local().byKind('ha.outbox').length === 0)
  stop.abort()
  await run
})

test('a coordinator with an older token is fenced by the graph once a newer one took over, and commits nothing more', async () => {
  const h = host(); const clock = new ManualClock(); const agents = new RecordingAgents()
  await threeNodes(h)
  const newer = new AbortController()
  const run2 = coordinator(h, agents, clock, 9).run(newer.signal)
  await until(clock, () => readEpoch(h.graph.local()).token === 9)
  newer.abort()
  await run2
  await emit(h, 'ev-2', { type: 'node-dead', node: 'n2', observer: 'm', at: 2000 })
  const before = h.graph.local().appliedIndex
  const old = coordinator(h, agents, clock, 4).run(new AbortController().signal)
  let error: unknown
  old.catch((err) => { error = err })
  await until(clock, () => error !== undefined)
  assert.ok(isQuorateError(error, 'LEASE_FENCED'), String(error))
  assert.equal(h.machine.events.list().map((e) => e.id), ['ev-2'], 'the event is still queued for the newer coordinator')
  assert.ok(h.applied.filter((a) => a.index > before).every((a) => a.status !== 'ok'), 'no write of the old coordinator applied')
  assert.equal(agents.executed.filter((e) => e.command.fence.token === 4), [])
})

test('a decision whose commit outcome was unknown is not applied twice, and its commands are sent once with their ids', async () => {
  const h = host(); const clock = new ManualClock(); const agents = new RecordingAgents()
  await threeNodes(h)
  await emit(h, 'ev-3', { type: 'node-dead', node: 'n2', observer: 'm', at: 2000 })
  const submit = h.submit
  let lost = 0
  // The first decision commit applies but its answer is lost (a timeout after commit).
  h.submit = async (command) => {
    const d = decodeCommand(command)
    const r = await submit(command)
    if (d.type === 'tx' && d.trim.length > 0 && lost++ === 0) throw Object.assign(new Error('timeout'), { code: 'RAFT_TIMEOUT' })
    return r
  }
  const stop = new AbortController()
  const run = coordinator(h, agents, clock, 3).run(stop.signal)
  await until(clock, () => agents.executed.some((e) => e.command.kind === 'start') && h.graph.local().byKind('ha.outbox').length === 0)
  stop.abort()
  await run
  assert.equal(agents.executed.filter((e) => e.command.kind === 'start').map((e) => e.command.id), ['e:ev-3#0'])
  assert.equal(h.graph.local().byKind('ha.decision').length, 1, 'one decision recorded')
})

test('a restart backoff is a phase in the graph: a new coordinator resumes it and restarts the instance in place', async () => {
  const h = host(); const clock = new ManualClock(); const agents = new RecordingAgents()
  await threeNodes(h)
  await emit(h, 'ev-4', { type: 'instance-exited', node: 'n2', instance: 'c', exitCode: 1, signal: null, at: 5000 })
  const first = new AbortController()
  const run1 = coordinator(h, agents, clock, 1).run(first.signal)
  await until(clock, () => h.graph.local().byKind('ha.phase').length === 1)
  first.abort()
  await run1
  assert.equal(agents.executed.filter((e) => e.command.kind === 'start'), [], 'still in backoff')
  h.time = 5100 // the wake-up is due (restartBackoffInitialMs 100)
  const second = new AbortController()
  const run2 = coordinator(h, agents, clock, 2).run(second.signal)
  await until(clock, () => agents.executed.some((e) => e.command.kind === 'start'))
  second.abort()
  await run2
  const start = agents.executed.find((e) => e.command.kind === 'start')!
  assert.equal([start.node, start.command.id, start.command.fence.token], ['n2', 'w:restart:c@5100#0', 2])
  assert.equal(h.graph.local().byKind('ha.phase'), [], 'the phase was consumed')
})

test('a custom rule decides on its events, its change and commands committed and sent like the built-in ones', async () => {
  const h = host(); const clock = new ManualClock(); const agents = new RecordingAgents()
  await threeNodes(h)
  const drain: Rule = {
    name: 'drain-on-unhealthy-disk',
    on: ['resource-health'],
    decide: ({ event, view }) => {
      if (event?.type !== 'resource-health' || event.healthy) return undefined
      const instances = view.neighbours(event.node, 'ha.runs')
      return { commands: instances.map((i) => ({ node: event.node, command: { kind: 'stop' as const, instance: i.id } })), note: `drained ${event.node}` }
    }
  }
  await emit(h, 'ev-5', { type: 'resource-health', node: 'n1', resource: 'disk0', healthy: false, detail: 'io errors', at: 100 })
  const stop = new AbortController()
  const run = coordinator(h, agents, clock, 5, { rules: [drain] }).run(stop.signal)
  const stops = (): typeof agents.executed => agents.executed.filter((e) => e.command.kind === 'stop')
  await until(clock, () => stops().length === 2)
  stop.abort()
  await run
  assert.equal(stops().map((e) => `${e.node} ${e.command.kind} ${(e.command as { instance: string }).instance}`), ['n1 stop a', 'n1 stop b'])
  assert.equal(readDecision(h.graph.local(), 1)?.notes, ['drain-on-unhealthy-disk: drained n1'])
})

test('a malformed payload in the queue is trimmed with a decision of no rule instead of crashing or wedging the coordinator', async () => {
  const h = host(); const clock = new ManualClock(); const agents = new RecordingAgents()
  await threeNodes(h)
  await h.events.emit({ id: 'junk', payload: new TextEncoder().encode('{"type":"nope"}') })
  await emit(h, 'ev-6', { type: 'node-suspect', node: 'n3', observer: 'm', at: 1 })
  const stop = new AbortController()
  const run = coordinator(h, agents, clock, 1).run(stop.signal)
  await until(clock, () => h.machine.events.list().length === 0)
  stop.abort()
  await run
  assert.equal(readDecision(h.graph.local(), 1)?.rules, [])
  assert.equal((h.graph.local().get('n3')?.fields as { state?: string } | undefined)?.state, 'suspect')
})

test('a rule whose change the graph refuses (a missing resource) is recorded as refused and its event consumed; the coordinator goes on', async () => {
  const h = host(); const clock = new ManualClock(); const agents = new RecordingAgents()
  await threeNodes(h)
  const broken: Rule = {
    name: 'updates-a-ghost',
    on: ['resource-health'],
    decide: () => ({ change: (tx) => { tx.update(ref('ha.node', 'ghost'), { state: 'dead' }) }, commands: [{ node: 'n1', command: { kind: 'stop', instance: 'a' } }] })
  }
  await emit(h, 'ev-bad', { type: 'resource-health', node: 'n1', resource: 'd', healthy: false, detail: 'x', at: 1 })
  await emit(h, 'ev-next', { type: 'node-suspect', node: 'n3', observer: 'm', at: 2 })
  const stop = new AbortController()
  const run = coordinator(h, agents, clock, 1, { rules: [broken, ...BUILTIN_RULES] }).run(stop.signal)
  await until(clock, () => h.machine.events.list().length === 0)
  stop.abort()
  await run
  assert.match(readDecision(h.graph.local(), 1)?.notes.join(' ') ?? '', /refused by the graph: GRAPH_NOT_FOUND/)
  assert.equal(agents.executed.filter((e) => e.command.kind === 'stop'), [], 'no command of a refused decision is sent')
  assert.equal((h.graph.local().get('n3')?.fields as { state?: string } | undefined)?.state, 'suspect', 'the next event was handled')
})

test('simulate() gives the decision the coordinator recorded, and replayDecision on the graph as it was matches it', async () => {
  const h = host(); const clock = new ManualClock(); const agents = new RecordingAgents()
  await threeNodes(h)
  const event = { type: 'node-dead', node: 'n1', observer: 'm', at: 2000 } as const
  const whatIf = simulate(h.machine, event, { fence: { lease: 'coord', token: 7 }, eventId: 'ev-7', settings: { restartBackoffInitialMs: 100 } })
  await emit(h, 'ev-7', event)
  const stop = new AbortController()
  const run = coordinator(h, agents, clock, 7).run(stop.signal)
  await until(clock, () => readDecision(h.graph.local(), 1) !== undefined)
  stop.abort()
  await run
  const record = readDecision(h.graph.local(), 1)!
  assert.equal(record.commands, whatIf.commands)
  assert.equal(record.ops, whatIf.ops)
  const replay = replayDecision(machineAt(h, record.graphIndex), record, { settings: { restartBackoffInitialMs: 100 } })
  assert.ok(replay.matches, replay.differences.join('\n'))
  // On the graph as it is now (a moved already), the same input decides differently: replay says so.
  const now = simulate(h.machine, record.input, { fence: { lease: 'coord', token: 7 } })
  assert.not.equal(now.commands, record.commands)
})

test('bad options are refused with stable codes naming the problem', () => {
  const h = host(); const agents = new RecordingAgents()
  const base = { machine: h.machine, submit: h.submit, schema, channel: agents, fence: { lease: 'coord', token: 1 } }
  const code = (f: () => unknown): string | undefined => { try { f(); return undefined } catch (err) { return isQuorateError(err) ? `${err.code}: ${err.message}` : String(err) } }
  assert.match(code(() => new Coordinator({ ...base, retryMS: 5 } as never)) ?? '', /OPTIONS_INVALID: .*"retryMS".*retryMs/)
  assert.match(code(() => new Coordinator({ ...base, fence: { lease: 'coord', token: 0 } })) ?? '', /OPTIONS_INVALID: .*fence.token/)
  assert.match(code(() => new Coordinator({ ...base, settings: { maxInFlight: 0 } })) ?? '', /OPTIONS_INVALID: .*maxInFlight/)
  const plain = defineSchema({ kinds: { x: { fields: {} } }, relations: {} })
  assert.match(code(() => new Coordinator({ ...base, schema: plain })) ?? '', /COORDINATOR_SCHEMA_INVALID/)
  const dup: Rule = { name: 'r', on: [], decide: () => undefined }
  assert.match(code(() => new Coordinator({ ...base, rules: [dup, dup] })) ?? '', /OPTIONS_INVALID: .*distinct/)
})

test.run()

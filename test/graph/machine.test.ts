/**
 * GraphStateMachine as a whole, against a plain model of the events queue and the fence: dedup
 * within the window of replicated time (not local clocks) and within the capacity, the bounded
 * queue, handle trimming events in the same entry as its graph change (both or neither),
 * fencing refused inside apply as a result, and malformed commands refused without a throw.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { GraphStateMachine, encodeCommand } from '../../src/graph/index.js'
import type { GraphCommand, GraphResult } from '../../src/graph/index.js'
import { schema } from './helpers.js'

const WINDOW = 1000
const CAPACITY = 6
const MAX_QUEUED = 4

function machine (): GraphStateMachine {
  return new GraphStateMachine(schema, { events: { dedupWindowMs: WINDOW, dedupCapacity: CAPACITY, maxQueuedEvents: MAX_QUEUED } })
}

const payload = new Uint8Array([1, 2, 3])
const emit = (id: string, time: number): GraphCommand => ({ type: 'emit', time, id, payload })
const node = (id: string, host: string, version?: number): GraphCommand => ({
  type: 'tx', time: 0, expect: version === undefined ? [] : [{ id, version }], ops: [{ op: 'put', id, kind: 'node', fields: { host } }], trim: []
})

/** Commands a producer/consumer mix sends: emits of a few ids, handles that may conflict, fenced writes. */
type Step =
  | { kind: 'emit', id: string, dt: number }
  | { kind: 'handle', ids: string[], stale: boolean, dt: number }
  | { kind: 'fenced', token: number, dt: number }

const EVENT_IDS = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7']
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('emit' as const), id: fc.constantFrom(...EVENT_IDS), dt: fc.nat(400) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('handle' as const), ids: fc.subarray(EVENT_IDS, { minLength: 1, maxLength: 2 }), stale: fc.boolean(), dt: fc.nat(400) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('fenced' as const), token: fc.nat(5), dt: fc.nat(400) }), weight: 2 }
)

interface ModelState {
  time: number
  queue: string[]
  remembered: Array<{ id: string, time: number }>
  version: number
  fence: number
}

/** The plain model: what each step must answer, and the state after it. */
function modelStep (m: ModelState, s: Step, index: number, proposerTime: number): string {
  m.time = Math.max(m.time, proposerTime)
  if (s.kind === 'emit') {
    m.remembered = m.remembered.filter((r) => r.time + WINDOW > m.time)
    if (m.queue.includes(s.id) || m.remembered.some((r) => r.id === s.id)) return 'duplicate'
    if (m.queue.length >= MAX_QUEUED || m.remembered.length >= CAPACITY) return 'EVENTS_QUEUE_FULL'
    m.queue.push(s.id)
    m.remembered.push({ id: s.id, time: m.time })
    return 'stored'
  }
  if (s.kind === 'fenced') {
    if (s.token < m.fence) return 'LEASE_FENCED'
    m.fence = s.token
    m.version = index
    return 'ok'
  }
  if (s.stale && m.version !== 0) return 'GRAPH_CONFLICT'
  if (s.ids.some((id) => !m.queue.includes(id))) return 'EVENTS_NOT_FOUND'
  m.queue = m.queue.filter((id) => !s.ids.includes(id))
  m.version = index
  return 'ok'
}

function command (s: Step, time: number, version: number): GraphCommand {
  if (s.kind === 'emit') return emit(s.id, time)
  const put = { op: 'put' as const, id: 'n0', kind: 'node', fields: { host: 'h' } }
  if (s.kind === 'fenced') return { type: 'tx', time, fence: { name: 'coordinator', token: s.token }, expect: [], ops: [put], trim: [] }
  // A stale handler expects n0 absent (version 0): it conflicts once anyone wrote n0.
  return { type: 'tx', time, expect: [{ id: 'n0', version: s.stale ? 0 : version }], ops: [put], trim: s.ids }
}

function outcome (r: GraphResult): string { return r.status === 'refused' ? r.code : r.status }

test('emits, handles and fenced writes answer what the model answers; the queue and fence end as the model\'s', () => {
  fc.assert(fc.property(fc.array(stepArb, { maxLength: 60 }), fc.array(fc.integer({ min: -300, max: 300 }), { minLength: 1, maxLength: 5 }), (steps, skews) => {
    const sm = machine()
    const m: ModelState = { time: 0, queue: [], remembered: [], version: 0, fence: 0 }
    let clock = 0
    steps.forEach((s, i) => {
      clock += s.dt
      // Proposers' clocks disagree (skewed, even going back); only the replicated maximum counts.
      const proposerTime = Math.max(0, clock + skews[i % skews.length]!)
      const index = i + 1
      const version = sm.graph.get('n0')?.version ?? 0
      const expected = modelStep(m, s, index, proposerTime)
      const got = outcome(sm.apply(encodeCommand(command(s, proposerTime, version)), index))
      assert.is(got, expected, `step ${index} ${JSON.stringify(s)} at ${proposerTime}`)
    })
    assert.equal(sm.events.list().map((e) => e.id), m.queue)
    assert.is(sm.time, m.time)
    assert.is(sm.fenceToken('coordinator'), m.fence)
  }), { seed: 1411, numRuns: 400 })
})

test('a handle whose graph change is refused trims nothing; one that applies trims in the same entry', () => {
  const sm = machine()
  sm.apply(encodeCommand(emit('e1', 10)), 1)
  sm.apply(encodeCommand(node('n0', 'a')), 2)
  const stale: GraphCommand = { type: 'tx', time: 20, expect: [{ id: 'n0', version: 1 }], ops: [{ op: 'update', id: 'n0', fields: { host: 'b' } }], trim: ['e1'] }
  const r1 = sm.apply(encodeCommand(stale), 3)
  assert.is(outcome(r1), 'GRAPH_CONFLICT')
  assert.equal(sm.events.list().map((e) => e.id), ['e1'], 'the event stays queued for a retry')
  const good: GraphCommand = { ...stale, expect: [{ id: 'n0', version: 2 }] }
  const r2 = sm.apply(encodeCommand(good), 4)
  assert.equal(r2, { status: 'ok', index: 4, touched: ['n0'], removed: [], trimmed: ['e1'] })
  assert.equal(sm.events.list(), [])
  assert.is(sm.graph.get('n0')!.fields.host, 'b')
  assert.is(outcome(sm.apply(encodeCommand({ ...good, expect: [] }), 5)), 'EVENTS_NOT_FOUND', 'a second handler of the same event is refused')
})

test('dedup follows replicated time: a retry within the window is a duplicate even after the event was handled', () => {
  const sm = machine()
  assert.is(outcome(sm.apply(encodeCommand(emit('e1', 5000)), 1)), 'stored')
  sm.apply(encodeCommand({ type: 'tx', time: 5100, expect: [], ops: [], trim: ['e1'] }), 2)
  // A proposer whose clock is far behind does not move replicated time back.
  assert.is(outcome(sm.apply(encodeCommand(emit('e1', 100)), 3)), 'duplicate')
  assert.is(outcome(sm.apply(encodeCommand(emit('e1', 5000 + WINDOW - 1)), 4)), 'duplicate')
  assert.is(outcome(sm.apply(encodeCommand(emit('e1', 5000 + WINDOW)), 5)), 'stored', 'forgotten once the window passed')
})

test('a full dedup table refuses new ids with EVENTS_QUEUE_FULL instead of forgetting one early', () => {
  const sm = new GraphStateMachine(schema, { events: { dedupWindowMs: WINDOW, dedupCapacity: 2, maxQueuedEvents: 10 } })
  sm.apply(encodeCommand(emit('a', 0)), 1)
  sm.apply(encodeCommand(emit('b', 1)), 2)
  const r = sm.apply(encodeCommand(emit('c', 2)), 3)
  assert.is(outcome(r), 'EVENTS_QUEUE_FULL')
  assert.equal((r as { details?: unknown }).details, { reason: 'dedup' })
  assert.is(outcome(sm.apply(encodeCommand(emit('a', 3)), 4)), 'duplicate')
  assert.is(outcome(sm.apply(encodeCommand(emit('c', WINDOW)), 5)), 'stored', 'room again once "a" left the window')
})

test('a fenced write is refused inside apply as a result, and the newer token holds', () => {
  const sm = machine()
  const fenced = (token: number, host: string): GraphCommand => ({ ...node('n0', host), fence: { name: 'lease', token } } as GraphCommand)
  assert.is(outcome(sm.apply(encodeCommand(fenced(7, 'new')), 1)), 'ok')
  const r = sm.apply(encodeCommand(fenced(6, 'old')), 2)
  assert.is(outcome(r), 'LEASE_FENCED')
  assert.equal((r as { details?: unknown }).details, { name: 'lease', token: 6, highest: 7 })
  assert.is(sm.graph.get('n0')!.fields.host, 'new')
  assert.is(outcome(sm.apply(encodeCommand(fenced(7, 'again')), 3)), 'ok', 'the same token keeps working')
})

test('a refused transaction does not record its fencing token', () => {
  const sm = machine()
  sm.apply(encodeCommand(node('n0', 'a')), 1)
  const conflicting: GraphCommand = { ...node('n0', 'b', 99), fence: { name: 'lease', token: 9 } } as GraphCommand
  assert.is(outcome(sm.apply(encodeCommand(conflicting), 2)), 'GRAPH_CONFLICT')
  assert.is(sm.fenceToken('lease'), 0)
})

test('malformed commands and invalid events are refused as results, never thrown', () => {
  const sm = machine()
  for (const bytes of [new Uint8Array(0), new Uint8Array([0x47]), new Uint8Array([0x47, 1, 9, 0]), new Uint8Array([1, 2, 3])]) {
    assert.is(outcome(sm.apply(bytes, 1)), 'GRAPH_COMMAND_INVALID')
  }
  assert.is(outcome(sm.apply(encodeCommand(emit('', 0)), 2)), 'EVENTS_EVENT_INVALID')
  const unknownKind: GraphCommand = { type: 'tx', time: 0, expect: [], ops: [{ op: 'put', id: 'x', kind: 'nope', fields: {} }], trim: [] }
  assert.is(outcome(sm.apply(encodeCommand(unknownKind), 3)), 'GRAPH_KIND_UNKNOWN')
  const badField: GraphCommand = { type: 'tx', time: 0, expect: [], ops: [{ op: 'put', id: 'x', kind: 'node', fields: { host: 3 } }], trim: [] }
  assert.is(outcome(sm.apply(encodeCommand(badField), 4)), 'GRAPH_FIELD_INVALID')
})

test('watch history keeps at least historyEntries changes; older ones are reported trimmed', () => {
  const sm = new GraphStateMachine(schema, { historyEntries: 4 })
  for (let i = 1; i <= 20; i++) sm.apply(encodeCommand(node('n0', `h${i}`)), i)
  const kept = sm.changesSince(0 + sm.historyFloor)
  assert.ok(kept.length >= 4 && kept.length <= 5, `${kept.length} kept`)
  assert.is(kept[kept.length - 1]!.index, 20)
  assert.equal(kept.map((c) => c.index), Array.from({ length: kept.length }, (_, i) => 21 - kept.length + i))
  assert.throws(() => sm.changesSince(sm.historyFloor - 1), (e: { code: string }) => e.code === 'GRAPH_HISTORY_TRIMMED')
  assert.equal(sm.changesSince(19).map((c) => c.index), [19, 20])
})

test('an observer that throws neither fails the apply nor silences the other observers, and is reported as a warning', async () => {
  const sm = machine()
  let heard = 0
  const warned = new Promise<Error & { code?: string }>((resolve) => { process.once('warning', resolve) })
  sm.onChange(() => { throw new Error('observer bug') })
  sm.onChange(() => { heard++ })
  assert.is(outcome(sm.apply(encodeCommand(node('n0', 'a')), 1)), 'ok')
  assert.is(heard, 1)
  const warning = await warned
  assert.match(warning.message, /observer bug/)
  assert.is((warning.cause as Error).message, 'observer bug')
  assert.is(warning.code, 'QUORATE_GRAPH_OBSERVER_FAILED')
})

test('with a logger, a throwing observer is a warn line carrying the error and code, not a process warning', async () => {
  const lines: Array<{ obj: Record<string, unknown>, msg: string | undefined }> = []
  const warn = (obj: Record<string, unknown>, msg?: string): void => { lines.push({ obj, msg }) }
  const ignore = (): void => {}
  const sm = new GraphStateMachine(schema, { logger: { trace: ignore, debug: ignore, info: ignore, warn, error: ignore, fatal: ignore } })
  let processWarnings = 0
  const onWarning = (): void => { processWarnings++ }
  process.on('warning', onWarning)
  try {
    sm.onChange(() => { throw new Error('observer bug') })
    assert.is(outcome(sm.apply(encodeCommand(node('n0', 'a')), 1)), 'ok')
    await new Promise((resolve) => setImmediate(resolve)) // process warnings arrive on a later tick
  } finally {
    process.off('warning', onWarning)
  }
  assert.is(lines.length, 1)
  assert.is(lines[0]!.obj.code, 'QUORATE_GRAPH_OBSERVER_FAILED')
  assert.is((lines[0]!.obj.err as Error).message, 'observer bug')
  assert.match(lines[0]!.msg ?? '', /a graph change observer threw/)
  assert.is(processWarnings, 0)
  assert.throws(() => new GraphStateMachine(schema, { logger: {} as never }), /option "logger" must be a pino-compatible logger/)
})

test('options are validated: unknown keys and wrong types are rejected with the field named', () => {
  assert.throws(() => new GraphStateMachine(schema, { bogus: 1 } as never), /bogus/)
  assert.throws(() => new GraphStateMachine(schema, { events: { dedupWindowMs: -1 } }), /events\.dedupWindowMs/)
  assert.throws(() => new GraphStateMachine(schema, { events: { nope: 1 } as never }), /events\.nope/)
  assert.throws(() => new GraphStateMachine(schema, { historyEntries: 1.5 }), /historyEntries/)
})

test.run()

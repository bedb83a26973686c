/**
 * The Graph and EventsQueue clients over a `submit` that reaches a local GraphStateMachine (and
 * can be made to fail, lose acknowledgements or time out): commits and their refusals as
 * QuorateErrors, linearizable and stale-ok reads, watches from an index, the producer retrying
 * with backoff on the virtual clock until acknowledged (a retry of a committed event answers
 * 'duplicate' and is stored once), backpressure from a full queue, consumers and handle.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EventsQueue, Graph, GraphStateMachine, ref } from '../../src/graph/index.js'
import type { CommittedChange, StoredEvent, Submit } from '../../src/graph/index.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { SeededRandom } from '../../src/util/random.js'
import { QuorateError } from '../../src/errors.js'
import { schema } from './helpers.js'

type Fault = 'fail' | 'lose-ack' | undefined

/** A machine behind a submit whose next attempts can fail before or after applying. */
function rig (options: { maxQueuedEvents?: number } = {}) {
  const machine = new GraphStateMachine(schema, { events: { maxQueuedEvents: options.maxQueuedEvents ?? 100 } })
  const faults: Fault[] = []
  let barriers = 0
  let attempts = 0
  const submit: Submit = async (command) => {
    attempts++
    await Promise.resolve()
    const fault = faults.shift()
    if (fault === 'fail') throw new QuorateError('RAFT_NOT_LEADER', 'not the leader')
    const result = machine.apply(command, machine.appliedIndex + 1)
    if (fault === 'lose-ack') throw new QuorateError('RAFT_TIMEOUT', 'no answer in time')
    return result
  }
  const clock = new ManualClock(0)
  const common = { machine, submit, barrier: async () => { barriers++ }, now: () => clock.now() }
  const graph = new Graph(schema, common)
  const queue = new EventsQueue({ ...common, clock, random: new SeededRandom(14), backoffInitialMs: 5, backoffMaxMs: 40 })
  return { machine, graph, queue, faults, clock, barriers: () => barriers, attempts: () => attempts }
}

/** Runs virtual time until `p` settles (a bounded number of timers). */
async function settle<T> (clock: ManualClock, p: Promise<T>): Promise<T> {
  let done = false
  p.then(() => { done = true }, () => { done = true })
  for (let i = 0; i < 10_000 && !done; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    if (!done) clock.runNext()
  }
  return await p
}

const n1 = ref('node', 'n1')
const s1 = ref('service', 's1')
const event = (id: string): { id: string, payload: Uint8Array } => ({ id, payload: new TextEncoder().encode(`failure ${id}`) })

test('a commit resolves with what changed; a stale compare-and-set rejects with GRAPH_CONFLICT', async () => {
  const { graph } = rig()
  const r = await graph.transaction().put(n1, { host: 'a' }).put(s1, { port: 80 }).connect('runs', n1, s1).expect(n1, 0).commit()
  assert.equal(r, { status: 'ok', index: 1, touched: ['n1', 's1'], removed: [], trimmed: [] })
  const view = graph.local()
  assert.equal(view.neighbours(s1, 'runs', 'in').map((x) => x.id), ['n1'])
  try {
    await graph.transaction().update(n1, { host: 'b' }).expect(n1, 0).commit()
    assert.unreachable()
  } catch (err) {
    assert.is((err as QuorateError).code, 'GRAPH_CONFLICT')
    assert.equal((err as QuorateError).info?.conflicts, [{ id: 'n1', expected: 0, actual: 1 }])
  }
  assert.is(view.get(n1)?.fields.host, 'a')
})

test('a write under an older fencing token rejects with LEASE_FENCED', async () => {
  const { graph } = rig()
  await graph.transaction().put(n1, { host: 'new' }).fence('coordinator', 3).commit()
  try {
    await graph.transaction().put(n1, { host: 'old' }).fence('coordinator', 2).commit()
    assert.unreachable()
  } catch (err) { assert.is((err as QuorateError).code, 'LEASE_FENCED') }
  assert.is(graph.local().get(n1)?.fields.host, 'new')
})

test('reads are linearizable through the barrier by default, stale-ok on request, and refused without a barrier', async () => {
  const { graph, machine, barriers } = rig()
  await graph.read()
  assert.is(barriers(), 1)
  await graph.read({ linearizable: false })
  assert.is(barriers(), 1)
  const bare = new Graph(schema, { machine, submit: async () => null })
  await bare.read()
  try { await bare.read({ linearizable: true }); assert.unreachable() } catch (err) { assert.is((err as QuorateError).code, 'OPTIONS_INVALID') }
})

test('a watch from 0 on a fresh replica starts at the first change', async () => {
  const { graph } = rig()
  await graph.transaction().put(n1, { host: 'a' }).commit()
  const abort = new AbortController()
  for await (const c of graph.watch(0, { signal: abort.signal })) {
    assert.is(c.index, 1)
    abort.abort()
  }
})

test('a watch delivers committed changes from an index, then new ones, and ends when aborted', async () => {
  const { graph } = rig()
  await graph.transaction().put(n1, { host: 'a' }).commit()
  await graph.transaction().put(s1, { port: 1 }).commit()
  const abort = new AbortController()
  const seen: CommittedChange[] = []
  const watching = (async () => {
    for await (const c of graph.watch(2, { signal: abort.signal })) {
      seen.push(c)
      if (seen.length === 2) abort.abort()
    }
  })()
  await new Promise((resolve) => setImmediate(resolve))
  await graph.transaction().connect('runs', n1, s1).commit()
  await watching
  assert.equal(seen.map((c) => c.index), [2, 3])
  assert.equal(seen[1]!.type === 'tx' ? seen[1]!.ops : null, [{ op: 'connect', relation: 'runs', from: 'n1', to: 's1' }])
})

test('emit retries through failures and a lost acknowledgement: answered duplicate, stored exactly once', async () => {
  const { queue, machine, faults, clock, attempts } = rig()
  faults.push('fail', 'lose-ack', 'fail')
  const answer = await settle(clock, queue.emit(event('e1')))
  assert.is(answer, 'duplicate', 'the attempt that committed lost its ack; the retry learns it is stored')
  assert.is(attempts(), 4)
  assert.equal(machine.events.list().map((e) => e.id), ['e1'])
  assert.is(await settle(clock, queue.emit(event('e2'))), 'stored')
})

test('emit is aborted by its signal (ABORTED), and refuses an invalid event at once', async () => {
  const { queue, faults, clock } = rig()
  for (let i = 0; i < 100; i++) faults.push('fail')
  const abort = new AbortController()
  const p = queue.emit(event('e1'), { signal: abort.signal })
  clock.setTimeout(() => { abort.abort() }, 100)
  try { await settle(clock, p); assert.unreachable() } catch (err) { assert.is((err as QuorateError).code, 'ABORTED') }
  try { await queue.emit({ id: '', payload: new Uint8Array(0) }); assert.unreachable() } catch (err) { assert.is((err as QuorateError).code, 'EVENTS_EVENT_INVALID') }
})

test('a full queue pushes back: emit waits and retries until the consumer trims, nothing acknowledged is lost', async () => {
  const { queue, graph, machine, clock } = rig({ maxQueuedEvents: 2 })
  await settle(clock, queue.emit(event('a')))
  await settle(clock, queue.emit(event('b')))
  let answered: string | undefined
  const blocked = queue.emit(event('c')).then((a) => { answered = a })
  for (let i = 0; i < 20; i++) { await new Promise((resolve) => setImmediate(resolve)); clock.runNext() }
  assert.is(answered, undefined, 'still waiting while the queue is full')
  await queue.handle(['a'], graph.transaction().put(n1, { host: 'recovered' }))
  await settle(clock, blocked)
  assert.is(answered, 'stored')
  assert.equal(machine.events.list().map((e) => e.id), ['b', 'c'])
})

test('a replacement consumer gets every untrimmed event; handle trims with its change', async () => {
  const { queue, graph, clock } = rig()
  for (const id of ['e1', 'e2', 'e3']) await settle(clock, queue.emit(event(id)))
  const first = new AbortController()
  const got: StoredEvent[] = []
  for await (const e of queue.consume(0, { signal: first.signal })) {
    got.push(e)
    await queue.handle([e.id], graph.transaction().put(ref('node', `for-${e.id}`), { host: 'h' }))
    break // the first consumer dies after handling one event
  }
  assert.equal(got.map((e) => e.id), ['e1'])
  const second = new AbortController()
  const again: string[] = []
  const consuming = (async () => {
    for await (const e of queue.consume(0, { signal: second.signal })) {
      again.push(e.id)
      if (again.length === 3) second.abort()
    }
  })()
  await new Promise((resolve) => setImmediate(resolve))
  await settle(clock, queue.emit(event('e4')))
  await consuming
  assert.equal(again, ['e2', 'e3', 'e4'])
  assert.ok(graph.local().get(ref('node', 'for-e1')) !== undefined)
  try { await queue.handle(['e1'], graph.transaction()); assert.unreachable() } catch (err) { assert.is((err as QuorateError).code, 'EVENTS_NOT_FOUND') }
})

test('client options are validated: unknown keys and wrong types are named', () => {
  const machine = new GraphStateMachine(schema)
  assert.throws(() => new Graph(schema, { machine, submit: async () => null, extra: 1 } as never), /extra/)
  assert.throws(() => new Graph(schema, { machine, submit: 'no' } as never), /submit/)
  assert.throws(() => new EventsQueue({ machine, submit: async () => null, backoffInitialMs: 0 }), /backoffInitialMs/)
})

test.run()

/**
 * A flood: producers emitting at ten times the consumer's rate, on virtual time. The queue
 * stays within its bound (backpressure through EVENTS_QUEUE_FULL and the producers' backoff,
 * not memory), every emit is eventually acknowledged, and every acknowledged event is handled
 * exactly once — none lost, none twice.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EventsQueue, Graph, GraphStateMachine, ref } from '../../src/graph/index.js'
import type { Submit } from '../../src/graph/index.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { SeededRandom } from '../../src/util/random.js'
import { schema } from './helpers.js'

const BOUND = 20
const PRODUCERS = 10
const PER_PRODUCER = 30
/** The consumer handles one event per CONSUMER_MS; each of the 10 producers tries one per PRODUCER_MS: 10x. */
const CONSUMER_MS = 10
const PRODUCER_MS = 10

test('producers at 10x the consumer rate: the queue stays bounded and every acknowledged event is handled once', async () => {
  const clock = new ManualClock(0)
  const machine = new GraphStateMachine(schema, { events: { maxQueuedEvents: BOUND } })
  let highest = 0
  let refusedFull = 0
  const submit: Submit = async (command) => {
    await Promise.resolve()
    const r = machine.apply(command, machine.appliedIndex + 1)
    if (r.status === 'refused' && r.code === 'EVENTS_QUEUE_FULL') refusedFull++
    highest = Math.max(highest, machine.events.size)
    return r
  }
  const options = { machine, submit, now: () => clock.now() }
  const graph = new Graph(schema, options)
  const queue = new EventsQueue({ ...options, clock, random: new SeededRandom(1450), backoffInitialMs: 5, backoffMaxMs: 80 })
  const sleep = async (ms: number): Promise<void> => { await new Promise<void>((resolve) => { clock.setTimeout(resolve, ms) }) }

  const acknowledged: string[] = []
  const producers = Array.from({ length: PRODUCERS }, async (_, p) => {
    for (let i = 0; i < PER_PRODUCER; i++) {
      const id = `p${p}-${i}`
      const answer = await queue.emit({ id, payload: new Uint8Array(16) })
      assert.is(answer, 'stored')
      acknowledged.push(id)
      await sleep(PRODUCER_MS)
    }
  })
  const handled: string[] = []
  const consumer = (async () => {
    while (handled.length < PRODUCERS * PER_PRODUCER) {
      const [next] = await queue.read(0, { linearizable: false, limit: 1 })
      if (next !== undefined) {
        await queue.handle([next.id], graph.transaction().put(ref('node', 'last'), { host: next.id }))
        handled.push(next.id)
      }
      await sleep(CONSUMER_MS)
    }
  })()
  let done = false
  void Promise.all([...producers, consumer]).then(() => { done = true })
  for (let steps = 0; !done && steps < 1_000_000; steps++) {
    await new Promise((resolve) => setImmediate(resolve))
    if (!done) clock.runNext()
  }
  assert.ok(done, 'the flood drained')
  await Promise.all([...producers, consumer])
  assert.ok(highest <= BOUND, `queue peaked at ${highest}`)
  assert.ok(refusedFull > 0, 'producers met backpressure')
  assert.is(new Set(handled).size, PRODUCERS * PER_PRODUCER, 'each event handled once')
  assert.equal([...handled].sort(), [...acknowledged].sort(), 'no acknowledged event lost')
  assert.is(machine.events.size, 0)
})

test.run()

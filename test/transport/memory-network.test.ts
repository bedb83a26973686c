import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { MemoryNetwork, createMemoryCluster } from '../../src/transport/memory.js'
import { message, type Message } from '../../src/raft/types.js'
import type { Timer } from '../../src/util/clock.js'
import { harness, heartbeats, range } from './memory-harness.js'

function throwsCode (fn: () => unknown, code: string, field?: string): void {
  try {
    fn()
  } catch (err) {
    assert.ok(isQuorateError(err), `expected a QuorateError, got ${String(err)}`)
    assert.is(err.code, code)
    if (field !== undefined) assert.match(err.message, field)
    return
  }
  assert.unreachable(`expected ${code}`)
}

async function rejectsCode (p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p
  } catch (err) {
    assert.ok(isQuorateError(err, code as never), `expected ${code}, got ${String(err)}`)
    return
  }
  assert.unreachable(`expected ${code}`)
}

test('delivery never happens inside send(); it happens in the next turn of the clock', async () => {
  const h = await harness(['a', 'b'])
  h.send('a', 'b', 1, 2)
  assert.equal(h.log, [])
  h.clock.runUntilIdle()
  assert.equal(h.received('b', 'a'), [1, 2])
  assert.equal(h.log.map((d) => d.at), [0, 0])
})

test('at zero latency one clock timer delivers every message queued in a turn', async () => {
  const clock = new ManualClock()
  let timersSet = 0
  const counting = {
    now: () => clock.now(),
    setTimeout: (fn: () => void, ms: number): Timer => { timersSet++; return clock.setTimeout(fn, ms) },
    clearTimeout: (t: Timer) => clock.clearTimeout(t)
  }
  const { network, transports } = createMemoryCluster(['a', 'b', 'c'], { clock: counting })
  let delivered = 0
  for (const t of transports.values()) await t.open(() => { delivered++ })
  for (let i = 0; i < 100; i++) {
    transports.get('a')!.send(heartbeats('a', 'b', range(10)))
    transports.get('b')!.send(heartbeats('b', 'c', [i]))
  }
  clock.runUntilIdle()
  assert.is(delivered, 1100)
  assert.is(timersSet, 1)
  assert.is(network.stats().pending, 0)
})

test('a receiver gets the sender\'s message object itself (no copy)', async () => {
  const clock = new ManualClock()
  const { transports } = createMemoryCluster(['a', 'b'], { clock })
  const got: Message[] = []
  await transports.get('a')!.open(() => {})
  await transports.get('b')!.open((m) => { got.push(m) })
  const sent = message({ type: 'append', from: 'a', to: 'b', term: 2, entries: [{ term: 2, index: 1, type: 'command', data: Uint8Array.of(1, 2) }] })
  transports.get('a')!.send([sent])
  clock.runUntilIdle()
  assert.is(got[0], sent)
})

test('messages sent by handlers during a flush are delivered in a later flush, in order', async () => {
  const clock = new ManualClock()
  const { transports } = createMemoryCluster(['a', 'b'], { clock })
  const a = transports.get('a')!
  const b = transports.get('b')!
  const seen: string[] = []
  await a.open((m) => { seen.push(`a${m.context}`); if (m.context < 3) a.send(heartbeats('a', 'b', [m.context + 1])) })
  await b.open((m) => { seen.push(`b${m.context}`); b.send(heartbeats('b', 'a', [m.context])) })
  a.send(heartbeats('a', 'b', [0]))
  clock.runUntilIdle()
  assert.equal(seen, ['b0', 'a0', 'b1', 'a1', 'b2', 'a2', 'b3', 'a3'])
})

test('stats per transport and network-wide count sent, received and dropped', async () => {
  const h = await harness(['a', 'b'])
  h.send('a', 'b', 1, 2, 3)
  h.send('a', 'nobody', 4)
  h.clock.runUntilIdle()
  assert.equal(h.transports.get('a')!.stats(), { sent: 4, received: 0, dropped: 1, duplicated: 0, handlerErrors: 0 })
  assert.equal(h.transports.get('b')!.stats(), { sent: 0, received: 3, dropped: 0, duplicated: 0, handlerErrors: 0 })
  const s = h.net.stats()
  assert.is(s.sent, 4)
  assert.is(s.received, 3)
  assert.is(s.dropped, 1)
  assert.is(s.droppedNoPeer, 1)
  assert.is(s.pending, 0)
})

test('messages to a node that exists but is not open are dropped', async () => {
  const h = await harness(['a'])
  h.net.transport('b')
  h.send('a', 'b', 1)
  h.clock.runUntilIdle()
  assert.is(h.net.stats().droppedNoPeer, 1)
})

test('closing a transport drops what waits in its inbox and later messages for it', async () => {
  const h = await harness(['a', 'b'])
  h.send('a', 'b', 1, 2)
  await h.transports.get('b')!.close()
  h.send('a', 'b', 3)
  h.clock.runUntilIdle()
  assert.equal(h.received('b'), [])
  assert.is(h.transports.get('a')!.stats().dropped, 3)
  assert.is(h.net.stats().pending, 0)
})

test('send() on a closed or never-opened transport drops and counts without throwing', async () => {
  const h = await harness(['a', 'b'])
  const fresh = new MemoryNetwork({ clock: h.clock }).transport('x')
  fresh.send(heartbeats('x', 'b', [1]))
  assert.is(fresh.stats().dropped, 1)
  const a = h.transports.get('a')!
  await a.close()
  a.send(heartbeats('a', 'b', [1, 2]))
  h.clock.runUntilIdle()
  assert.equal(h.received('b'), [])
  assert.is(a.stats().dropped, 2)
  assert.is(h.net.stats().droppedClosed, 2)
})

test('a message whose from is not the sending transport, or that is not an object, is dropped as invalid', async () => {
  const h = await harness(['a', 'b', 'c'])
  h.transports.get('a')!.send([...heartbeats('c', 'b', [1]), null as unknown as Message, ...heartbeats('a', 'b', [2])])
  h.clock.runUntilIdle()
  assert.equal(h.log.map((d) => [d.from, d.context]), [['a', 2]])
  assert.is(h.net.stats().droppedInvalid, 2)
})

test('a message mutated in flight (a broken contract) is dropped as invalid instead of throwing from a timer', async () => {
  const h = await harness(['a', 'b'], { latency: { min: 5, max: 5 } })
  const [m] = heartbeats('a', 'b', [1])
  h.transports.get('a')!.send([m!]);
  (m as { from: string }).from = 'ghost'
  h.clock.runUntilIdle()
  assert.equal(h.log, [])
  assert.is(h.net.stats().droppedInvalid, 1)
  assert.is(h.net.stats().pending, 0)
})

test('transport(id) returns the same instance until it is closed, then a new one that receives', async () => {
  const h = await harness(['a', 'b'])
  const b = h.transports.get('b')!
  assert.is(h.net.transport('b'), b)
  await b.close()
  await rejectsCode(b.open(() => {}), 'TRANSPORT_CLOSED')
  const b2 = h.net.transport('b')
  assert.is.not(b2, b)
  const got: number[] = []
  await b2.open((m) => { got.push(m.context) })
  h.send('a', 'b', 5)
  h.clock.runUntilIdle()
  assert.equal(got, [5])
  assert.is(b2.stats().received, 1)
  assert.is(b.stats().received, 0)
})

test('open() and close() are idempotent; open() honours an aborted signal', async () => {
  const clock = new ManualClock()
  const net = new MemoryNetwork({ clock })
  const a = net.transport('a')
  assert.is(a.status, 'closed')
  await rejectsCode(a.open(() => {}, { signal: AbortSignal.abort() }), 'ABORTED')
  await Promise.all([a.open(() => {}), a.open(() => {})])
  assert.is(a.status, 'open')
  await Promise.all([a.close(), a.close()])
  await a.close()
  assert.is(a.status, 'closed')
})

test('a handler that throws is counted and reported, and the rest of the batch is delivered', async () => {
  const clock = new ManualClock()
  const reported: Array<[string, number, string]> = []
  const { transports } = createMemoryCluster(['a', 'b'], {
    clock,
    onHandlerError: (err, m, to) => { reported.push([(err as Error).message, m.context, to]); throw new Error('listener fails too') }
  })
  const got: number[] = []
  await transports.get('a')!.open(() => {})
  await transports.get('b')!.open((m) => { got.push(m.context); if (m.context === 1) throw new Error('boom') })
  transports.get('a')!.send(heartbeats('a', 'b', [0, 1, 2]))
  clock.runUntilIdle()
  assert.equal(got, [0, 1, 2])
  assert.equal(reported, [['boom', 1, 'b']])
  assert.is(transports.get('b')!.stats().handlerErrors, 1)
})

test('closing the network drops everything in flight, stops its timers and refuses new transports', async () => {
  const h = await harness(['a', 'b'], { latency: { min: 10, max: 10 } })
  h.send('a', 'b', 1, 2)
  h.net.clog('b', 'a')
  h.send('b', 'a', 3)
  await h.net.close()
  await h.net.close()
  assert.is(h.clock.pendingTimers, 0)
  const s = h.net.stats()
  assert.is(s.pending, 0)
  assert.is(s.droppedClosed, 3)
  assert.is(h.transports.get('a')!.status, 'closed')
  throwsCode(() => h.net.transport('c'), 'TRANSPORT_CLOSED')
})

test('invalid options and arguments throw OPTIONS_INVALID naming the field', () => {
  throwsCode(() => new MemoryNetwork({ loss: 2 }), 'OPTIONS_INVALID', 'loss')
  throwsCode(() => new MemoryNetwork({ duplication: -0.1 }), 'OPTIONS_INVALID', 'duplication')
  throwsCode(() => new MemoryNetwork({ latency: { min: 5, max: 1 } }), 'OPTIONS_INVALID', 'latency.max')
  throwsCode(() => new MemoryNetwork({ latency: { min: -1, max: 1 } }), 'OPTIONS_INVALID', 'latency.min')
  throwsCode(() => new MemoryNetwork({ reorder: 'yes' as unknown as boolean }), 'OPTIONS_INVALID', 'reorder')
  throwsCode(() => new MemoryNetwork({ clock: {} as never }), 'OPTIONS_INVALID', 'clock')
  throwsCode(() => new MemoryNetwork({ random: {} as never }), 'OPTIONS_INVALID', 'random')
  const net = new MemoryNetwork()
  throwsCode(() => { net.configure({ loss: Number.NaN }) }, 'OPTIONS_INVALID', 'loss')
  throwsCode(() => net.transport(''), 'OPTIONS_INVALID', 'id')
  throwsCode(() => { net.partition(['a', 'b'], ['b']) }, 'OPTIONS_INVALID', 'groups[1]')
  throwsCode(() => { net.cut('a', 7 as unknown as string) }, 'OPTIONS_INVALID', 'to')
  assert.equal(net.faults, { latency: { min: 0, max: 0 }, loss: 0, duplication: 0, reorder: false })
})

test('configure() changes knobs at run time and keeps fields it was not given', () => {
  const net = new MemoryNetwork()
  net.configure({ loss: 0.25, latency: { min: 1, max: 2 } })
  net.configure({ reorder: true })
  assert.equal(net.faults, { latency: { min: 1, max: 2 }, loss: 0.25, duplication: 0, reorder: true })
})

test.run()

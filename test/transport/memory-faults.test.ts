import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { harness, range } from './memory-harness.js'

test('latency: each message arrives after a delay drawn from [min, max]', async () => {
  const h = await harness(['a', 'b'], { latency: { min: 5, max: 20 }, reorder: true })
  h.send('a', 'b', ...range(200))
  h.clock.runUntilIdle()
  const times = h.log.map((d) => d.at)
  assert.is(times.length, 200)
  assert.ok(times.every((t) => t >= 5 && t <= 20), 'every delay within [5, 20]')
  assert.ok(new Set(times).size > 50, 'delays are spread over the range')
})

test('latency with min = max delivers exactly that much later', async () => {
  const h = await harness(['a', 'b'], { latency: { min: 7, max: 7 } })
  h.send('a', 'b', 1)
  h.clock.advance(6)
  assert.equal(h.log, [])
  h.clock.advance(1)
  assert.equal(h.log, [{ at: 7, from: 'a', to: 'b', context: 1 }])
})

test('without reorder, a link is FIFO even when later messages draw shorter delays', async () => {
  const h = await harness(['a', 'b', 'c'], { latency: { min: 0, max: 50 } })
  for (const i of range(100)) { h.send('a', 'b', i); h.send('c', 'b', i); h.clock.advance(1) }
  h.clock.runUntilIdle()
  assert.equal(h.received('b', 'a'), range(100))
  assert.equal(h.received('b', 'c'), range(100))
})

test('without reorder, a message sent at zero latency waits behind the link\'s messages still in flight', async () => {
  const h = await harness(['a', 'b'], { latency: { min: 10, max: 10 } })
  h.send('a', 'b', 1)
  h.net.configure({ latency: { min: 0, max: 0 } })
  h.send('a', 'b', 2)
  h.clock.runUntilIdle()
  assert.equal(h.received('b'), [1, 2])
})

test('reorder at zero latency shuffles each batch but delivers every message once', async () => {
  const h = await harness(['a', 'b'], { reorder: true })
  h.send('a', 'b', ...range(50))
  h.clock.runUntilIdle()
  const got = h.received('b')
  assert.not.equal(got, range(50))
  assert.equal([...got].sort((x, y) => x - y), range(50))
})

test('loss = 1 drops every message and counts it as loss', async () => {
  const h = await harness(['a', 'b'], { loss: 1 })
  h.send('a', 'b', ...range(10))
  h.clock.runUntilIdle()
  assert.equal(h.log, [])
  assert.is(h.net.stats().droppedLoss, 10)
  assert.is(h.transports.get('a')!.stats().dropped, 10)
})

test('partial loss delivers some messages and drops the rest, each counted once', async () => {
  const h = await harness(['a', 'b'], { loss: 0.5, seed: 3 })
  h.send('a', 'b', ...range(100))
  h.clock.runUntilIdle()
  const s = h.net.stats()
  assert.ok(s.droppedLoss > 0 && s.received > 0, `some lost (${s.droppedLoss}) and some delivered (${s.received})`)
  assert.is(s.droppedLoss + s.received, 100)
  assert.equal(new Set(h.received('b')).size, h.received('b').length)
})

test('duplication = 1 delivers every message twice and counts the copies', async () => {
  const h = await harness(['a', 'b'], { duplication: 1 })
  h.send('a', 'b', 1, 2)
  h.clock.runUntilIdle()
  assert.equal(h.received('b'), [1, 1, 2, 2])
  assert.is(h.transports.get('a')!.stats().duplicated, 2)
  assert.is(h.net.stats().duplicated, 2)
  assert.is(h.net.stats().received, 4)
})

test('partition: nodes in different groups cannot talk, nodes in one group and unnamed nodes can', async () => {
  const h = await harness(['a', 'b', 'c', 'd'])
  h.net.partition(['a', 'b'], ['c'])
  h.send('a', 'b', 1); h.send('a', 'c', 2); h.send('c', 'a', 3); h.send('d', 'a', 4); h.send('c', 'd', 5)
  h.clock.runUntilIdle()
  assert.equal(h.log.map((d) => d.context).sort(), [1, 4, 5])
  assert.is(h.net.stats().droppedUnreachable, 2)
})

test('a new partition replaces the previous one', async () => {
  const h = await harness(['a', 'b', 'c'])
  h.net.partition(['a'], ['b', 'c'])
  h.net.partition(['a', 'b'], ['c'])
  h.send('a', 'b', 1); h.send('b', 'c', 2)
  h.clock.runUntilIdle()
  assert.equal(h.log.map((d) => d.context), [1])
})

test('cut(from, to) blocks one direction only', async () => {
  const h = await harness(['a', 'b'])
  h.net.cut('a', 'b')
  h.send('a', 'b', 1); h.send('b', 'a', 2)
  h.clock.runUntilIdle()
  assert.equal(h.received('b'), [])
  assert.equal(h.received('a'), [2])
})

test('isolate(id) blocks everything to and from that node', async () => {
  const h = await harness(['a', 'b', 'c'])
  h.net.isolate('a')
  h.send('a', 'b', 1); h.send('b', 'a', 2); h.send('b', 'c', 3)
  h.clock.runUntilIdle()
  assert.equal(h.log.map((d) => d.context), [3])
})

test('heal() removes partitions, cuts and isolation', async () => {
  const h = await harness(['a', 'b', 'c'])
  h.net.partition(['a'], ['b', 'c'])
  h.net.cut('b', 'c')
  h.net.isolate('c')
  h.net.heal()
  h.send('a', 'b', 1); h.send('b', 'c', 2); h.send('c', 'a', 3)
  h.clock.runUntilIdle()
  assert.equal(h.log.map((d) => d.context), [1, 2, 3])
})

test('a message in flight when a partition starts is dropped at delivery time', async () => {
  const h = await harness(['a', 'b'], { latency: { min: 10, max: 10 } })
  h.send('a', 'b', 1)
  h.clock.advance(5)
  h.net.partition(['a'], ['b'])
  h.clock.runUntilIdle()
  assert.equal(h.log, [])
  assert.is(h.net.stats().droppedUnreachable, 1)
  assert.is(h.net.stats().pending, 0)
})

test('clog holds a link\'s messages without losing them; unclog delivers them in order', async () => {
  const h = await harness(['a', 'b'])
  h.net.clog('a', 'b')
  h.send('a', 'b', 1, 2); h.send('b', 'a', 9)
  h.clock.advance(1000)
  assert.equal(h.received('b'), [])
  assert.equal(h.received('a'), [9])
  assert.is(h.net.stats().pending, 2)
  h.net.heal()
  h.send('a', 'b', 3)
  h.net.unclog('a', 'b')
  h.clock.runUntilIdle()
  assert.equal(h.received('b'), [1, 2, 3])
  assert.equal(h.log.slice(-3).map((d) => d.at), [1000, 1000, 1000])
})

test('pause holds a node\'s inbound messages while it can still send; resume delivers them in order', async () => {
  const h = await harness(['a', 'b'], { latency: { min: 1, max: 3 } })
  h.net.pause('b')
  h.send('a', 'b', 1, 2, 3); h.send('b', 'a', 9)
  h.clock.advance(100)
  assert.equal(h.received('b'), [])
  assert.equal(h.received('a'), [9])
  h.net.resume('b')
  h.clock.runUntilIdle()
  assert.equal(h.received('b'), [1, 2, 3])
})

test('a handler that pauses its own node holds the rest of the batch ahead of later messages', async () => {
  const h = await harness(['a'])
  const got: number[] = []
  const b = h.net.transport('b')
  await b.open((m) => { got.push(m.context); if (m.context === 1) h.net.pause('b') })
  h.send('a', 'b', 0, 1, 2, 3)
  h.clock.runUntilIdle()
  h.send('a', 'b', 4)
  h.clock.runUntilIdle()
  assert.equal(got, [0, 1])
  h.net.resume('b')
  h.clock.runUntilIdle()
  assert.equal(got, [0, 1, 2, 3, 4])
})

test.run()

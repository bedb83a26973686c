import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import {
  LamportClock, TupleStore, TupleSyncDriver, encodeSyncMessage, negative, positive, type SyncChannel
} from '../../src/lamport/index.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { randomInt, SeededRandom } from '../../src/util/random.js'
import { visibleSet } from './helpers.js'

/** Byte channels between nodes on a ManualClock, losing, duplicating and delaying messages. */
function network (clock: ManualClock, random: SeededRandom, loss: number): (node: number) => SyncChannel {
  const handlers = new Map<number, (from: number, bytes: Uint8Array) => void>()
  return (node) => ({
    send (to, bytes) {
      for (let copy = random.next() < 0.1 ? 2 : 1; copy > 0; copy--) {
        if (random.next() < loss) continue
        clock.setTimeout(() => handlers.get(to)?.(node, bytes), randomInt(random, 1, 50))
      }
    },
    onReceive (handler) { handlers.set(node, handler) }
  })
}

async function chain (loss: number, seed: number): Promise<{ clock: ManualClock, stores: TupleStore[], drivers: TupleSyncDriver[] }> {
  const clock = new ManualClock()
  const channel = network(clock, new SeededRandom(seed), loss)
  const stores: TupleStore[] = []
  const drivers: TupleSyncDriver[] = []
  for (const node of [1, 2, 3]) {
    const store = new TupleStore({ clock: new LamportClock({ node }), mirrors: [1, 2, 3].filter((n) => n !== node), time: clock, retentionMs: 60_000 })
    await store.open()
    stores.push(store)
    drivers.push(new TupleSyncDriver({ store, channel: channel(node), neighbours: [node - 1, node + 1].filter((n) => n >= 1 && n <= 3), intervalMs: 100, clock }))
  }
  return { clock, stores, drivers }
}

async function runFor (clock: ManualClock, drivers: TupleSyncDriver[], ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 10) {
    clock.advance(10)
    for (const d of drivers) await d.idle()
  }
}

test('drivers over a lossy, duplicating channel bring a chain of mirrors to the same tuples', async () => {
  const { clock, stores, drivers } = await chain(0.3, 7)
  for (const d of drivers) d.start()
  const [a, b, c] = stores as [TupleStore, TupleStore, TupleStore]
  await a.transact([positive(['job', 1]), positive(['job', 2])])
  await c.transact([positive(['cfg', 'x'])])
  await runFor(clock, drivers, 2000)
  await b.transact([negative(['job', 1])])
  await runFor(clock, drivers, 2000)
  for (const d of drivers) d.stop()
  assert.equal(visibleSet(a), visibleSet(c))
  assert.equal(visibleSet(b), visibleSet(c))
  assert.ok(c.has(['job', 2]) && !c.has(['job', 1]) && a.has(['cfg', 'x']))
  assert.ok((drivers[0] as TupleSyncDriver).stats.transactionsApplied >= 2)
  const pending = clock.pendingTimers
  await runFor(clock, drivers, 1000)
  assert.ok(clock.pendingTimers <= pending, 'stopped drivers set no new timers')
})

test('a driver reports a message whose sender lies about its node, and keeps going', async () => {
  const clock = new ManualClock()
  let receive: (from: number, bytes: Uint8Array) => void = () => {}
  const errors: unknown[] = []
  const store = new TupleStore({ clock: new LamportClock({ node: 1 }), mirrors: [2, 3], time: clock })
  await store.open()
  const other = new TupleStore({ clock: new LamportClock({ node: 2 }), mirrors: [1, 3], time: clock })
  await other.open()
  const driver = new TupleSyncDriver({ store, channel: { send () {}, onReceive (h) { receive = h } }, neighbours: [2], clock, onError: (e) => errors.push(e) })
  receive(3, encodeSyncMessage(other.syncRequest()))
  receive(2, encodeSyncMessage(other.syncRequest()))
  await driver.idle()
  assert.is(errors.length, 1)
  assert.ok(isQuorateError(errors[0], 'TUPLE_INVALID'))
  assert.is(driver.stats.requestsAnswered, 1)
})

test('driver options are validated', () => {
  for (const bad of [{}, { store: {}, channel: {}, neighbours: [] }, { neighbours: [-1] }, { intervalMs: 0 }, { nope: 1 }]) {
    try { new TupleSyncDriver(bad as never); assert.unreachable(JSON.stringify(bad)) } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'), String(err))
    }
  }
})

test.run()

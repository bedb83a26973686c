/**
 * Tuple store throughput: assert, cancel (exact and by pattern), prefix query and delta
 * merge rates, then the mirrored sync protocol: replication throughput among 3 replicas
 * and the cost of resyncing one that was away past the retention. Run with
 * `npm run build && node dist/bench/tuples.js [--sync-only]`; writes
 * bench/results/tuples.json and bench/results/tuples-sync.json.
 */
import { writeFileSync } from 'node:fs'
import b from 'benny'
import { MemoryLevel } from 'memory-level'
import {
  ANY, LamportClock, TupleStore, decodeSyncMessage, encodeSyncMessage, encodeTransaction, negative, positive,
  type Delta, type SyncResponse
} from '../src/lamport/index.js'
import { ManualClock } from '../src/testing/manual-clock.js'

const POPULATION = 100_000

async function store (node: number, db?: MemoryLevel): Promise<TupleStore> {
  const s = new TupleStore({ clock: new LamportClock({ node }), ...(db === undefined ? {} : { db, sync: false }) })
  await s.open()
  return s
}

/** 100k tuples ['user', u, item] with 10 items per user. */
async function populated (node: number): Promise<TupleStore> {
  const s = await store(node)
  for (let base = 0; base < POPULATION; base += 1000) {
    const updates = []
    for (let i = base; i < base + 1000; i++) updates.push(positive(['user', Math.floor(i / 10), i % 10]))
    await s.transact(updates)
  }
  return s
}

async function main (): Promise<void> {
  const plain = await store(1)
  const persisted = await store(2, new MemoryLevel())
  const cancelExact = await populated(3)
  const cancelRule = await populated(4)
  const queried = await populated(5)
  const merging = await store(6)
  const source = await store(7)
  const deltas: Delta[] = []
  for (let d = 0; d < 200; d++) {
    const v = source.version
    const updates = []
    for (let i = 0; i < 100; i++) updates.push(positive(['event', d, i]))
    await source.transact(updates)
    deltas.push(source.deltaSince(v))
  }
  let n = 0
  let exact = 0
  let rule = 0
  let q = 0
  let m = 0

  await b.suite(
    'tuples',
    b.add('assert (1 tuple per transaction, memory only)', async () => {
      await plain.transact([positive(['job', n++, 'running'])])
    }),
    b.add('assert (1 tuple per transaction, memory-level)', async () => {
      await persisted.transact([positive(['job', n++, 'running'])])
    }),
    b.add('cancel exact tuple (100k tuples)', async () => {
      const i = exact++ % POPULATION
      await cancelExact.transact([negative(['user', Math.floor(i / 10), i % 10])])
    }),
    b.add('cancel pattern [user, u, ANY] (10 matches, 100k tuples)', async () => {
      await cancelRule.transact([negative(['user', rule++ % (POPULATION / 10), ANY])])
    }),
    b.add('query prefix [user, u, ANY] (10 results of 100k)', () => {
      const r = queried.query(['user', q++ % (POPULATION / 10), ANY])
      if (r.length !== 10) throw new Error('unexpected result size')
    }),
    b.add('merge delta (100 tuples)', async () => {
      await merging.merge(deltas[m++ % deltas.length] as Delta)
    }),
    b.cycle(),
    b.complete(),
    b.save({ file: 'tuples', folder: 'bench/results', format: 'json', details: false })
  )
}

const RETENTION_MS = 1000

async function mirrored (n: number, time: ManualClock): Promise<TupleStore[]> {
  const nodes = Array.from({ length: n }, (_, i) => i + 1)
  return await Promise.all(nodes.map(async (node) => {
    const s = new TupleStore({ clock: new LamportClock({ node }), mirrors: nodes.filter((m) => m !== node), retentionMs: RETENTION_MS, time })
    await s.open()
    return s
  }))
}

/** One exchange through the binary codec, as over a network. Returns the response's bytes. */
async function pull (from: TupleStore, to: TupleStore): Promise<{ bytes: number, resynced: boolean }> {
  const request = decodeSyncMessage(encodeSyncMessage(from.syncRequest()))
  const wire = encodeSyncMessage(await to.syncResponse(request as ReturnType<TupleStore['syncRequest']>))
  const r = await from.applySync(decodeSyncMessage(wire) as SyncResponse)
  return { bytes: wire.length, resynced: r.resynced }
}

async function mesh (stores: TupleStore[]): Promise<void> {
  for (const x of stores) for (const y of stores) if (x !== y) await pull(x, y)
}

/** Each round every replica writes 100 tuples, then every ordered pair exchanges once. */
async function syncThroughput (rounds: number): Promise<{ tuplesPerSecond: number, rounds: number, tuples: number }> {
  const stores = await mirrored(3, new ManualClock())
  const started = performance.now()
  let tuples = 0
  for (let r = 0; r < rounds; r++) {
    for (const [i, s] of stores.entries()) {
      const updates = []
      for (let k = 0; k < 100; k++) updates.push(positive(['event', i, r, k]))
      await s.transact(updates)
      tuples += 100
    }
    await mesh(stores)
  }
  const seconds = (performance.now() - started) / 1000
  if (stores.some((s) => s.size !== tuples)) throw new Error('the replicas did not converge')
  return { tuplesPerSecond: Math.round(tuples / seconds), rounds, tuples }
}

/**
 * A replica away past the retention returns to `population` tuples (and cancellations of
 * a tenth of them): what one resync costs, against replaying the same history.
 */
async function resyncCost (population: number): Promise<Record<string, number>> {
  const time = new ManualClock()
  const [a, b2, c] = await mirrored(3, time) as [TupleStore, TupleStore, TupleStore]
  let replayBytes = 0 // what replaying the history would send: the transactions themselves
  for (let base = 0; base < population; base += 1000) {
    const updates = []
    for (let i = base; i < base + 1000; i++) updates.push(positive(['user', i]))
    for (const t of [await a.transact(updates), await a.transact([negative(['user', base]), negative(['user', base + 1])])]) {
      replayBytes += encodeTransaction(t).length
    }
    await mesh([a, b2])
    time.advance(RETENTION_MS / 2) // c is never heard from
  }
  await mesh([a, b2])
  const started = performance.now()
  const r = await pull(c, a)
  const ms = performance.now() - started
  if (!r.resynced || c.size !== a.size) throw new Error('expected one resync to catch c up')
  return { population, visible: a.size, snapshotBytes: r.bytes, resyncMs: Math.round(ms * 10) / 10, replayBytesIfNeverAway: replayBytes }
}

// `--sync-only` skips the micro benchmarks (and leaves tuples.json as it is).
if (!process.argv.includes('--sync-only')) await main()
const sync = { date: new Date().toISOString(), syncThroughput3Replicas: await syncThroughput(200), resyncPastHorizon: await resyncCost(20_000) }
console.log(JSON.stringify(sync, null, 2))
writeFileSync('bench/results/tuples-sync.json', JSON.stringify(sync, null, 2) + '\n')

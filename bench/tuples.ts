/**
 * Tuple store throughput: assert, cancel (exact and by pattern), prefix query and delta
 * merge rates. Run with `npm run build && node dist/bench/tuples.js`; writes
 * bench/results/tuples.json.
 */
import b from 'benny'
import { MemoryLevel } from 'memory-level'
import { ANY, LamportClock, TupleStore, negative, positive, type Delta } from '../src/lamport/index.js'

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

await main()

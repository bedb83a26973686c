/**
 * Graph snapshot and restore at scale: N resources (default 1,000,000) and N - 1 relations,
 * snapshotted to a file and restored from it, both streamed. Reports time, bytes, chunks and
 * the heap above the live graph while each runs (sampled per chunk), to show neither side
 * holds a second copy. Run with
 * `npm run build && node --expose-gc dist/bench/graph-snapshot.js [--resources 1000000]`;
 * writes bench/results/graph-snapshot.json.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm, stat, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { GraphStateMachine, defineSchema, encodeCommand } from '../src/graph/index.js'
import type { GraphOp } from '../src/graph/index.js'

const argv = process.argv.slice(2)
const at = argv.indexOf('--resources')
const N = at >= 0 ? Number(argv[at + 1]) : 1_000_000
const BATCH = 10_000

const schema = defineSchema({
  kinds: { host: { fields: { address: 'string' } }, service: { fields: { name: 'string', port: 'integer' } } },
  relations: { runs: { from: 'host', to: 'service', outgoing: 'many', incoming: 'one' } },
  roots: ['host']
})

function heapMb (): number {
  (globalThis as { gc?: () => void }).gc?.()
  return process.memoryUsage().heapUsed / 1048576
}

/** N/10 hosts each running 9 services: N resources, N - N/10 relations. */
function populate (sm: GraphStateMachine): void {
  let index = 0
  for (let base = 0; base < N; base += BATCH) {
    const ops: GraphOp[] = []
    for (let i = base; i < Math.min(N, base + BATCH); i++) {
      if (i % 10 === 0) ops.push({ op: 'put', id: `h${i}`, kind: 'host', fields: { address: `10.0.${i % 256}.${i % 7}` } })
      else {
        ops.push({ op: 'put', id: `s${i}`, kind: 'service', fields: { name: `svc-${i}`, port: 1000 + (i % 5000) } })
        ops.push({ op: 'connect', relation: 'runs', from: `h${i - (i % 10)}`, to: `s${i}` })
      }
    }
    sm.apply(encodeCommand({ type: 'tx', time: index, expect: [], ops, trim: [] }), ++index)
  }
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-graph-bench-'))
  const file = join(dir, 'snapshot.bin')
  try {
    const base = heapMb()
    const sm = new GraphStateMachine(schema)
    let t = performance.now()
    populate(sm)
    const populateMs = performance.now() - t
    const graphMb = heapMb() - base

    let chunks = 0
    let largest = 0
    let snapshotPeak = 0
    const out = createWriteStream(file)
    t = performance.now()
    for await (const chunk of sm.snapshot()) {
      chunks++
      largest = Math.max(largest, chunk.length)
      if (!out.write(chunk)) await once(out, 'drain')
      if (chunks % 64 === 0) snapshotPeak = Math.max(snapshotPeak, process.memoryUsage().heapUsed / 1048576 - base - graphMb)
    }
    out.end()
    await once(out, 'finish')
    const snapshotMs = performance.now() - t
    const bytes = (await stat(file)).size

    // Restore into the same machine: it drops the old graph first, so the heap holds one graph.
    let restorePeak = 0
    let read = 0
    t = performance.now()
    await sm.restore((async function * () {
      for await (const piece of createReadStream(file, { highWaterMark: 65_536 })) {
        yield piece as Uint8Array
        if (++read % 64 === 0) restorePeak = Math.max(restorePeak, process.memoryUsage().heapUsed / 1048576 - base)
      }
    })())
    const restoreMs = performance.now() - t
    const restoredMb = heapMb() - base
    if (sm.graph.size !== N) throw new Error(`restored ${sm.graph.size} resources, expected ${N}`)

    const result = {
      benchmark: 'graph-snapshot',
      resources: N,
      relations: sm.graph.edgeCount,
      populateMs: Math.round(populateMs),
      snapshot: { ms: Math.round(snapshotMs), bytes, chunks, largestChunkBytes: largest, heapAboveGraphMbPeak: Math.round(snapshotPeak) },
      restore: { ms: Math.round(restoreMs), heapMbPeak: Math.round(restorePeak), heapMbAfter: Math.round(restoredMb) },
      graphHeapMb: Math.round(graphMb),
      gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function'
    }
    console.log(JSON.stringify(result, null, 2))
    await mkdir('bench/results', { recursive: true })
    await writeFile('bench/results/graph-snapshot.json', JSON.stringify(result, null, 2) + '\n')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()

/**
 * Append throughput of LevelStorage on classic-level against raw classic-level chained
 * batches writing the same number of keys and 100-byte values, for batches of 1, 64 and
 * 1024 entries, with and without fsync. Prints quorate/raw for each pair and writes
 * bench/results/storage-append.json.
 *
 *   npm run build && node dist/bench/storage-append.js
 */
import b from 'benny'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ClassicLevel } from 'classic-level'
import { LevelStorage } from '../src/storage/level-storage.js'
import type { Entry } from '../src/raft/types.js'

const BATCH_SIZES = [1, 64, 1024] as const
const PAYLOAD_BYTES = 100
/** Short cases: sync writes cost milliseconds each, and the whole file should run in ~1 minute. */
const CASE_OPTIONS = { minSamples: 10, maxTime: 3 }

const root = fileURLToPath(new URL('../..', import.meta.url))
const resultsDir = join(root, 'bench', 'results')
const payload = new Uint8Array(PAYLOAD_BYTES).fill(7)
const cleanup: Array<() => Promise<void>> = []

async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-bench-'))
  cleanup.push(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

async function quorateCase (size: number, sync: boolean): Promise<() => Promise<void>> {
  const storage = new LevelStorage({ location: await tempDir() })
  await storage.open()
  cleanup.unshift(async () => await storage.close())
  const entries: Entry[] = new Array(size)
  let next = 1
  return async () => {
    for (let i = 0; i < size; i++) entries[i] = { term: 1, index: next + i, type: 'command', data: payload }
    next += size
    await storage.write({ hardState: null, entries }, { sync })
  }
}

async function rawCase (size: number, sync: boolean): Promise<() => Promise<void>> {
  const db = new ClassicLevel<Buffer, Buffer>(await tempDir(), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.open()
  cleanup.unshift(async () => await db.close())
  // The same key shape LevelStorage writes: sublevel prefix "!raft!" + tag + u64be index.
  const prefix = Buffer.from('!raft!\x01', 'latin1')
  const value = Buffer.from(payload)
  let next = 1
  return async () => {
    const batch = db.batch()
    for (let i = 0; i < size; i++) {
      const key = Buffer.allocUnsafe(prefix.length + 8)
      prefix.copy(key, 0)
      const index = next + i
      key.writeUInt32BE(Math.floor(index / 0x1_0000_0000), prefix.length)
      key.writeUInt32BE(index >>> 0, prefix.length + 4)
      batch.put(key, value)
    }
    next += size
    await batch.write({ sync })
  }
}

function caseName (kind: 'quorate' | 'raw', size: number, sync: boolean): string {
  return `${kind} ${size} entries sync=${String(sync)}`
}

const cases = []
for (const sync of [false, true]) {
  for (const size of BATCH_SIZES) {
    const quorate = await quorateCase(size, sync)
    const raw = await rawCase(size, sync)
    cases.push(b.add(caseName('quorate', size, sync), () => quorate, CASE_OPTIONS))
    cases.push(b.add(caseName('raw', size, sync), () => raw, CASE_OPTIONS))
  }
}

try {
  await b.suite(
    'LevelStorage append vs raw classic-level',
    ...cases,
    b.cycle(),
    b.complete((summary) => {
      const byName = new Map(summary.results.map((r) => [r.name, r]))
      const rows = []
      for (const sync of [false, true]) {
        for (const size of BATCH_SIZES) {
          const q = byName.get(caseName('quorate', size, sync))
          const r = byName.get(caseName('raw', size, sync))
          if (q === undefined || r === undefined) continue
          const row = {
            batchEntries: size,
            sync,
            quorateBatchesPerSec: Math.round(q.ops),
            rawBatchesPerSec: Math.round(r.ops),
            quorateEntriesPerSec: Math.round(q.ops * size),
            rawEntriesPerSec: Math.round(r.ops * size),
            quorateMarginPct: q.margin,
            rawMarginPct: r.margin,
            ratio: Number((q.ops / r.ops).toFixed(3))
          }
          rows.push(row)
          console.log(`batch ${String(size).padStart(4)} sync=${String(sync).padEnd(5)} quorate/raw = ${row.ratio.toFixed(2)} ` +
            `(${row.quorateEntriesPerSec} vs ${row.rawEntriesPerSec} entries/s)`)
        }
      }
      mkdirSync(resultsDir, { recursive: true })
      writeFileSync(join(resultsDir, 'storage-append.json'), JSON.stringify({
        name: summary.name,
        date: summary.date,
        node: process.version,
        payloadBytes: PAYLOAD_BYTES,
        caseOptions: CASE_OPTIONS,
        ratios: rows,
        cases: summary.results.map((r) => ({ name: r.name, ops: r.ops, margin: r.margin, samples: r.samples }))
      }, null, 2) + '\n')
    })
  )
} finally {
  for (const step of cleanup) await step()
}

/**
 * Append throughput of LevelStorage on classic-level against raw classic-level chained
 * batches writing the same number of keys and 100-byte values, for batches of 1, 64 and
 * 1024 entries, with and without fsync. On a shared machine the two sides of a ratio must be
 * measured next to each other, so each case runs as --pairs alternating pairs of short
 * windows (quorate then raw, raw then quorate, ...), a ratio is taken per pair and the
 * median reported with the spread. Writes bench/results/storage-append.json.
 *
 *   npm run build && node dist/bench/storage-append.js [--pairs 7] [--window-ms 400] [--sizes 1,64,1024] [--sync both|true|false]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { LevelStorage } from '../src/storage/level-storage.js'
import type { Entry } from '../src/raft/types.js'
import { checkFlags } from './cli.js'
import { writeResult } from './measure.js'
import { median, spread } from './peers/stats.js'

const argv = process.argv.slice(2)
checkFlags('storage-append', argv, ['--sizes', '--pairs', '--window-ms', '--sync'])
const flag = (f: string, d: string): string => { const i = argv.indexOf(f); return i >= 0 ? argv[i + 1] ?? d : d }
const BATCH_SIZES = flag('--sizes', '1,64,1024').split(',').map(Number)
const PAIRS = Number(flag('--pairs', '7'))
const WINDOW_MS = Number(flag('--window-ms', '400'))
const SYNC_CHOICES: Record<string, boolean[]> = { both: [false, true], true: [true], false: [false] }
const SYNCS = SYNC_CHOICES[flag('--sync', 'both')]
if (SYNCS === undefined) throw new Error(`--sync must be both, true or false, got ${flag('--sync', '')}`)
if ([PAIRS, WINDOW_MS, ...BATCH_SIZES].some((n) => !Number.isSafeInteger(n) || n < 1)) throw new Error('--pairs, --window-ms and --sizes must be positive integers')
const PAYLOAD_BYTES = 100

const payload = new Uint8Array(PAYLOAD_BYTES).fill(7)
const cleanup: Array<() => Promise<void>> = []

async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-bench-'))
  cleanup.push(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

type Step = () => Promise<void>

async function quorateCase (size: number, sync: boolean): Promise<Step> {
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

async function rawCase (size: number, sync: boolean): Promise<Step> {
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

/** Batches per second of `step` run back to back for WINDOW_MS. */
async function window (step: Step): Promise<number> {
  const start = performance.now()
  let n = 0
  let now = start
  while (now - start < WINDOW_MS) {
    await step()
    n++
    now = performance.now()
  }
  return n / ((now - start) / 1000)
}

const rows = []
try {
  for (const sync of SYNCS) {
    for (const size of BATCH_SIZES) {
      const quorate = await quorateCase(size, sync)
      const raw = await rawCase(size, sync)
      // Warm both sides up (JIT, LevelDB's first memtable) before the first pair.
      await window(quorate)
      await window(raw)
      const q: number[] = []
      const r: number[] = []
      for (let p = 0; p < PAIRS; p++) {
        if (p % 2 === 0) { q.push(await window(quorate)); r.push(await window(raw)) } else { r.push(await window(raw)); q.push(await window(quorate)) }
      }
      const ratios = q.map((x, i) => x / r[i]!)
      const ratio = spread(ratios)
      const row = {
        batchEntries: size,
        sync,
        pairs: PAIRS,
        windowMs: WINDOW_MS,
        quorateBatchesPerSec: Math.round(median(q)),
        rawBatchesPerSec: Math.round(median(r)),
        quorateEntriesPerSec: Math.round(median(q) * size),
        rawEntriesPerSec: Math.round(median(r) * size),
        ratio: Number(ratio.median.toFixed(3)),
        ratioSpread: { ...ratio, values: ratio.values.map((x) => Number(x.toFixed(3))) }
      }
      rows.push(row)
      console.log(`batch ${String(size).padStart(4)} sync=${String(sync).padEnd(5)} quorate/raw = ${row.ratio.toFixed(2)} ` +
        `(${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)} over ${PAIRS} pairs; medians ${row.quorateEntriesPerSec} vs ${row.rawEntriesPerSec} entries/s)`)
    }
  }
  writeResult('storage-append', {
    name: 'LevelStorage append vs raw classic-level, alternating pairs',
    date: new Date().toISOString(),
    node: process.version,
    payloadBytes: PAYLOAD_BYTES,
    method: `${PAIRS} alternating pairs of ${WINDOW_MS} ms windows per case; ratio = median of the per-pair ratios`,
    ratios: rows
  })
} finally {
  for (const step of cleanup) await step()
}

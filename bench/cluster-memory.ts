/**
 * B1: three RaftNodes in one process on the in-memory network (zero latency) with in-memory
 * storage: CrashStorage from quorate/testing by default (copyEntries off, so the in-memory log
 * keeps the proposed arrays; `sync` on, which CrashStorage honours by marking the write durable
 * without any I/O), or `--storage memory-level` for LevelStorage
 * on memory-level. Closed-loop clients propose 100-byte commands directly to the leader at
 * each concurrency level. Writes bench/results/b1-memory.json (or --out NAME).
 *
 *   npm run build && node dist/bench/cluster-memory.js [--concurrency 1,16,256] [--measure-ms 10000] [--storage crash|memory-level]
 */
import { RaftNode } from '../src/node/node.js'
import { MemoryNetwork } from '../src/transport/memory.js'
import { CrashStorage } from '../src/testing/crash-storage.js'
import { LevelStorage } from '../src/storage/level-storage.js'
import type { RaftStorage } from '../src/storage/storage.js'
import { MemoryLevel } from 'memory-level'
import { closedLoop, type ClosedLoopResult } from './closed-loop.js'
import { WindowMeter, peakRssMiB, writeResult } from './measure.js'
import { parseArgs, waitForLeader } from './cli.js'
import { CounterMachine } from './counter-machine.js'

const IDS = ['n1', 'n2', 'n3']
const STORAGES = {
  crash: { describe: 'CrashStorage (quorate/testing) with copyEntries: false (an in-memory log that keeps the proposed arrays), sync on', make: (): RaftStorage => new CrashStorage({ copyEntries: false }) },
  'memory-level': { describe: 'LevelStorage on memory-level, sync on', make: (): RaftStorage => new LevelStorage({ db: new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }) }) }
} as const
const storageFlag = process.argv.indexOf('--storage')
const storageKind = (storageFlag >= 0 ? process.argv[storageFlag + 1] : 'crash') as keyof typeof STORAGES
if (!(storageKind in STORAGES)) throw new Error(`--storage must be one of ${Object.keys(STORAGES).join(', ')}`)

interface B1Row extends ClosedLoopResult {
  readonly gcMs: number
  readonly gcCount: number
  /** CPU time of the whole process (3 nodes + clients) in the window. */
  readonly cpuMs: number
  readonly cpuUsPerCommit: number
  readonly peakRssMiB: number
}

async function run (concurrency: number, warmupMs: number, measureMs: number): Promise<B1Row> {
  const network = new MemoryNetwork()
  const machines = IDS.map(() => new CounterMachine())
  const nodes = IDS.map((id, i) => new RaftNode({
    id,
    voters: IDS,
    storage: STORAGES[storageKind].make(),
    transport: network.transport(id),
    stateMachine: machines[i]!,
    // Short ticks only to elect the first leader quickly; one process, so no stalls between nodes.
    tickMs: 10
  }))
  await Promise.all(nodes.map(async (n) => await n.open()))
  const leader = await waitForLeader(nodes)
  const gc = new WindowMeter()
  const result = await closedLoop(async (cmd) => await leader.propose(cmd), {
    concurrency,
    warmupMs,
    measureMs,
    onWindow: (phase) => { if (phase === 'start') gc.start() }
  })
  const gcStats = await gc.stop()
  await Promise.all(nodes.map(async (n) => await n.close()))
  await network.close()
  if (machines[0]!.applied === 0) throw new Error('nothing was applied')
  return { ...result, ...gcStats, cpuUsPerCommit: Math.round(gcStats.cpuMs * 1000 / Math.max(1, result.commits) * 10) / 10, peakRssMiB: peakRssMiB() }
}

const args = parseArgs()
const rows: B1Row[] = []
for (const c of args.concurrency) {
  const row = await run(c, args.warmupMs, args.measureMs)
  rows.push(row)
  console.log(`B1 memory c=${String(c).padStart(3)}: ${row.commitsPerSec} commits/s  p50 ${row.latency.p50Us} µs  p99 ${row.latency.p99Us} µs  p99.9 ${row.latency.p999Us} µs  gc ${row.gcMs} ms  cpu ${row.cpuUsPerCommit} µs/commit  rss ${row.peakRssMiB} MiB`)
}
writeResult(args.out ?? 'b1-memory', {
  name: 'B1: 3 nodes, one process, in-memory network, in-memory storage',
  date: new Date().toISOString(),
  node: process.version,
  storage: STORAGES[storageKind].describe,
  warmupMs: args.warmupMs,
  rows
})

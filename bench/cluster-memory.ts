/**
 * B1: three RaftNodes in one process on the in-memory network (zero latency) with in-memory
 * storage (CrashStorage from quorate/testing; `sync` on, which CrashStorage honours by marking
 * the write durable without any I/O). Closed-loop clients propose 100-byte commands directly
 * to the leader at each concurrency level. Writes bench/results/b1-memory.json.
 *
 *   npm run build && node dist/bench/cluster-memory.js [--concurrency 1,16,256] [--measure-ms 10000]
 */
import { RaftNode } from '../src/raft/node.js'
import { MemoryNetwork } from '../src/transport/memory.js'
import { CrashStorage } from '../src/testing/crash-storage.js'
import { closedLoop, type ClosedLoopResult } from './closed-loop.js'
import { GcMeter, peakRssMiB, writeResult } from './measure.js'
import { parseArgs, waitForLeader } from './cli.js'
import { CounterMachine } from './counter-machine.js'

const IDS = ['n1', 'n2', 'n3']

interface B1Row extends ClosedLoopResult { readonly gcMs: number, readonly gcCount: number, readonly peakRssMiB: number }

async function run (concurrency: number, warmupMs: number, measureMs: number): Promise<B1Row> {
  const network = new MemoryNetwork()
  const machines = IDS.map(() => new CounterMachine())
  const nodes = IDS.map((id, i) => new RaftNode({
    id,
    voters: IDS,
    storage: new CrashStorage(),
    transport: network.transport(id),
    stateMachine: machines[i]!,
    tickMs: 10,
    electionTicks: 10
  }))
  await Promise.all(nodes.map(async (n) => await n.open()))
  const leader = await waitForLeader(nodes)
  const gc = new GcMeter()
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
  return { ...result, ...gcStats, peakRssMiB: peakRssMiB() }
}

const args = parseArgs()
const rows: B1Row[] = []
for (const c of args.concurrency) {
  const row = await run(c, args.warmupMs, args.measureMs)
  rows.push(row)
  console.log(`B1 memory c=${String(c).padStart(3)}: ${row.commitsPerSec} commits/s  p50 ${row.latency.p50Us} µs  p99 ${row.latency.p99Us} µs  p99.9 ${row.latency.p999Us} µs  gc ${row.gcMs} ms  rss ${row.peakRssMiB} MiB`)
}
writeResult(args.out ?? 'b1-memory', {
  name: 'B1: 3 nodes, one process, in-memory network, CrashStorage (in-memory log)',
  date: new Date().toISOString(),
  node: process.version,
  storage: 'CrashStorage (quorate/testing), sync on',
  warmupMs: args.warmupMs,
  rows
})

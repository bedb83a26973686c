/**
 * B6: time to elect a new leader after the leader crashes, five nodes, for the election
 * timeout ranges of the Raft paper's Figure 16. Real time, one process: RaftNodes with
 * tickMs = 1 (one tick per millisecond, so a range of ms is a range of ticks) on the in-memory
 * network (zero latency) with CrashStorage. As in the paper, the heartbeat interval is half the
 * minimum election timeout and the leader is crashed at a uniformly random point of its
 * heartbeat interval. A trial measures from the crash to the moment a surviving node becomes
 * leader; then the crashed node restarts from its durable state and rejoins before the next
 * trial. Writes bench/results/b6-election.json.
 *
 *   npm run build && node dist/bench/election.js [--trials 30]
 */
import { RaftNode } from '../src/node/node.js'
import { MemoryNetwork } from '../src/transport/memory.js'
import { CrashStorage } from '../src/testing/crash-storage.js'
import { newLatencyHistogram, sleep, summarize, writeResult } from './measure.js'
import { parseArgs, waitForLeader } from './cli.js'
import { CounterMachine } from './counter-machine.js'

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5']
/** Figure 16's election timeout ranges in ms (= ticks). */
export const TIMEOUT_RANGES: ReadonlyArray<readonly [number, number]> = [
  [150, 150], [150, 151], [150, 155], [150, 175], [150, 200], [150, 300], [12, 24]
]

/** A trial with no leader after this long counts as a failure and ends the line. */
const TRIAL_LIMIT_MS = 10_000

interface Member { node: RaftNode, storage: CrashStorage }

function start (id: string, network: MemoryNetwork, storage: CrashStorage, min: number, max: number): Member {
  const node = new RaftNode({
    id,
    voters: IDS,
    storage,
    transport: network.transport(id),
    stateMachine: new CounterMachine(),
    tickMs: 1,
    electionTicks: min,
    // The core draws the timeout from [electionTicks, electionTicks + jitter): whole ms in [min, max].
    electionJitterTicks: max - min + 1,
    heartbeatTicks: Math.max(1, Math.floor(min / 2))
  })
  return { node, storage }
}

/** Mean period of a re-armed setTimeout(1) over `ms`: how long a "1 ms" tick really lasts here. */
async function tickPeriodMs (ms: number): Promise<number> {
  const t0 = performance.now()
  let n = 0
  while (performance.now() - t0 < ms) { await sleep(1); n++ }
  return (performance.now() - t0) / n
}

interface B6Row { timeoutMs: string, trials: number, failures: number, medianMs: number, meanMs: number, p90Ms: number, maxMs_: number, [k: string]: unknown }

async function line (min: number, max: number, trials: number): Promise<B6Row> {
  const network = new MemoryNetwork()
  const members = new Map<string, Member>()
  for (const id of IDS) members.set(id, start(id, network, new CrashStorage(), min, max))
  // Staggered starts: nodes opened in the same millisecond tick in lockstep and, with no
  // randomness (150-150), would split every vote forever; real servers never start in lockstep.
  await Promise.all([...members.values()].map(async (m) => { await sleep(Math.random() * min); await m.node.open() }))
  const hist = newLatencyHistogram()
  const samples: number[] = []
  let failures = 0
  try {
    let leader = await waitForLeader([...members.values()].map((m) => m.node), 60_000)
    for (let t = 0; t < trials; t++) {
      const heartbeatMs = Math.max(1, Math.floor(min / 2))
      await sleep(Math.random() * heartbeatMs)
      const crashed = members.get(leader.id)!
      const survivors = [...members.values()].filter((m) => m !== crashed).map((m) => m.node)
      const elected = new Promise<{ at: number, node: RaftNode }>((resolve) => {
        for (const n of survivors) {
          n.on('role', ({ role }) => { if (role === 'leader') resolve({ at: performance.now(), node: n }) })
        }
      })
      const crashedAt = performance.now()
      const disk = crashed.storage.crash()
      void crashed.node.close()
      const winner = await Promise.race([elected, sleep(TRIAL_LIMIT_MS).then(() => null)])
      for (const n of survivors) n.removeAllListeners('role')
      if (winner === null) { failures++; break }
      const ms = winner.at - crashedAt
      samples.push(Math.round(ms * 10) / 10)
      hist.record(Math.max(1, Math.round(ms * 1e6)))
      // Restart the crashed node from its durable state and let it rejoin as a follower.
      await crashed.node.close()
      const restarted = start(crashed.node.id, network, disk, min, max)
      members.set(crashed.node.id, restarted)
      await restarted.node.open()
      leader = await waitForLeader([...members.values()].map((m) => m.node), 60_000)
      const deadline = performance.now() + 10_000
      while (restarted.node.status().leader !== leader.id && performance.now() < deadline) await sleep(1)
      await sleep(max)
    }
  } finally {
    await Promise.all([...members.values()].map(async (m) => await m.node.close()))
    await network.close()
  }
  const s = summarize(hist)
  samples.sort((a, b) => a - b)
  return {
    timeoutMs: `${min}-${max}`,
    minMs: min,
    maxMs: max,
    heartbeatMs: Math.max(1, Math.floor(min / 2)),
    trials: samples.length,
    failures,
    medianMs: Math.round(s.p50Us / 100) / 10,
    meanMs: Math.round(s.meanUs / 100) / 10,
    p90Ms: samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.9))] ?? 0,
    maxMs_: Math.round(s.maxUs / 100) / 10,
    samplesMs: samples
  }
}

const args = parseArgs()
const period = await tickPeriodMs(500)
console.log(`B6: a re-armed setTimeout(1) lasts ${period.toFixed(3)} ms here (ticks run that much slower than 1 ms)`)
const rows = []
for (const [min, max] of TIMEOUT_RANGES) {
  const row = await line(min, max, args.trials)
  rows.push(row)
  console.log(`B6 ${String(row.timeoutMs).padEnd(8)} trials ${row.trials}: median ${row.medianMs} ms  mean ${row.meanMs} ms  p90 ${row.p90Ms} ms  max ${row.maxMs_} ms${row.failures > 0 ? `  no leader within ${TRIAL_LIMIT_MS} ms in ${row.failures} trial(s); line stopped` : ''}`)
}
writeResult(args.out ?? 'b6-election', {
  name: 'B6: leader election after a leader crash, 5 nodes, real time, tickMs=1, in-memory network',
  date: new Date().toISOString(),
  node: process.version,
  tickPeriodMs: Math.round(period * 1000) / 1000,
  trialsPerLine: args.trials,
  rows
})

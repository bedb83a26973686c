/**
 * One HA benchmark scenario on a fresh B2 cluster: three node processes (node-process.ts with
 * the scenario's `machine`: classic-level with fsync, plain TCP on 127.0.0.1) and the load
 * generator in a fourth (ha-client.ts) sending the scenario's workload to the leader. Returns
 * the client's figures, the workload's outcome counts and each node's meter (GC, CPU, peak
 * RSS, and the machine's own figures, e.g. events remembered for dedup).
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ClosedLoopResult } from './closed-loop.js'
import type { HaClientConfig } from './ha-client.js'
import type { HaWorkloadName, HaWorkloadOptions } from './ha-workloads.js'
import type { BenchMachineKind } from './machines.js'
import { sleep } from './measure.js'
import type { NodeProcessConfig } from './node-process.js'
import { forkScript, freePorts, nextMessage, waitExit } from './proc.js'

const IDS = ['n1', 'n2', 'n3']
/** Client connections to the leader, as in plain B2 (cluster-tcp.ts). */
export const HA_CONNECTIONS = 4
const FOLLOWER_CATCH_UP_MS = 300
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))

export interface HaScenario {
  readonly machine: BenchMachineKind
  readonly workload: HaWorkloadName
  readonly concurrency: number
  readonly warmupMs: number
  readonly measureMs: number
  readonly workloadOptions?: HaWorkloadOptions
}

export interface HaNodeMeter {
  readonly id: string
  readonly role: 'leader' | 'follower'
  readonly gcMs: number
  readonly cpuMs: number
  readonly peakRssMiB: number
  readonly applied: number
  readonly machine: Record<string, number>
  /** The node's own counters (RaftNode.metrics()) over the measured window, e.g. snapshotsTaken. */
  readonly counters: Record<string, number>
}

export interface HaClientResult extends ClosedLoopResult {
  readonly opsPerCommand: number
  readonly tally: Record<string, number>
}

export interface HaRow extends HaClientResult {
  readonly machine: BenchMachineKind
  readonly workload: HaWorkloadName
  /** Writes per second: commits/s × opsPerCommand. */
  readonly opsPerSec: number
  readonly leaderCpuUsPerCommit: number
  readonly nodes: HaNodeMeter[]
}

interface Status { role: string, term: number, leader: string | null }

/** The node all three agree is leader in the same term. */
async function agreedLeader (nodes: ReadonlyMap<string, ChildProcess>, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const statuses = await Promise.all([...nodes].map(async ([id, child]) => {
      child.send({ cmd: 'status' })
      return { id, ...await nextMessage<Status>(child, 'status') }
    }))
    const leader = statuses.find((s) => s.role === 'leader')
    if (leader !== undefined && statuses.every((s) => s.leader === leader.id && s.term === leader.term)) return leader.id
    await sleep(20)
  }
  throw new Error('HA B2: no leader elected in time')
}

export async function runScenario (s: HaScenario): Promise<HaRow> {
  const root = await mkdtemp(join(tmpdir(), 'quorate-ha-'))
  const ports = await freePorts(IDS.length * 2)
  const raftPorts = Object.fromEntries(IDS.map((id, i) => [id, ports[i]!]))
  const clientPort = (i: number): number => ports[IDS.length + i]!
  const nodes = new Map<string, ChildProcess>()
  let client: ChildProcess | undefined
  try {
    for (const [i, id] of IDS.entries()) {
      const cfg: NodeProcessConfig = { id, raftPorts, clientPort: clientPort(i), dataDir: join(root, id), machine: s.machine }
      nodes.set(id, forkScript(here('./node-process.js'), cfg))
    }
    await Promise.all([...nodes.values()].map(async (c) => await nextMessage(c, 'ready')))
    const leader = await agreedLeader(nodes)
    const config: HaClientConfig = {
      port: clientPort(IDS.indexOf(leader)),
      concurrency: s.concurrency,
      warmupMs: s.warmupMs,
      measureMs: s.measureMs,
      connections: Math.min(HA_CONNECTIONS, s.concurrency),
      workload: s.workload,
      ...(s.workloadOptions === undefined ? {} : { workloadOptions: s.workloadOptions })
    }
    client = forkScript(here('./ha-client.js'), config)
    client.on('message', (m: { window?: string }) => {
      if (m.window === 'start') for (const c of nodes.values()) c.send({ cmd: 'meter-start' })
    })
    const result = await nextMessage<HaClientResult>(client, 'result', s.warmupMs + s.measureMs + 120_000)
    await waitExit(client)
    // The client waited for every answer; a follower learns the last commits with the next
    // heartbeats (100 ms ticks), so give it a few before comparing what each replica applied.
    await sleep(FOLLOWER_CATCH_UP_MS)
    const meters = await Promise.all(IDS.map(async (id) => {
      const child = nodes.get(id)!
      child.send({ cmd: 'meter-stop' })
      const m = await nextMessage<Omit<HaNodeMeter, 'id' | 'role'>>(child, 'meter')
      return { id, role: id === leader ? 'leader' as const : 'follower' as const, gcMs: m.gcMs, cpuMs: m.cpuMs, peakRssMiB: m.peakRssMiB, applied: m.applied, machine: m.machine, counters: m.counters }
    }))
    const lead = meters.find((m) => m.role === 'leader')!
    return {
      machine: s.machine,
      workload: s.workload,
      ...result,
      opsPerSec: Math.round(result.commitsPerSec * result.opsPerCommand),
      leaderCpuUsPerCommit: Math.round(lead.cpuMs * 1000 / Math.max(1, result.commits) * 10) / 10,
      nodes: meters
    }
  } finally {
    if (client !== undefined && client.exitCode === null && client.signalCode === null) client.kill('SIGKILL')
    for (const c of nodes.values()) if (c.connected) c.send({ cmd: 'exit' })
    await Promise.all([...nodes.values()].map(async (c) => await waitExit(c)))
    await rm(root, { recursive: true, force: true })
  }
}

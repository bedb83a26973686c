/**
 * B2: three node processes (node-process.ts: classic-level with fsync, tcpTransport on
 * 127.0.0.1 with mutual TLS, quorate's default — certificates from createDevCertificates —
 * or plain TCP with --insecure) and the closed-loop load generator in a fourth process (tcp-client.ts), a fresh
 * cluster per concurrency level. Reports commits/s and latency from the client, GC time and
 * peak RSS from each node (the leader's separately). Writes bench/results/b2-tcp.json (or
 * --out NAME).
 *
 *   npm run build && node dist/bench/cluster-tcp.js [--concurrency 1,16,256] [--measure-ms 10000] [--insecure] [--cpu-prof DIR]
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ClosedLoopResult } from './closed-loop.js'
import { parseArgs } from './cli.js'
import { sleep, writeResult } from './measure.js'
import { forkScript, freePorts, nextMessage, waitExit } from './proc.js'
import type { NodeProcessConfig } from './node-process.js'
import { createDevCertificates } from '../src/transport/tls-certs.js'

const IDS = ['n1', 'n2', 'n3']
/** Client connections to the leader: enough to spread socket work, few enough to stay cheap. */
const CONNECTIONS = 4
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))

interface Meter {
  gcMs: number
  gcCount: number
  cpuMs: number
  cpuUserMs: number
  peakRssMiB: number
  applied: number
  /** The node's own counters (RaftNode.metrics()) over the window. */
  counters: Record<string, number>
  /** The node's transport counters over the window (node-process.ts WIRE_COUNTERS). */
  wire: { framesSent: number, bytesSent: number, sent: number, framesReceived: number, bytesReceived: number, dropped: number, backpressureDrops: number }
  /** The node's storage write latency (ms) over the whole run. */
  storageWriteMs: { p50: number, p99: number, count: number }
}
interface Status { role: string, term: number, leader: string | null }
export interface B2Row extends ClosedLoopResult {
  readonly leaderGcMs: number
  /** Leader CPU time (user + system) in the window per measured commit. */
  readonly leaderCpuUsPerCommit: number
  /** Follower CPU per commit (mean of the followers). */
  readonly followerCpuUsPerCommit: number
  /** The user-mode part of leaderCpuUsPerCommit (the rest is the kernel: fsync, sockets). */
  readonly leaderUserCpuUsPerCommit: number
  /** Leader storage writes and messages sent per measured commit (from RaftNode.metrics()). */
  readonly leaderStorageWritesPerCommit: number
  readonly leaderMessagesPerCommit: number
  /** Leader socket writes to the followers (one frame each) per measured commit, and their mean size. */
  readonly leaderFramesPerCommit: number
  readonly leaderBytesPerFrame: number
  /** Messages the leader's transport dropped in the window (backpressure or unreachable); 0 when healthy. */
  readonly leaderWireDrops: number
  readonly leaderPeakRssMiB: number
  readonly nodes: Array<Meter & { id: string, role: string }>
}

async function leaderOf (nodes: Map<string, ChildProcess>, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const statuses = await Promise.all([...nodes.values()].map(async (child) => {
      child.send({ cmd: 'status' })
      return await nextMessage<Status>(child, 'status')
    }))
    const leaders = statuses.filter((s) => s.role === 'leader')
    if (leaders.length === 1) {
      const l = leaders[0]!
      const id = [...nodes.keys()][statuses.indexOf(l)]!
      if (statuses.filter((s) => s.leader === id && s.term === l.term).length === nodes.size) return id
    }
    await sleep(20)
  }
  throw new Error('B2: no leader elected in time')
}

/** Where each node's key, certificate and the CA are, or undefined for plain TCP. */
async function certificates (root: string, insecure: boolean): Promise<((id: string) => NodeProcessConfig['tls']) | undefined> {
  if (insecure) return undefined
  const dir = join(root, 'certs')
  await createDevCertificates({ nodeIds: IDS, dir, caName: 'quorate-b2' })
  return (id) => ({ keyFile: join(dir, `${IDS.indexOf(id)}.key`), certFile: join(dir, `${IDS.indexOf(id)}.crt`), caFile: join(dir, 'ca.crt') })
}

async function run (concurrency: number, warmupMs: number, measureMs: number, profileDir: string | undefined, insecure: boolean): Promise<B2Row> {
  const root = await mkdtemp(join(tmpdir(), 'quorate-b2-'))
  const ports = await freePorts(IDS.length * 2)
  const raftPorts = Object.fromEntries(IDS.map((id, i) => [id, ports[i]!]))
  const nodes = new Map<string, ChildProcess>()
  const execArgv = (id: string): string[] => profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=b2-c${concurrency}-${id}.cpuprofile`]
  try {
    const tlsOf = await certificates(root, insecure)
    const clientPorts = new Map<string, number>()
    for (const [i, id] of IDS.entries()) {
      const tls = tlsOf?.(id)
      const cfg: NodeProcessConfig = { id, raftPorts, clientPort: ports[IDS.length + i]!, dataDir: join(root, id), ...(tls === undefined ? {} : { tls }) }
      clientPorts.set(id, cfg.clientPort)
      nodes.set(id, forkScript(here('./node-process.js'), cfg, execArgv(id)))
    }
    await Promise.all([...nodes.values()].map(async (c) => await nextMessage(c, 'ready')))
    const leader = await leaderOf(nodes)
    const client = forkScript(here('./tcp-client.js'), { port: clientPorts.get(leader), concurrency, warmupMs, measureMs, connections: Math.min(CONNECTIONS, concurrency) }, execArgv('client'))
    client.on('message', (m: { window?: string }) => {
      if (m.window === 'start') for (const c of nodes.values()) c.send({ cmd: 'meter-start' })
    })
    const result = await nextMessage<ClosedLoopResult>(client, 'result', warmupMs + measureMs + 120_000)
    const meters = await Promise.all(IDS.map(async (id) => {
      const child = nodes.get(id)!
      child.send({ cmd: 'meter-stop' })
      return { id, role: id === leader ? 'leader' : 'follower', ...await nextMessage<Meter>(child, 'meter') }
    }))
    await waitExit(client)
    const lead = meters.find((m) => m.role === 'leader')!
    const perCommit = (ms: number): number => Math.round(ms * 1000 / Math.max(1, result.commits) * 10) / 10
    const followers = meters.filter((m) => m.role !== 'leader')
    const ratio = (n: number | undefined, d: number): number => Math.round((n ?? 0) / Math.max(1, d) * 100) / 100
    return {
      ...result,
      leaderCpuUsPerCommit: perCommit(lead.cpuMs),
      leaderUserCpuUsPerCommit: perCommit(lead.cpuUserMs),
      leaderStorageWritesPerCommit: ratio(lead.counters.storageWrites, result.commits),
      leaderMessagesPerCommit: ratio(lead.counters.messagesSent, result.commits),
      leaderFramesPerCommit: ratio(lead.wire.framesSent, result.commits),
      leaderBytesPerFrame: Math.round(lead.wire.bytesSent / Math.max(1, lead.wire.framesSent)),
      leaderWireDrops: lead.wire.dropped,
      followerCpuUsPerCommit: perCommit(followers.reduce((a, m) => a + m.cpuMs, 0) / followers.length),
      leaderGcMs: lead.gcMs,
      leaderPeakRssMiB: lead.peakRssMiB,
      nodes: meters
    }
  } finally {
    for (const c of nodes.values()) if (c.connected) c.send({ cmd: 'exit' })
    await Promise.all([...nodes.values()].map(async (c) => await waitExit(c)))
    await rm(root, { recursive: true, force: true })
  }
}

const args = parseArgs()
const profileIndex = process.argv.indexOf('--cpu-prof')
const profileDir = profileIndex >= 0 ? process.argv[profileIndex + 1] : undefined
const insecure = process.argv.includes('--insecure')
const security = insecure ? 'insecure' : 'mtls'
const rows: B2Row[] = []
for (const c of args.concurrency) {
  const row = await run(c, args.warmupMs, args.measureMs, profileDir, insecure)
  rows.push(row)
  console.log(`B2 tcp+fsync ${security} c=${String(c).padStart(3)}: ${row.commitsPerSec} commits/s  p50 ${row.latency.p50Us} µs  p99 ${row.latency.p99Us} µs  p99.9 ${row.latency.p999Us} µs  leader gc ${row.leaderGcMs} ms  cpu/commit leader ${row.leaderCpuUsPerCommit} µs (user ${row.leaderUserCpuUsPerCommit}) follower ${row.followerCpuUsPerCommit} µs  leader rss ${row.leaderPeakRssMiB} MiB  leader writes/commit ${row.leaderStorageWritesPerCommit} msgs/commit ${row.leaderMessagesPerCommit} frames/commit ${row.leaderFramesPerCommit} bytes/frame ${row.leaderBytesPerFrame}${row.leaderWireDrops > 0 ? `  wire drops ${row.leaderWireDrops}` : ''}${row.errors > 0 ? `  errors ${row.errors}` : ''}`)
}
writeResult(args.out ?? 'b2-tcp', {
  name: `B2: 3 node processes, TCP loopback (${insecure ? 'plain TCP' : 'mutual TLS'}), classic-level with sync, client in a 4th process`,
  security,
  date: new Date().toISOString(),
  node: process.version,
  warmupMs: args.warmupMs,
  clientConnections: CONNECTIONS,
  rows
})

/**
 * One Raft node in its own process for B2: RaftNode + LevelStorage (classic-level, sync on)
 * + tcpTransport (127.0.0.1; mutual TLS when `tls` is given, else insecure) + a state machine that counts commands, plus the
 * benchmark's client protocol (client-wire.ts) on its own port. Started by cluster-tcp.ts
 * with `fork()`; the parent talks to it over IPC:
 *   → { cmd: 'status' }      ← { status: { role, term, leader } }
 *   → { cmd: 'meter-start' } (starts the GC meter)
 *   → { cmd: 'meter-stop' }  ← { meter: { gcMs, gcCount, peakRssMiB, applied } }
 *   → { cmd: 'exit' }        closes the node and exits
 *
 * The `machine` option replaces the counting machine with the graph or the level member on a
 * router (machines.ts, for bench/ha-b2.ts); responses then carry more than the status byte
 * (ha-wire.ts), and the meter the machine's own figures.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { NODE_DEFAULTS, RaftNode } from '../src/node/node.js'
import { LevelStorage } from '../src/storage/level-storage.js'
import { tcpTransport } from '../src/transport/tcp.js'
import { encodeFrame, FrameWriter, frameReader, STATUS_FAILED } from './client-wire.js'
import { WindowMeter, peakRssMiB } from './measure.js'
import { createBenchMachine, respond, type BenchMachineKind } from './machines.js'

export interface NodeProcessConfig {
  readonly id: string
  readonly raftPorts: Record<string, number>
  readonly clientPort: number
  readonly dataDir: string
  /** @default true */
  readonly sync?: boolean
  /** @default NODE_DEFAULTS.tickMs (100 ms: 1-2 s election timeout, like etcd's default 1 s) */
  readonly tickMs?: number
  /**
   * PEM files for tcpTransport's mutual TLS (createDevCertificates writes them).
   * @default undefined (plain TCP: `insecure: true`)
   */
  readonly tls?: { readonly keyFile: string, readonly certFile: string, readonly caFile: string }
  /** The replicated state machine (machines.ts). @default 'counter' */
  readonly machine?: BenchMachineKind
}

const config = JSON.parse(process.argv[2] ?? '{}') as NodeProcessConfig
const ids = Object.keys(config.raftPorts)
const peers = Object.fromEntries(ids.filter((p) => p !== config.id).map((p) => [p, { host: '127.0.0.1', port: config.raftPorts[p]! }]))
const machine = createBenchMachine(config.machine ?? 'counter', {
  dataDir: config.dataDir,
  propose: async (command) => await node.propose(command),
  isLeader: () => node.status().role === 'leader'
})

function transportSecurity (tls: NodeProcessConfig['tls']): { tls: { key: string, cert: string, ca: string } } | { insecure: true } {
  if (tls === undefined) return { insecure: true }
  return { tls: { key: readFileSync(tls.keyFile, 'utf8'), cert: readFileSync(tls.certFile, 'utf8'), ca: readFileSync(tls.caFile, 'utf8') } }
}

const transport = tcpTransport({ id: config.id, clusterId: 'bench', listen: { host: '127.0.0.1', port: config.raftPorts[config.id]! }, peers, ...transportSecurity(config.tls) })
const node = new RaftNode({
  id: config.id,
  voters: ids,
  storage: new LevelStorage({ location: config.dataDir }),
  transport,
  stateMachine: machine.stateMachine,
  sync: config.sync ?? true,
  tickMs: config.tickMs ?? NODE_DEFAULTS.tickMs
})
await node.open()

const FAILED = Uint8Array.of(STATUS_FAILED)
let failures = 0
const server = createServer({ noDelay: true }, (socket) => {
  const writer = new FrameWriter(socket)
  socket.on('error', () => {})
  socket.on('data', frameReader((id, body) => {
    // The body is a view into a socket chunk; the log keeps what is proposed, so copy it.
    node.propose(new Uint8Array(body)).then(
      (result) => { writer.push(encodeFrame(id, respond(result))) },
      (err: { code?: string, message?: string }) => {
        if (failures++ === 0) console.error(`bench node ${config.id}: proposal failed: ${err.code ?? ''} ${err.message ?? String(err)}`)
        writer.push(encodeFrame(id, FAILED))
      }
    )
  }))
})
await new Promise<void>((resolve) => server.listen(config.clientPort, '127.0.0.1', resolve))

const gc = new WindowMeter()
let countersAtStart = node.metrics().counters
/** The transport's counters that say how it writes: frames (one per socket write), bytes, messages. */
const WIRE_COUNTERS = ['framesSent', 'bytesSent', 'sent', 'framesReceived', 'bytesReceived', 'dropped', 'backpressureDrops'] as const
type WireCounters = Record<(typeof WIRE_COUNTERS)[number], number>
function wireCounters (): WireCounters {
  const s = transport.stats()
  return Object.fromEntries(WIRE_COUNTERS.map((k) => [k, s[k]])) as WireCounters
}
let wireAtStart = wireCounters()
process.on('message', (msg: { cmd: string }) => {
  switch (msg.cmd) {
    case 'status': {
      const s = node.status()
      process.send?.({ status: { role: s.role, term: s.term, leader: s.leader } })
      break
    }
    case 'meter-start':
      gc.start()
      countersAtStart = node.metrics().counters
      wireAtStart = wireCounters()
      break
    case 'meter-stop': {
      const m = node.metrics()
      // Counters over the window; the storage write latency histogram covers the whole run.
      const counters = Object.fromEntries(Object.entries(m.counters).map(([k, v]) => [k, v - (countersAtStart[k as keyof typeof countersAtStart] ?? 0)]))
      const storageWriteMs = m.histograms.storageWriteMs
      const wireNow = wireCounters()
      const wire = Object.fromEntries(WIRE_COUNTERS.map((k) => [k, wireNow[k] - wireAtStart[k]]))
      void gc.stop().then((g) => process.send?.({ meter: { ...g, peakRssMiB: peakRssMiB(), applied: machine.applied, machine: machine.stats(), counters, wire, storageWriteMs } }))
      break
    }
    case 'exit':
      server.close()
      void node.close().then(async () => await machine.close()).finally(() => process.exit(0))
      break
  }
})
process.send?.({ ready: true })

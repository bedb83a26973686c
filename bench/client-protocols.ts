/**
 * The protocol choice of the client endpoint, measured alone: an echo server in a child
 * process on TLS loopback (the dev certificates), driven closed-loop at each concurrency by
 * (a) the framed protocol (src/cluster/wire.ts: length-prefixed frames, answers corked per
 * turn, 2 connections) and (b) HTTP/2 (node:http2, one session, a stream per request). No
 * Raft, no storage: the difference is the protocol's own cost. Medians of --runs (3).
 * Writes bench/results/client-protocols.json (or --out).
 *
 *   node dist/bench/client-protocols.js [--concurrency 16,256] [--measure-ms 3000] [--runs 3]
 */
import { fork } from 'node:child_process'
import * as http2 from 'node:http2'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tls from 'node:tls'
import { fileURLToPath } from 'node:url'
import { createDevCertificates } from '../src/transport/tls-certs.js'
import type { DevCertificates } from '../src/transport/tls-certs.js'
import { CorkedWriter, encodeFrame, frameReader } from '../src/cluster/wire.js'
import { closedLoop } from './closed-loop.js'
import type { ClosedLoopResult } from './closed-loop.js'
import { parseArgs } from './cli.js'
import { writeResult } from './measure.js'
import { nextMessage } from './proc.js'

type Protocol = 'frames' | 'http2'
const MAX = 1 << 20

/** The child: serves one protocol on a TLS port and reports it. */
async function serve (protocol: Protocol, certs: DevCertificates): Promise<void> {
  const secure = { key: certs.nodes.n1!.key, cert: certs.nodes.n1!.cert, ca: certs.ca }
  let port: number
  if (protocol === 'frames') {
    const server = tls.createServer(secure, (socket) => {
      socket.setNoDelay(true)
      const writer = new CorkedWriter(socket)
      socket.on('error', () => {})
      // Answer on a microtask, as a proposal's promise would.
      socket.on('data', frameReader(MAX, (id, op, body) => { const copy = new Uint8Array(body); void Promise.resolve().then(() => { writer.push(encodeFrame(id, 0, copy)) }) }, () => { socket.destroy() }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as { port: number }).port
  } else {
    const server = http2.createSecureServer(secure, (req, res) => {
      const parts: Buffer[] = []
      req.on('data', (d: Buffer) => parts.push(d))
      req.on('end', () => { void Promise.resolve().then(() => { res.writeHead(200, { 'content-type': 'application/octet-stream' }); res.end(Buffer.concat(parts)) }) })
    })
    // Fair to HTTP/2: no Nagle delay on its socket either.
    server.on('secureConnection', (socket: tls.TLSSocket) => { socket.setNoDelay(true) })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as { port: number }).port
  }
  process.send?.({ port })
}

async function drive (protocol: Protocol, port: number, certs: DevCertificates, concurrency: number, measureMs: number): Promise<ClosedLoopResult> {
  const options = { host: '127.0.0.1', port, ca: certs.ca, checkServerIdentity: () => undefined }
  if (protocol === 'frames') {
    const waiters = new Map<number, () => void>()
    let next = 1
    const writers = await Promise.all([0, 1].map(async () => {
      const socket = tls.connect(options)
      socket.setNoDelay(true)
      await new Promise<void>((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('error', reject) })
      socket.on('data', frameReader(MAX, (id) => { const w = waiters.get(id); waiters.delete(id); w?.() }, () => {}))
      return { socket, writer: new CorkedWriter(socket) }
    }))
    let turn = 0
    const result = await closedLoop(async (cmd) => {
      const id = next++
      await new Promise<void>((resolve) => { waiters.set(id, resolve); writers[turn++ % writers.length]!.writer.push(encodeFrame(id, 1, cmd)) })
    }, { concurrency, warmupMs: 500, measureMs })
    for (const w of writers) w.socket.destroy()
    return result
  }
  const session = http2.connect(`https://127.0.0.1:${port}`, {
    peerMaxConcurrentStreams: 1000,
    createConnection: () => {
      const socket = tls.connect({ ...options, ALPNProtocols: ['h2'] })
      socket.setNoDelay(true)
      return socket
    }
  })
  await new Promise<void>((resolve, reject) => { session.once('connect', () => { resolve() }); session.once('error', reject) })
  const result = await closedLoop(async (cmd) => {
    await new Promise<void>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/' })
      req.on('data', () => {})
      req.once('end', resolve)
      req.once('error', reject)
      req.end(cmd)
    })
  }, { concurrency, warmupMs: 500, measureMs })
  session.close()
  return result
}

const role = process.argv[2]
if (role === 'serve') {
  const { protocol, certs } = JSON.parse(process.argv[3]!) as { protocol: Protocol, certs: DevCertificates }
  await serve(protocol, certs)
} else {
  const argv = process.argv.slice(2)
  const runsAt = argv.indexOf('--runs')
  const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 3
  const args = parseArgs(argv.filter((_, i) => i !== runsAt && i !== runsAt + 1))
  const concurrency = argv.includes('--concurrency') ? args.concurrency : [16, 256]
  const measureMs = argv.includes('--measure-ms') ? args.measureMs : 3000
  const dir = await mkdtemp(join(tmpdir(), 'quorate-protocols-'))
  const rows: Array<ClosedLoopResult & { protocol: Protocol, runs: number[] }> = []
  try {
    const certs = await createDevCertificates({ nodeIds: ['n1'], dir })
    for (const c of concurrency) {
      for (const protocol of ['frames', 'http2'] as const) {
        const results: ClosedLoopResult[] = []
        for (let i = 0; i < runs; i++) {
          const child = fork(fileURLToPath(import.meta.url), ['serve', JSON.stringify({ protocol, certs })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
          try {
            const port = await nextMessage<number>(child, 'port')
            results.push(await drive(protocol, port, certs, c, measureMs))
          } finally {
            child.kill('SIGKILL')
          }
        }
        const median = [...results].sort((a, b) => a.commitsPerSec - b.commitsPerSec)[Math.floor(results.length / 2)]!
        rows.push({ protocol, ...median, runs: results.map((r) => r.commitsPerSec) })
        console.log(`client-protocols c=${String(c).padStart(3)} ${protocol.padEnd(6)}: ${median.commitsPerSec} req/s p50 ${median.latency.p50Us} µs (runs ${results.map((r) => r.commitsPerSec).join(', ')})`)
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  writeResult(args.out ?? 'client-protocols', {
    name: 'Client protocol alone: framed (wire.ts) vs HTTP/2, TLS loopback echo server in a child process, 100-byte bodies',
    date: new Date().toISOString(),
    node: process.version,
    measureMs,
    runsPerPoint: runs,
    rows
  })
}

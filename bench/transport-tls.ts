/**
 * What mutual TLS costs tcpTransport, without a disk in the way: two transports in one process
 * on 127.0.0.1, one sending AppendEntries (default 40 entries of 100 bytes, about the 5-7 KiB
 * B2's leader writes per socket write at c=256) to the other, a batch of --batch messages per
 * turn of the event loop, the next batch once the previous one has arrived (no backpressure
 * drops). mTLS and plain run as --pairs alternating windows, so the load drifts over both alike;
 * per pair, messages/s and process CPU (both ends, user + system) per message, and the ratio.
 * Writes bench/results/transport-tls.json.
 *
 *   npm run build && node dist/bench/transport-tls.js [--pairs 5] [--window-ms 1000] [--entries 40] [--batch 1]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDevCertificates } from '../src/transport/tls-certs.js'
import { tcpTransport } from '../src/transport/tcp.js'
import { message, type Entry, type Message } from '../src/raft/types.js'
import { checkFlags } from './cli.js'
import { writeResult } from './measure.js'
import { median, spread } from './peers/stats.js'

const argv = process.argv.slice(2)
checkFlags('transport-tls', argv, ['--pairs', '--window-ms', '--entries', '--batch'])
const num = (flag: string, fallback: number): number => {
  const i = argv.indexOf(flag)
  const v = i >= 0 ? Number(argv[i + 1]) : fallback
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${flag} must be a positive integer`)
  return v
}
const PAIRS = num('--pairs', 5)
const WINDOW_MS = num('--window-ms', 1000)
const ENTRIES = num('--entries', 40)
const BATCH = num('--batch', 1)

type Security = 'mtls' | 'insecure'
interface Window { readonly messagesPerSec: number, readonly cpuUsPerMessage: number, readonly bytesPerWrite: number }

const dir = await mkdtemp(join(tmpdir(), 'quorate-transport-tls-'))
await createDevCertificates({ nodeIds: ['a', 'b'], dir, caName: 'transport-tls' })
const material = async (i: number): Promise<{ key: string, cert: string, ca: string }> => ({
  key: await readFile(join(dir, `${i}.key`), 'utf8'), cert: await readFile(join(dir, `${i}.crt`), 'utf8'), ca: await readFile(join(dir, 'ca.crt'), 'utf8')
})

const data = new Uint8Array(100).fill(7)
const entries: Entry[] = Array.from({ length: ENTRIES }, (_, i) => ({ term: 1, index: i + 1, type: 'command', data }))
const append: Message = message({ type: 'append', from: 'a', to: 'b', term: 1, entries })
const batch: Message[] = new Array<Message>(BATCH).fill(append)

async function measure (security: Security): Promise<Window> {
  const sec = security === 'insecure' ? { insecure: true as const } : undefined
  const a = tcpTransport({ id: 'a', clusterId: 'bench', listen: { host: '127.0.0.1', port: 0 }, ...(sec ?? { tls: await material(0) }) })
  const b = tcpTransport({ id: 'b', clusterId: 'bench', listen: { host: '127.0.0.1', port: 0 }, ...(sec ?? { tls: await material(1) }) })
  let received = 0
  let onBatch: (() => void) | null = null
  await a.open(() => {})
  await b.open(() => { if (++received % BATCH === 0) onBatch?.() })
  a.addPeer('b', b.address()!)
  b.addPeer('a', a.address()!)
  try {
    // A lost message would leave the batch incomplete for ever: fail instead of hanging.
    const round = async (): Promise<void> => await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`transport-tls: a batch was not delivered within 5 s (${JSON.stringify(a.stats())})`)), 5000)
      onBatch = () => { clearTimeout(timer); resolve() }
      a.send(batch)
    })
    for (let i = 0; i < 50; i++) await round() // connect, handshake and warm the JIT
    const before = a.stats()
    const cpu = process.cpuUsage()
    const start = performance.now()
    const first = received
    while (performance.now() - start < WINDOW_MS) await round()
    const seconds = (performance.now() - start) / 1000
    const used = process.cpuUsage(cpu)
    const after = a.stats()
    if (after.dropped !== before.dropped) throw new Error(`transport-tls: ${after.dropped - before.dropped} messages dropped`)
    const n = received - first
    return {
      messagesPerSec: Math.round(n / seconds),
      cpuUsPerMessage: Number(((used.user + used.system) / n).toFixed(2)),
      bytesPerWrite: Math.round((after.bytesSent - before.bytesSent) / Math.max(1, after.framesSent - before.framesSent))
    }
  } finally {
    await a.close()
    await b.close()
  }
}

try {
  const runs: Record<Security, Window[]> = { mtls: [], insecure: [] }
  for (let p = 0; p < PAIRS; p++) {
    const order: Security[] = p % 2 === 0 ? ['mtls', 'insecure'] : ['insecure', 'mtls']
    for (const s of order) runs[s].push(await measure(s))
  }
  const throughput = spread(runs.mtls.map((w, i) => w.messagesPerSec / runs.insecure[i]!.messagesPerSec))
  const cpu = spread(runs.mtls.map((w, i) => w.cpuUsPerMessage / runs.insecure[i]!.cpuUsPerMessage))
  const summary = (s: Security): Record<string, number> => ({
    messagesPerSec: median(runs[s].map((w) => w.messagesPerSec)),
    cpuUsPerMessage: median(runs[s].map((w) => w.cpuUsPerMessage)),
    bytesPerWrite: median(runs[s].map((w) => w.bytesPerWrite))
  })
  const mtls = summary('mtls')
  const insecure = summary('insecure')
  console.log(`transport ${ENTRIES}x100 B appends, ${BATCH} per turn: mTLS ${mtls.messagesPerSec} msg/s ${mtls.cpuUsPerMessage} µs CPU/msg; ` +
    `plain ${insecure.messagesPerSec} msg/s ${insecure.cpuUsPerMessage} µs CPU/msg; ` +
    `mTLS/plain throughput ×${throughput.median.toFixed(2)} (${throughput.min.toFixed(2)}–${throughput.max.toFixed(2)}), CPU ×${cpu.median.toFixed(2)} (${cpu.min.toFixed(2)}–${cpu.max.toFixed(2)}) over ${PAIRS} pairs`)
  writeResult('transport-tls', {
    name: 'tcpTransport mutual TLS vs plain TCP, one process, alternating windows',
    date: new Date().toISOString(),
    node: process.version,
    entriesPerMessage: ENTRIES,
    entryBytes: data.byteLength,
    messagesPerTurn: BATCH,
    pairs: PAIRS,
    windowMs: WINDOW_MS,
    mtls,
    insecure,
    throughputRatio: throughput,
    cpuRatio: cpu,
    runs
  })
} finally {
  await rm(dir, { recursive: true, force: true })
}

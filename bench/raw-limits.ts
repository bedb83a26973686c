/**
 * The raw limits of this machine that bound the cluster benchmarks: small-file write+fsync
 * rate, raw classic-level chained batches (one 100-byte entry) with sync, and the loopback
 * TCP round trip (ping-pong of 100-byte messages between two processes). Also describes the
 * machine. Writes bench/results/raw-limits.json.
 *
 * With --floor it measures only what the peers benchmark needs as its physical floor, in
 * the same run as the clusters, and prints it as one JSON line instead: fsync p50, the
 * p50 of a 100-byte append + fdatasync to a growing file (the floor under classic-level), the
 * loopback round trip p50 and raw classic-level chained batches of --batch entries with
 * sync (the batch size B2's leader writes at high concurrency).
 *
 *   npm run build && node dist/bench/raw-limits.js
 *   node dist/bench/raw-limits.js --floor --batch 128 [--duration-ms 3000]
 */
import { fork } from 'node:child_process'
import { closeSync, fdatasyncSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ClassicLevel } from 'classic-level'
import { newLatencyHistogram, summarize, writeResult } from './measure.js'

const DEFAULT_DURATION_MS = 3000
const VALUE = Buffer.alloc(100, 7)
const flagValue = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const DURATION_MS = Number(flagValue('--duration-ms') ?? DEFAULT_DURATION_MS)

type Rate = { opsPerSec: number, p50Us: number, p99Us: number }

/** Runs `op` back to back for DURATION_MS and reports its rate and latency. */
async function timedLoop (op: (n: number) => void | Promise<void>): Promise<Rate> {
  const h = newLatencyHistogram()
  const end = performance.now() + DURATION_MS
  let n = 0
  while (performance.now() < end) {
    const t = process.hrtime.bigint()
    await op(n)
    h.record(Number(process.hrtime.bigint() - t))
    n++
  }
  const s = summarize(h)
  return { opsPerSec: Math.round(n / (DURATION_MS / 1000)), p50Us: s.p50Us, p99Us: s.p99Us }
}

async function fsyncRate (dir: string, sync: (fd: number) => void): Promise<Rate> {
  const fd = openSync(join(dir, 'fsync-probe'), 'w')
  try {
    return await timedLoop((n) => {
      writeSync(fd, VALUE, 0, VALUE.length, (n % 64) * VALUE.length)
      sync(fd)
    })
  } finally { closeSync(fd) }
}

/**
 * 100-byte appends to a growing file, each followed by fdatasync: what a log that does not
 * preallocate pays per durable write (the file's size changes, so the metadata is flushed
 * too). classic-level's synced write is exactly one such append plus fdatasync (strace: one
 * write, one fdatasync per batch), so this, not the overwrite above, is the floor under the
 * storage quorate is fixed to; a log that preallocates its segments (etcd's WAL) gets the
 * overwrite's cost instead.
 */
async function appendSyncRate (dir: string): Promise<Rate> {
  const fd = openSync(join(dir, 'append-probe'), 'a')
  try {
    return await timedLoop(() => {
      writeSync(fd, VALUE, 0, VALUE.length)
      fdatasyncSync(fd)
    })
  } finally { closeSync(fd) }
}

/** Chained batches of `entries` 100-byte values under fresh 8-byte keys, each written with sync. */
async function levelSyncRate (dir: string, entries = 1): Promise<Rate & { entriesPerSec: number, entriesPerBatch: number }> {
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, `level-${entries}`), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.open()
  try {
    let key = 0
    const rate = await timedLoop(async () => {
      const batch = db.batch()
      for (let i = 0; i < entries; i++, key++) {
        const k = Buffer.allocUnsafe(8)
        k.writeUInt32BE(Math.floor(key / 0x1_0000_0000), 0)
        k.writeUInt32BE(key >>> 0, 4)
        batch.put(k, VALUE)
      }
      await batch.write({ sync: true })
    })
    return { ...rate, entriesPerBatch: entries, entriesPerSec: rate.opsPerSec * entries }
  } finally { await db.close() }
}

/** Echo server in a child process; this process sends one 100-byte message at a time. */
async function loopbackRtt (): Promise<{ roundTripsPerSec: number, p50Us: number, p99Us: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--echo'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)))
  const socket = connect({ port, host: '127.0.0.1', noDelay: true })
  await new Promise((resolve) => socket.once('connect', resolve))
  const h = newLatencyHistogram()
  const end = performance.now() + DURATION_MS
  let n = 0
  await new Promise<void>((resolve) => {
    let t = process.hrtime.bigint()
    let got = 0
    socket.on('data', (chunk) => {
      got += chunk.length
      if (got < VALUE.length) return
      got = 0
      h.record(Number(process.hrtime.bigint() - t))
      n++
      if (performance.now() >= end) { resolve(); return }
      t = process.hrtime.bigint()
      socket.write(VALUE)
    })
    socket.write(VALUE)
  })
  socket.destroy()
  child.kill()
  const s = summarize(h)
  return { roundTripsPerSec: Math.round(n / (DURATION_MS / 1000)), p50Us: s.p50Us, p99Us: s.p99Us }
}

export function describeMachine (): Record<string, unknown> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown'
  let disk = 'unknown'
  try {
    disk = execFileSync('df', ['-hT', tmpdir()], { encoding: 'utf8' }).trim().split('\n').slice(1).join('; ')
  } catch {}
  let kernel = ''
  try { kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() } catch {}
  return {
    nproc: cpus().length,
    cpuModel: model,
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    node: process.version,
    kernel,
    disk: `tmpdir ${tmpdir()}: ${disk.replace(/\s+/g, ' ')}`,
    loadAverage1m: Math.round(loadavg()[0]! * 100) / 100
  }
}

if (process.argv.includes('--echo')) {
  const server = createServer({ noDelay: true }, (s) => { s.on('data', (c) => s.write(c)) })
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as { port: number }).port }))
} else if (process.argv.includes('--floor')) {
  const batch = Number(flagValue('--batch') ?? 1)
  if (!Number.isSafeInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer, got ${String(flagValue('--batch'))}`)
  const dir = await mkdtemp(join(tmpdir(), 'quorate-floor-'))
  try {
    const fsync = await fsyncRate(dir, fsyncSync)
    const appendSync = await appendSyncRate(dir)
    const rtt = await loopbackRtt()
    const levelBatch = await levelSyncRate(dir, batch)
    console.log(JSON.stringify({ durationMs: DURATION_MS, fsync, appendSync, loopbackRtt: rtt, levelBatch }))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
} else {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-raw-'))
  try {
    const machine = describeMachine()
    const fsync = await fsyncRate(dir, fsyncSync)
    console.log(`fsync (100-byte write + fsync): ${fsync.opsPerSec}/s  p50 ${fsync.p50Us} µs  p99 ${fsync.p99Us} µs`)
    const fdatasync = await fsyncRate(dir, fdatasyncSync)
    console.log(`fdatasync (100-byte write + fdatasync): ${fdatasync.opsPerSec}/s  p50 ${fdatasync.p50Us} µs  p99 ${fdatasync.p99Us} µs`)
    const appendSync = await appendSyncRate(dir)
    console.log(`append + fdatasync (100 bytes, growing file): ${appendSync.opsPerSec}/s  p50 ${appendSync.p50Us} µs  p99 ${appendSync.p99Us} µs`)
    const level = await levelSyncRate(dir)
    console.log(`classic-level chained batch, 1 entry, sync: ${level.opsPerSec}/s  p50 ${level.p50Us} µs  p99 ${level.p99Us} µs`)
    const rtt = await loopbackRtt()
    console.log(`loopback TCP round trip (100 bytes, two processes): ${rtt.roundTripsPerSec}/s  p50 ${rtt.p50Us} µs  p99 ${rtt.p99Us} µs`)
    writeResult('raw-limits', { name: 'raw limits of this machine', date: new Date().toISOString(), machine, durationMs: DURATION_MS, fsync, fdatasync, appendSync, levelSync: level, loopbackRtt: rtt })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * A quorate/level database of --mib MiB (default 1024) streamed as a snapshot to a new
 * follower, each node in its own process on classic-level with fsync and plain TCP, measuring
 * the peak RSS of the sender and of the receiver against their working set.
 *
 * 1. A fill process builds the database through quorate/level on one node: ReplicatedLevel
 *    batches of 1024 puts of 1 KiB values (one Raft entry each, sync off for the fill only),
 *    and takes one snapshot at the end (snapshotBytes), which compacts the whole log away.
 * 2. The leader process opens that node from disk (the local database resumes at its applied
 *    index, nothing is rebuilt), the follower process opens an empty node; each reports its
 *    RSS once open: its working set.
 * 3. The leader adds the follower as a learner. With no log left, it streams the snapshot:
 *    the leader reads it chunk by chunk from storage, the follower stages each chunk in its
 *    storage before acknowledging it and then restores its local database from the staged
 *    stream. Both sample their RSS every 20 ms until the follower has applied the leader's
 *    commit index.
 *
 *   npm run build && node dist/bench/level-snapshot.js [--mib 1024] [--keep]
 *
 * Writes bench/results/level-snapshot.json (--out NAME for another name).
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ClassicLevel } from 'classic-level'
import { LevelStateMachine, ReplicatedLevel } from '../src/level/index.js'
import type { LocalLevel } from '../src/level/index.js'
import { RaftNode } from '../src/node/node.js'
import { StateMachineRouter } from '../src/sm/router.js'
import { LevelStorage } from '../src/storage/level-storage.js'
import { tcpTransport } from '../src/transport/tcp.js'
import { writeResult } from './measure.js'
import { forkScript, freePorts, nextMessage, waitExit } from './proc.js'

const MiB = 1024 * 1024
const VALUE_BYTES = 1024
const BATCH_PUTS = 1024
const CHUNK_BYTES = 1024 * 1024
const WINDOW_CHUNKS = 4
const TICK_MS = 50

interface ChildConfig {
  readonly role: 'fill' | 'leader' | 'follower'
  readonly id: 'n1' | 'n2'
  readonly dir: string
  readonly ports: Record<'n1' | 'n2', number>
  readonly mib: number
}

function mib (bytes: number): number { return Math.round(bytes / MiB * 10) / 10 }

/**
 * RSS once garbage is collected (the node processes run with --expose-gc): what a process
 * holds live, not what the collector has not got to yet. Only called outside the transfer.
 */
function liveRss (): number {
  (globalThis as { gc?: () => void }).gc?.()
  return process.memoryUsage.rss()
}

/**
 * Resident memory split as Linux counts it (/proc/self/status): anonymous memory (heap,
 * buffers, native allocations) and file-backed pages (LevelDB maps its table files: pages
 * read through the maps count as resident but are page cache the kernel can drop). Null
 * where /proc is not available.
 */
function residentSplit (): { anon: number, file: number } | null {
  try {
    const status = readFileSync('/proc/self/status', 'utf8')
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
    const anon = kb('RssAnon')
    const file = kb('RssFile')
    return Number.isFinite(anon) && Number.isFinite(file) ? { anon, file } : null
  } catch {
    return null
  }
}

/** Samples this process's RSS every 20 ms from `mark()` on. */
class RssSampler {
  #peak = 0
  /** Peak anonymous resident memory (see residentSplit), or 0 if unknown. */
  peakAnon = 0
  /** process.memoryUsage() when the peak was seen (MiB): where the memory was. */
  breakdown: Record<string, number> = {}
  #timer: NodeJS.Timeout | null = null
  mark (): number {
    const now = process.memoryUsage.rss()
    this.#peak = now
    this.peakAnon = residentSplit()?.anon ?? 0
    this.#timer ??= setInterval(() => {
      this.peakAnon = Math.max(this.peakAnon, residentSplit()?.anon ?? 0)
      const rss = process.memoryUsage.rss()
      if (rss <= this.#peak) return
      this.#peak = rss
      const split = residentSplit()
      this.breakdown = Object.fromEntries([...Object.entries(process.memoryUsage()), ...Object.entries(split ?? {}).map(([k, v]) => [`rss${k[0]!.toUpperCase()}${k.slice(1)}`, v])].map(([k, v]) => [k, mib(v as number)]))
    }, 20)
    return now
  }

  stop (): number {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    return Math.max(this.#peak, process.memoryUsage.rss())
  }
}

/** One node of the benchmark: classic-level storage and local database under `dir`, TCP. */
async function openNode (config: ChildConfig, options: { snapshotBytes?: number, sync: boolean }): Promise<{ node: RaftNode, level: ReplicatedLevel, machine: LevelStateMachine }> {
  const other = config.id === 'n1' ? 'n2' : 'n1'
  const router = new StateMachineRouter()
  const route = router.mount('level', new LevelStateMachine({ db: new ClassicLevel(join(config.dir, 'level')) as unknown as LocalLevel }))
  const node = new RaftNode({
    id: config.id,
    voters: ['n1'],
    storage: new LevelStorage({ location: join(config.dir, 'raft') }),
    transport: tcpTransport({ id: config.id, clusterId: 'level-snapshot', listen: { host: '127.0.0.1', port: config.ports[config.id] }, peers: { [other]: { host: '127.0.0.1', port: config.ports[other] } }, insecure: true }),
    stateMachine: router,
    tickMs: TICK_MS,
    sync: options.sync,
    snapshotEntries: 1_000_000_000,
    snapshotBytes: options.snapshotBytes ?? Number.MAX_SAFE_INTEGER,
    snapshotKeepEntries: 0,
    snapshotChunkBytes: CHUNK_BYTES,
    snapshotWindowChunks: WINDOW_CHUNKS
  })
  await node.open()
  const level = new ReplicatedLevel({ node, route, keyEncoding: 'utf8', valueEncoding: 'view' } as never)
  await level.open()
  return { node, level, machine: route.machine }
}

async function closeNode (n: { node: RaftNode, level: ReplicatedLevel, machine: LevelStateMachine }): Promise<void> {
  await n.level.close()
  await n.node.close()
  await n.machine.close()
}

async function fill (config: ChildConfig): Promise<void> {
  const total = config.mib * MiB
  // One snapshot once (about) the whole database was applied: the fill's last entries trigger it.
  const n = await openNode(config, { snapshotBytes: total - 64 * 1024, sync: false })
  await n.node.waitForLeader()
  let snapshotAt = 0
  const snapshot = new Promise<number>((resolve) => { n.node.once('snapshot', (meta) => { snapshotAt = performance.now(); resolve(meta.index) }) })
  const value = new Uint8Array(VALUE_BYTES).fill(7)
  const started = performance.now()
  const batches = Math.ceil(total / (VALUE_BYTES * BATCH_PUTS))
  let next = 0
  const worker = async (): Promise<void> => {
    for (let b = next++; b < batches; b = next++) {
      const ops = Array.from({ length: BATCH_PUTS }, (_, i) => ({ type: 'put' as const, key: `key${String(b * BATCH_PUTS + i).padStart(12, '0')}`, value }))
      await n.level.batch(ops as never)
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
  const fillMs = performance.now() - started
  const index = await snapshot
  // The snapshot may complete before the last batches: it is the time from the start.
  const snapshotMs = snapshotAt - started
  process.send!({ filled: { fillMs: Math.round(fillMs), snapshotMs: Math.round(snapshotMs), snapshotIndex: index, batches } })
  await closeNode(n)
}

async function leader (config: ChildConfig): Promise<void> {
  const sampler = new RssSampler()
  const started = performance.now()
  const n = await openNode(config, { sync: true })
  await n.node.waitForLeader()
  const openMs = performance.now() - started
  await new Promise((resolve) => setTimeout(resolve, 500))
  process.send!({ open: { rss: liveRss(), anon: residentSplit()?.anon ?? 0, openMs: Math.round(openMs), commit: n.node.status().commitIndex } })
  process.on('message', (m: { cmd: string }) => {
    void (async () => {
      if (m.cmd === 'add') {
        sampler.mark()
        await n.node.addLearner('n2')
        process.send!({ added: { commit: n.node.status().commitIndex } })
      } else if (m.cmd === 'stop') {
        const peak = sampler.stop()
        const counters = n.node.metrics().counters
        process.send!({ stopped: { peak, peakAnon: sampler.peakAnon, chunksSent: counters.snapshotChunksSent, atPeak: sampler.breakdown } })
        await closeNode(n)
        process.exit(0)
      }
    })()
  })
}

async function follower (config: ChildConfig): Promise<void> {
  const sampler = new RssSampler()
  const n = await openNode(config, { sync: true })
  await new Promise((resolve) => setTimeout(resolve, 500))
  process.send!({ open: { rss: liveRss(), anon: residentSplit()?.anon ?? 0 } })
  process.on('message', (m: { cmd: string, commit?: number }) => {
    void (async () => {
      if (m.cmd === 'watch') {
        sampler.mark()
        const started = performance.now()
        const target = m.commit!
        while (n.node.status().appliedIndex < target) await new Promise((resolve) => setTimeout(resolve, 20))
        const seconds = (performance.now() - started) / 1000
        const keys = await n.level.keys({ limit: 2, reverse: true }).all()
        // The receiver's working set with the whole database in place: once it settled.
        await new Promise((resolve) => setTimeout(resolve, 1000))
        const peak = sampler.stop()
        const settled = liveRss()
        const live = process.memoryUsage()
        process.send!({ caughtUp: { peak, peakAnon: sampler.peakAnon, seconds, settled, liveJs: live.heapUsed + live.external, installed: n.node.metrics().counters.snapshotsInstalled, lastKey: keys[0], atPeak: sampler.breakdown } })
        await closeNode(n)
        process.exit(0)
      }
    })()
  })
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const arg = (name: string): string | undefined => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined }
  const size = Number(arg('mib') ?? 1024)
  const out = arg('out') ?? 'level-snapshot'
  const keep = argv.includes('--keep')
  const root = await mkdtemp(join(tmpdir(), 'quorate-level-snapshot-'))
  const script = fileURLToPath(import.meta.url)
  const [p1, p2] = await freePorts(2)
  const ports = { n1: p1!, n2: p2! }
  const cfg = (role: ChildConfig['role'], id: ChildConfig['id']): ChildConfig => ({ role, id, dir: join(root, id), ports, mib: size })
  const began = performance.now()
  try {
    const filler = forkScript(script, cfg('fill', 'n1'))
    const filled = await nextMessage<{ fillMs: number, snapshotMs: number, snapshotIndex: number, batches: number }>(filler, 'filled', 3_600_000)
    await waitExit(filler, 120_000)
    console.log(`filled ${size} MiB in ${filled.fillMs} ms, snapshot stored ${filled.snapshotMs} ms after the start`)
    const lead = forkScript(script, cfg('leader', 'n1'), ['--expose-gc'])
    const leaderOpen = await nextMessage<{ rss: number, anon: number, openMs: number, commit: number }>(lead, 'open', 600_000)
    const follow = forkScript(script, cfg('follower', 'n2'), ['--expose-gc'])
    const followerOpen = await nextMessage<{ rss: number, anon: number }>(follow, 'open', 120_000)
    lead.send({ cmd: 'add' })
    const added = await nextMessage<{ commit: number }>(lead, 'added', 3_600_000)
    follow.send({ cmd: 'watch', commit: added.commit })
    const caught = await nextMessage<{ peak: number, peakAnon: number, seconds: number, settled: number, liveJs: number, installed: number, lastKey: string, atPeak: Record<string, number> }>(follow, 'caughtUp', 3_600_000)
    lead.send({ cmd: 'stop' })
    const stopped = await nextMessage<{ peak: number, peakAnon: number, chunksSent: number, atPeak: Record<string, number> }>(lead, 'stopped', 120_000)
    await Promise.all([waitExit(lead), waitExit(follow)])
    const result = {
      benchmark: 'level-snapshot',
      databaseMiB: size,
      valueBytes: VALUE_BYTES,
      fill: 'through quorate/level on 1 node: ReplicatedLevel batches of 1024 puts (one Raft entry each), sync off during the fill only',
      snapshotChunkBytes: CHUNK_BYTES,
      snapshotWindowChunks: WINDOW_CHUNKS,
      workingSet: 'RSS of each process once its node is open, just before the transfer, after a forced GC (the receiver\'s is an empty node; settledAfterMiB is its RSS after catching up, with the database in place, after a forced GC). No GC is forced during the transfer.',
      fillSeconds: +(filled.fillMs / 1000).toFixed(1),
      snapshotDoneAtSeconds: +(filled.snapshotMs / 1000).toFixed(1),
      leaderOpenSeconds: +(leaderOpen.openMs / 1000).toFixed(1),
      transferSeconds: +caught.seconds.toFixed(1),
      chunksSent: stopped.chunksSent,
      snapshotsInstalled: caught.installed,
      lastKey: caught.lastKey,
      sender: {
        workingSetMiB: mib(leaderOpen.rss),
        peakMiB: mib(stopped.peak),
        peakOverWorkingSet: +(stopped.peak / leaderOpen.rss).toFixed(2),
        anonWorkingSetMiB: mib(leaderOpen.anon),
        anonPeakMiB: mib(stopped.peakAnon),
        memoryAtPeakMiB: stopped.atPeak
      },
      receiver: {
        workingSetMiB: mib(followerOpen.rss),
        peakMiB: mib(caught.peak),
        peakOverWorkingSet: +(caught.peak / followerOpen.rss).toFixed(2),
        anonWorkingSetMiB: mib(followerOpen.anon),
        anonPeakMiB: mib(caught.peakAnon),
        settledAfterMiB: mib(caught.settled),
        peakOverSettledAfter: +(caught.peak / caught.settled).toFixed(2),
        liveJsAfterMiB: mib(caught.liveJs),
        memoryAtPeakMiB: caught.atPeak
      },
      totalSeconds: +((performance.now() - began) / 1000).toFixed(1),
      node: process.version
    }
    console.log(JSON.stringify(result, null, 2))
    console.log(`wrote ${writeResult(out, result)}`)
  } finally {
    if (!keep) await rm(root, { recursive: true, force: true })
  }
}

const config = process.argv[2]?.startsWith('{') === true ? JSON.parse(process.argv[2]) as ChildConfig : null
if (config === null) await main()
else if (config.role === 'fill') { await fill(config); process.exit(0) } else if (config.role === 'leader') await leader(config)
else await follower(config)

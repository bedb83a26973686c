/**
 * Node processes on 127.0.0.1 (classic-level in temporary directories, tcpTransport over
 * mutual TLS) under a put workload while a seeded schedule SIGKILLs leaders and followers and
 * restarts them. Afterwards every acknowledged put must be visible to a linearizable read, and
 * all replicas must hold the same state at the same applied index.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { ProcessCluster } from '../../src/cluster/launcher.js'
import type { NodeReport } from '../../src/cluster/protocol.js'
import type { NodeId } from '../../src/raft/types.js'
import { SeededRandom, randomInt } from '../../src/util/random.js'
import { processAlive } from './process-helpers.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Polls until `probe` returns a value (liveness, not speed: the limit only stops a hung test). */
async function eventually<T> (what: string, probe: () => Promise<T | undefined>, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs
  let last: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (err) { last = err }
    if (Date.now() > deadline) throw new Error(`${what} did not happen${last === undefined ? '' : `: ${String(last)}`}`)
    await sleep(50)
  }
}

async function reports (cluster: ProcessCluster): Promise<NodeReport[]> {
  return await Promise.all(cluster.ids.map(async (id) => await cluster.client.status(id)))
}

async function currentLeader (cluster: ProcessCluster): Promise<NodeId | null> {
  const all = await Promise.allSettled(cluster.ids.filter((id) => cluster.isRunning(id)).map(async (id) => await cluster.client.status(id)))
  let best: NodeReport | null = null
  for (const r of all) {
    if (r.status === 'fulfilled' && r.value.role === 'leader' && (best === null || r.value.term > best.term)) best = r.value
  }
  return best?.id ?? null
}

interface KillRun {
  readonly acked: Map<string, string>
  readonly kills: string[]
  readonly unacked: number
}

const MIN_KILL_ROUNDS = 3

/**
 * Runs `workers` put loops for `workloadMs` while killing nodes (at most a minority at a time,
 * the leader about half the time) and restarting them after a seeded pause. At least
 * MIN_KILL_ROUNDS rounds run however long they take, so a slow machine (process starts of
 * seconds) gets as many kills as a fast one, only later.
 */
async function putsUnderKills (cluster: ProcessCluster, seed: number, workloadMs: number, workers: number): Promise<KillRun> {
  const random = new SeededRandom(seed)
  const acked = new Map<string, string>()
  const kills: string[] = []
  let unacked = 0
  let stop = false
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const key = `s${seed}-w${w}-${i}`
      const value = `v${i}-${key}`
      try {
        await cluster.client.put(key, value, { signal: AbortSignal.timeout(10_000) })
        acked.set(key, value)
      } catch {
        unacked++
      }
    }
  })
  const maxDown = Math.floor((cluster.ids.length - 1) / 2)
  const chaos = (async () => {
    const started = Date.now()
    while (kills.length < MIN_KILL_ROUNDS || Date.now() - started < workloadMs) {
      await sleep(randomInt(random, 200, 900))
      const down = randomInt(random, 1, maxDown + 1)
      const leader = await currentLeader(cluster)
      const victims: NodeId[] = []
      if (leader !== null && random.next() < 0.5) victims.push(leader)
      while (victims.length < down) {
        const id = cluster.ids[randomInt(random, 0, cluster.ids.length)]!
        if (!victims.includes(id)) victims.push(id)
      }
      await Promise.all(victims.map(async (id) => { await cluster.kill(id, 'SIGKILL') }))
      kills.push(victims.map((id) => `${id}${id === leader ? '(leader)' : ''}`).join('+'))
      await sleep(randomInt(random, 100, 1200))
      await cluster.startAll()
    }
  })()
  try {
    await chaos
  } finally {
    stop = true
    await Promise.all(loops)
  }
  return { acked, kills, unacked }
}

async function checkRecovered (cluster: ProcessCluster, acked: Map<string, string>): Promise<void> {
  const keys = [...acked.keys()]
  const values = await cluster.client.read(keys, { signal: AbortSignal.timeout(30_000) })
  const lost = keys.filter((k, i) => values[i] !== acked.get(k))
  assert.equal(lost.length, 0, `acknowledged puts lost or changed: ${lost.slice(0, 5).join(', ')}`)

  // Replicas agree once they reach the same applied index (a hash per node, taken with its index).
  const settled = await eventually('all nodes at one applied index', async () => {
    const all = await reports(cluster)
    return all.every((r) => r.appliedIndex === all[0]!.appliedIndex) ? all : undefined
  })
  const hashes = new Set(settled.map((r) => r.stateHash))
  assert.equal(hashes.size, 1, `state hashes differ at index ${settled[0]!.appliedIndex}: ${settled.map((r) => `${r.id}=${r.stateHash.slice(0, 12)}`).join(' ')}`)
  assert.ok(settled[0]!.keys >= acked.size, `replicas hold ${settled[0]!.keys} keys, ${acked.size} were acknowledged`)
}

async function killTest (nodes: number, seed: number, workloadMs: number): Promise<void> {
  const cluster = await ProcessCluster.create({ nodes })
  try {
    await cluster.startAll()
    const run = await putsUnderKills(cluster, seed, workloadMs, 6)
    console.log(`${nodes} nodes: ${run.acked.size} puts acknowledged, ${run.unacked} not; killed ${run.kills.join(', ')}`)
    assert.ok(run.kills.length >= MIN_KILL_ROUNDS, `only ${run.kills.length} kill rounds happened`)
    assert.ok(run.acked.size > 0, 'no put was acknowledged')
    await checkRecovered(cluster, run.acked)
    // A clean stop: SIGTERM closes a node and exits 0.
    const exit = await cluster.kill(cluster.ids[0]!, 'SIGTERM')
    assert.equal(exit, { code: 0, signal: null })
  } finally {
    await cluster.close()
  }
  for (const pid of cluster.spawnedPids) assert.not.ok(processAlive(pid), `node process ${pid} outlived close()`)
  assert.not.ok(existsSync(cluster.dir), `${cluster.dir} was not removed`)
}

test('3 node processes: acknowledged puts survive SIGKILLs of leaders and followers, replicas agree', async () => {
  await killTest(3, 31, 7000)
})

test('5 node processes: acknowledged puts survive SIGKILLs of up to two nodes at once, replicas agree', async () => {
  await killTest(5, 57, 8000)
})

test('node processes exit when their launcher is SIGKILLed', async () => {
  const launcherUrl = new URL('../../src/cluster/launcher.js', import.meta.url).href
  const script = `
    import { ProcessCluster } from ${JSON.stringify(launcherUrl)}
    const cluster = await ProcessCluster.create({ nodes: 1, insecure: true })
    const info = await cluster.start('n1')
    console.log(JSON.stringify({ pid: info.pid, dir: cluster.dir }))
    setInterval(() => {}, 1000)
  `
  const launcher = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let nodePid = 0
  let dir = ''
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      launcher.stdout.on('data', (d: Buffer) => {
        out += String(d)
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')))
      })
      launcher.once('exit', (code) => { reject(new Error(`launcher exited early (${String(code)})`)) })
    })
    ;({ pid: nodePid, dir } = JSON.parse(line) as { pid: number, dir: string })
    assert.ok(processAlive(nodePid))
    launcher.kill('SIGKILL')
    await eventually('the orphaned node process exits', async () => processAlive(nodePid) ? undefined : true)
  } finally {
    launcher.kill('SIGKILL')
    if (nodePid !== 0 && processAlive(nodePid)) process.kill(nodePid, 'SIGKILL')
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  }
})

test.run()

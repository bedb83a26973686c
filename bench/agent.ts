/**
 * The node agent's two latency targets (issue 16), written to bench/results/agent.json:
 *
 * 1. Local crash → restarted: a real service (a Node.js process) SIGKILLed; the time from the
 *    kill to the agent's 'instance-started' event for the new process (spawned and its
 *    instance record fsync'd), with the default restart policy (first restart after 100 ms).
 *    Each trial is a fresh instance, so every restart is a first restart. Target: ≤ 200 ms.
 * 2. Node SIGKILLed → declared dead, with the detector's defaults:
 *    - real: three HeartbeatMonitor processes on loopback, one SIGKILLed; the time to the
 *      first 'node-dead' event from a survivor;
 *    - simulated: the seeded detector simulator (3 to 7 nodes, 5% loss on one node), process
 *      crashes (connections refused) and machine crashes (silence).
 *    Target: p50 ≤ 2 s, p99 ≤ 5 s.
 *
 *   npm run build && node dist/bench/agent.js [--restarts 30] [--kills 10] [--seeds 500]
 */
import { checkFlags } from './cli.js'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { NodeAgent } from '../src/agent/index.js'
import type { HaEvent } from '../src/agent/index.js'
import { checkDetectorRun, crashScenario, runDetectorSim } from '../src/testing/agent-sim/index.js'
import { HeartbeatCluster } from '../test/agent/heartbeat-cluster.js'
import { RESULTS_DIR } from './measure.js'

const argv = process.argv.slice(2)
checkFlags('bench/agent', argv, ['--restarts', '--kills', '--seeds'])
const arg = (name: string, fallback: number): number => { const at = argv.indexOf(name); return at >= 0 ? Number(argv[at + 1]) : fallback }
const RESTARTS = arg('--restarts', 30)
const KILLS = arg('--kills', 10)
const SEEDS = arg('--seeds', 500)

function stats (xs: number[]): { count: number, p50Ms: number, p99Ms: number, maxMs: number } {
  const s = [...xs].sort((a, b) => a - b)
  const at = (p: number): number => Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 10) / 10
  return { count: s.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: Math.round(s[s.length - 1]! * 10) / 10 }
}

async function localRestart (): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-bench-agent-'))
  const waiters: Array<(e: HaEvent) => void> = []
  const agent = new NodeAgent({ node: 'bench', dir, onEvent: (e) => { for (const w of waiters.splice(0)) w(e) } })
  await agent.open()
  const out: number[] = []
  try {
    for (let i = 0; i < RESTARTS; i++) {
      const instance = `svc-${i}`
      const reply = await agent.handle({ kind: 'start', id: `start-${i}`, fence: { lease: 'bench', token: 1 }, instance, service: { command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] }, parameters: {} })
      if (!reply.ok) throw new Error(reply.message)
      const pid = reply.instances[0]!.pid!
      const restarted = new Promise<number>((resolve) => {
        const wait = (e: HaEvent): void => { if (e.type === 'instance-started' && e.instance === instance) resolve(performance.now()); else waiters.push(wait) }
        waiters.push(wait)
      })
      const killedAt = performance.now()
      process.kill(pid, 'SIGKILL')
      out.push(await restarted - killedAt)
      await agent.handle({ kind: 'stop', id: `stop-${i}`, fence: { lease: 'bench', token: 1 }, instance })
    }
  } finally {
    await agent.stopAll()
    await agent.close()
    await rm(dir, { recursive: true, force: true })
  }
  return out
}

async function realNodeKill (): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < KILLS; i++) {
    const cluster = await HeartbeatCluster.start(['n1', 'n2', 'n3'])
    try {
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const killedAt = performance.timeOrigin + performance.now()
      cluster.signal('n3', 'SIGKILL')
      const dead = await cluster.waitFor((e) => e.event.type === 'node-dead' && e.event.node === 'n3', 15_000)
      out.push(dead.mono - killedAt)
    } finally { await cluster.stop() }
  }
  return out
}

function simulated (mode: 'process' | 'machine'): { detection: ReturnType<typeof stats>, falseDeaths: number } {
  const ms: number[] = []
  let falseDeaths = 0
  for (let seed = 1; seed <= SEEDS; seed++) {
    const check = checkDetectorRun(runDetectorSim(crashScenario(seed, mode)))
    falseDeaths += check.falseDeaths.length
    for (const d of check.detection) if (d.ms !== null) ms.push(d.ms)
  }
  return { detection: stats(ms), falseDeaths }
}

const load = loadavg()[0]!
const restart = stats(await localRestart())
console.log('local crash -> restarted', restart)
const real = stats(await realNodeKill())
console.log('node SIGKILLed -> dead (real, 3 processes)', real)
const simProcess = simulated('process')
const simMachine = simulated('machine')
console.log('simulated process crash', simProcess, 'machine crash', simMachine)
const result = {
  benchmark: 'agent',
  date: new Date().toISOString(),
  node: process.version,
  loadAverage1m: { start: +load.toFixed(2), end: +loadavg()[0]!.toFixed(2) },
  localCrashToRestarted: { ...restart, targetMs: 200, policy: 'defaults (initialBackoffMs 100)' },
  nodeKilledToDead: {
    real: { ...real, nodes: 3, how: 'SIGKILL of one HeartbeatMonitor process, loopback TCP, detector defaults' },
    simulatedProcessCrash: { ...simProcess, seeds: SEEDS },
    simulatedMachineCrash: { ...simMachine, seeds: SEEDS, note: 'silence only: bounded below by deadAfterSilenceMs (5000)' },
    targetP50Ms: 2000,
    targetP99Ms: 5000
  }
}
await mkdir(RESULTS_DIR, { recursive: true })
await writeFile(join(RESULTS_DIR, 'agent.json'), JSON.stringify(result, null, 2) + '\n')

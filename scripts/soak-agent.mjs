#!/usr/bin/env node
/**
 * `npm run soak:agent`: the failure detector's stall soak (issue 16's target: 0 false deaths in
 * one hour with a 3 s stall every 5 minutes on one node).
 *
 * 1. Real: N HeartbeatMonitor processes on loopback (detector defaults); every --stall-every-s
 *    one node is stopped with SIGSTOP for --stall-ms (a real stall: its kernel still accepts
 *    packets, its event loop runs nothing), then continued. Counts 'node-dead' events (every
 *    one is false: nobody crashes) and accusations by the stalled node.
 * 2. Simulated: the same schedule in the seeded detector simulator with 5% loss on one node,
 *    --sim-seeds seeds of --minutes virtual minutes each, checked by checkDetectorRun.
 *
 * Writes bench/results/agent-soak.json; exits 1 on any false death or checker problem.
 *
 *   npm run soak:agent [-- --minutes 60 --stall-every-s 300 --stall-ms 3000 --nodes 5 --sim-seeds 20]
 *   npm run soak:agent -- --minutes 2 --stall-every-s 20     # a brief run
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const { HeartbeatCluster } = await import(join(root, 'dist/test/agent/heartbeat-cluster.js'))
const { checkDetectorRun, runDetectorSim, stallSoakScenario } = await import(join(root, 'dist/src/testing/agent-sim/index.js'))

const argv = process.argv.slice(2)
const flag = (name, fallback) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : fallback }
const minutes = flag('--minutes', 60)
const stallEveryS = flag('--stall-every-s', 300)
const stallMs = flag('--stall-ms', 3000)
const nodes = flag('--nodes', 5)
const simSeeds = flag('--sim-seeds', 20)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const ids = Array.from({ length: nodes }, (_, i) => `n${i + 1}`)
const stalled = 'n2'
const load = loadavg()[0]
console.log(`real: ${nodes} processes, ${minutes} min, ${stallMs} ms SIGSTOP of ${stalled} every ${stallEveryS} s`)
const cluster = await HeartbeatCluster.start(ids)
const started = Date.now()
let stalls = 0
try {
  // The first stall after one interval (or after 10 s in a brief run), then every interval.
  let next = started + Math.min(stallEveryS * 1000, 10_000)
  while (Date.now() - started < minutes * 60_000) {
    if (Date.now() >= next) {
      cluster.signal(stalled, 'SIGSTOP')
      await sleep(stallMs)
      cluster.signal(stalled, 'SIGCONT')
      stalls++
      next += stallEveryS * 1000
      console.log(`  stall ${stalls} at ${((Date.now() - started) / 1000).toFixed(0)} s; deaths so far: ${cluster.events.filter((e) => e.event.type === 'node-dead').length}`)
    }
    await sleep(200)
  }
  await sleep(2000)
} finally { await cluster.stop() }
const deaths = cluster.events.filter((e) => e.event.type === 'node-dead')
const suspicions = cluster.events.filter((e) => e.event.type === 'node-suspect')
const starvedAccusations = cluster.events.filter((e) => e.by === stalled && e.event.type !== 'node-alive')
console.log(`real: ${stalls} stalls, ${suspicions.length} suspicions, ${deaths.length} false deaths, ${starvedAccusations.length} accusations by the stalled node`)

const sim = { seeds: simSeeds, minutes, problems: [] }
for (let seed = 1; seed <= simSeeds; seed++) {
  for (const p of checkDetectorRun(runDetectorSim(stallSoakScenario(seed, minutes))).problems) sim.problems.push(`seed ${seed}: ${p}`)
}
console.log(`simulated: ${simSeeds} seeds x ${minutes} virtual min: ${sim.problems.length} problems`)
for (const p of sim.problems.slice(0, 10)) console.log('  ' + p)

mkdirSync(join(root, 'bench/results'), { recursive: true })
writeFileSync(join(root, 'bench/results/agent-soak.json'), JSON.stringify({
  soak: 'agent stall soak',
  date: new Date().toISOString(),
  node: process.version,
  loadAverage1m: { start: +load.toFixed(2), end: +loadavg()[0].toFixed(2) },
  real: { nodes, minutes, stallEveryS, stallMs, stalls, suspicions: suspicions.length, falseDeaths: deaths.length, starvedAccusations: starvedAccusations.length },
  simulated: { seeds: simSeeds, minutes, lossOnOneNode: 0.05, problems: sim.problems.length }
}, null, 2) + '\n')
if (deaths.length > 0 || starvedAccusations.length > 0 || sim.problems.length > 0) process.exit(1)

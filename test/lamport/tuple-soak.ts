/**
 * Soak run of the tuple-replication simulator: many more seeds than `npm test`, over
 * every topology with 3 and 4 replicas. `npm run sim:tuples:soak -- --seeds 20000
 * --first 1000000`. Prints one JSON summary line; exits 1 on the first failing seed
 * (printing it, so `runTupleSimulation({ seed, topology, replicas })` reproduces it).
 */
import { runTupleSimulation, type TupleTopology } from '../../src/testing/index.js'

function arg (name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

const seeds = arg('seeds', 5000)
const first = arg('first', 1_000_000)
const summary = { runs: 0, transactions: 0, crashes: 0, awayPastHorizon: 0, resyncsAfterHeal: 0, maxResyncsAfterHeal: {} as Record<string, number>, resurrections: 0, lost: 0 }
const started = Date.now()
for (let i = 0; i < seeds; i++) {
  const seed = first + i
  const topology = (['mesh', 'star', 'chain'] as const)[i % 3] as TupleTopology
  const replicas = i % 2 === 0 ? 3 : 4
  const r = await runTupleSimulation({ seed, topology, replicas })
  summary.runs++
  summary.transactions += r.transactions
  summary.crashes += r.crashes
  summary.awayPastHorizon += r.awayPastHorizon
  summary.resyncsAfterHeal += r.resyncsAfterHeal
  summary.resurrections += r.resurrections
  summary.lost += r.lost
  const key = `${topology}/${replicas}`
  summary.maxResyncsAfterHeal[key] = Math.max(summary.maxResyncsAfterHeal[key] ?? 0, r.resyncsAfterHeal)
  if (r.violations.length > 0) {
    console.log(JSON.stringify({ failed: { seed, topology, replicas, violations: r.violations.slice(0, 5) } }))
    process.exit(1)
  }
}
console.log(JSON.stringify({ ...summary, seconds: (Date.now() - started) / 1000 }))

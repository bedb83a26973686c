/**
 * The simulator's command line (`npm run sim -- ...`, `npm run sim:soak -- ...`):
 *
 *   --seeds N [--from S]        run seeds S..S+N-1 (default 100 seeds from 1)
 *   --seed S [--verbose]        replay one seed, with the readable event log
 *   --seed S --faults JSON      replay a seed with a given fault schedule (fast-check failures print this)
 *   --soak [--minutes M]        run fresh seeds for M minutes (default 10)
 *   --mutant NAME [--max-seeds N]   search seeds until the mutant is caught
 *   --mutants [--max-seeds N]   the whole mutation table
 *   --figure16 [--trials N]     election timing vs the Raft paper's Figure 16
 *   --nodes N                   fix the cluster size (default: 3 or 5 per seed)
 *
 * The seed-range and soak modes end with three lines,
 * `sim: coverage: snapshots taken in X seeds, installed in Y, membership changes in Z seeds, transfers in W, lease reads in L`
 * `sim: settle: forwarding in F seeds, oversized proposals refused in O seeds`,
 * `sim: N seeds, V violations, L liveness failures, trace <hash>`, and exit non-zero on any
 * failure, printing each failing seed with a one-line replay command.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runSimulation, combineHashes, describeFault, MUTANTS, searchMutant, describeFinding, runFigure16, figure16Markdown } from '../../src/testing/index.js'
import type { FaultEvent, MutantName, SimulationResult } from '../../src/testing/index.js'

const args = process.argv.slice(2)
const flag = (name: string): boolean => args.includes(`--${name}`)
function value (name: string): string | undefined {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
function intValue (name: string, fallback: number): number {
  const v = value(name)
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer (got ${v})`)
    process.exit(2)
  }
  return n
}

const nodesArg = value('nodes') === undefined ? {} : { nodes: intValue('nodes', 3) }
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

function replayCommand (seed: number): string {
  return `npm run sim -- --seed ${seed} --verbose${value('nodes') !== undefined ? ` --nodes ${value('nodes')}` : ''}`
}

function reportFailure (r: SimulationResult): void {
  const found = describeFinding(r)
  console.log(`FAIL seed ${r.seed}: ${found?.finding ?? '?'}: ${found?.detail ?? ''}`)
  console.log(`  replay: ${replayCommand(r.seed)}`)
}

async function runSeeds (seeds: Iterable<number>): Promise<number> {
  let count = 0
  let violations = 0
  let liveness = 0
  const hashes: string[] = []
  const covered = { taken: 0, installed: 0, membership: 0, transfers: 0, lease: 0 }
  const settle = { forwarding: 0, oversized: 0 }
  for (const seed of seeds) {
    const r = await runSimulation({ seed, ...nodesArg })
    count++
    const c = r.coverage
    if (c.snapshotsTaken > 0) covered.taken++
    if (c.snapshotsInstalled > 0) covered.installed++
    if (c.membershipChanges > 0) covered.membership++
    if (c.transfers > 0) covered.transfers++
    if (c.readMode === 'lease') covered.lease++
    if (c.forwardProposals) settle.forwarding++
    if (c.oversizedRefused > 0) settle.oversized++
    hashes.push(r.traceHash)
    violations += r.violations.length + (r.linearizability === 'ok' || r.linearizability === 'skipped' ? 0 : 1)
    liveness += r.liveness.length
    if (!r.ok) reportFailure(r)
  }
  console.log(`sim: coverage: snapshots taken in ${covered.taken} seeds, installed in ${covered.installed}, membership changes in ${covered.membership} seeds, transfers in ${covered.transfers}, lease reads in ${covered.lease}`)
  console.log(`sim: settle: forwarding in ${settle.forwarding} seeds, oversized proposals refused in ${settle.oversized} seeds`)
  console.log(`sim: ${count} seeds, ${violations} violations, ${liveness} liveness failures, trace ${combineHashes(hashes)}`)
  return violations + liveness
}

async function main (): Promise<number> {
  if (flag('figure16')) {
    const trials = intValue('trials', 1000)
    const result = await runFigure16({ trials, seed: intValue('seed', 1), onLine: (l) => { console.log(`${l.label} preVote=${String(l.preVote)}: median ${l.median} mean ${l.mean.toFixed(1)} p99 ${l.p99} max ${l.max} ms`) } })
    const out = join(root, 'bench', 'results', 'figure16.json')
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n')
    console.log(figure16Markdown(result))
    console.log(`wrote ${out}`)
    return 0
  }
  if (flag('mutant') || flag('mutants')) {
    const names: MutantName[] = flag('mutants') ? [...MUTANTS] : [value('mutant') as MutantName]
    if (names.some((n) => !(MUTANTS as readonly string[]).includes(n))) {
      console.error(`--mutant must be one of ${MUTANTS.join(', ')}`)
      return 2
    }
    let survivors = 0
    console.log('| mutant | caught by seed | seeds run | caught by |\n|---|---|---|---|')
    for (const name of names) {
      const r = await searchMutant(name, { maxSeeds: intValue('max-seeds', 1000), firstSeed: intValue('from', 1), simulation: nodesArg })
      if (r.caughtBy === null) survivors++
      console.log(`| ${name} | ${r.caughtBy ?? 'not caught'} | ${r.seeds} | ${r.finding ?? '-'}${r.detail === null ? '' : `: ${r.detail}`} |`)
    }
    return survivors
  }
  if (value('seed') !== undefined) {
    const seed = intValue('seed', 1)
    const verbose = flag('verbose')
    const faults = value('faults') === undefined ? {} : { faults: JSON.parse(value('faults')!) as FaultEvent[] }
    const r = await runSimulation({ seed, ...nodesArg, ...faults, ...(verbose ? { log: (line: string) => { console.log(line) } } : {}) })
    if (!verbose) for (const f of r.faults) console.log(`fault @${f.at}ms ${describeFault(f, r.nodes)}`)
    console.log(`seed ${seed}: ${r.ok ? 'ok' : 'FAILED'}, ${r.events} events, ${r.virtualMs.toFixed(0)} virtual ms, operations ok ${r.operations.ok} failed ${r.operations.failed} unknown ${r.operations.unknown}, linearizability ${r.linearizability}`)
    for (const v of r.violations) console.log(`violation ${v.checker} at ${v.at.toFixed(3)}ms on ${v.node ?? '-'}: ${v.message}`)
    for (const l of r.liveness) console.log(`liveness: ${l}`)
    if (r.linearizabilityExplanation !== undefined) console.log(r.linearizabilityExplanation)
    console.log(`sim: 1 seeds, ${r.violations.length + (r.linearizability === 'illegal' || r.linearizability === 'timeout' ? 1 : 0)} violations, ${r.liveness.length} liveness failures, trace ${combineHashes([r.traceHash])}`)
    return r.ok ? 0 : 1
  }
  if (flag('soak')) {
    const minutes = Number(value('minutes') ?? 10)
    const end = Date.now() + minutes * 60_000
    // Fresh seeds each soak (printed, so any failure replays).
    const first = value('from') !== undefined ? intValue('from', 1) : (Date.now() % 1_000_000_000) + 1_000_000
    console.log(`soak: ${minutes} minutes from seed ${first}`)
    return await runSeeds((function * () { for (let s = first; Date.now() < end; s++) yield s })())
  }
  const n = intValue('seeds', 100)
  const first = intValue('from', 1)
  return await runSeeds((function * () { for (let s = first; s < first + n; s++) yield s })())
}

process.exitCode = (await main()) > 0 ? 1 : 0

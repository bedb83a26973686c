#!/usr/bin/env node
/**
 * The simulator's command line (the package's `quorate-sim` bin; `npm run sim -- ...` here).
 * One mode per run; see SIM_CLI.usage. The seed-range and soak modes end with three lines,
 * `sim: coverage: snapshots taken in X seeds, installed in Y, membership changes in Z seeds, transfers in W, lease reads in L`
 * `sim: settle: forwarding in F seeds, oversized proposals refused in O seeds`,
 * `sim: N seeds, V violations, L liveness failures, trace <hash>`, and exit 1 on any
 * failure, printing each failing seed with a one-line replay command. A usage error (an
 * unknown option such as `--sedes`, a malformed value such as `--seeds=abc`, two modes at
 * once) exits 2 with the usage text, never a default run.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { runSimulation } from './simulator.js'
import { routerSimWorkload } from './router-workload.js'
import { levelSimWorkload } from './level-workload.js'
import type { SimWorkload } from './workload.js'
import { runCoordinatorSimulation } from '../coordinator-sim/simulator.js'
import type { CoordinatorSimResult } from '../coordinator-sim/simulator.js'
import type { SimulationOptions, SimulationResult } from './simulator.js'
import { describeFault } from './faults.js'
import type { FaultEvent } from './faults.js'
import { MUTANTS, searchMutant, describeFinding } from './mutants.js'
import type { MutantName } from './mutants.js'
import { DEFAULT_FIGURE16_TRIALS, runFigure16, figure16Markdown, figure16TrialCount } from './figure16.js'
import { RunProgress } from './progress.js'
import { combineHashes } from './trace.js'
import type { CliSpec, CliValues } from '../../util/cli.js'
import { flagOption, intOption, isMainModule, numberOption, runCommandLine, stringOption, usageError } from '../../util/cli.js'

/** Where --figure16 writes its results unless --out says otherwise (relative to the working directory). */
export const DEFAULT_FIGURE16_OUT = 'bench/results/figure16.json'
export const DEFAULT_SIM_SEEDS = 100
export const DEFAULT_SOAK_MINUTES = 10
export const DEFAULT_MUTANT_SEEDS = 1000

export const SIM_CLI: CliSpec = {
  name: 'quorate-sim',
  usage: `Usage: quorate-sim [mode] [options]   (npm run sim -- ... in the quorate repository)

Modes (one at a time; the default is --seeds ${DEFAULT_SIM_SEEDS}):
  --seeds N [--from S]           run seeds S..S+N-1 (from 1)
  --seed S [--verbose] [--faults JSON]
                                 replay one seed, with the readable event log; --faults replays
                                 a given fault schedule (fast-check failures print this)
  --soak [--minutes M] [--from S]
                                 run fresh seeds for M minutes (default ${DEFAULT_SOAK_MINUTES})
  --mutant NAME [--max-seeds N] [--from S]
                                 search seeds until the mutant is caught (${MUTANTS.join(', ')})
  --mutants [--max-seeds N]      the whole mutation table (default ${DEFAULT_MUTANT_SEEDS} seeds each)
  --figure16 [--trials N] [--seed S] [--out FILE]
                                 election timing vs the Raft paper's Figure 16, written to FILE
                                 (default ${DEFAULT_FIGURE16_OUT}, relative to the working directory)
Options:
  --nodes N                      fix the cluster size (default: 3 or 5 per seed)
  --workload kv|router|level|coordinator  what the cluster replicates (with --seeds, --seed, --soak):
                                 the key-value machine (default), every shipped machine
                                 (kv, lease, session, tuple) on one StateMachineRouter, or
                                 quorate/level's machine (batches, ranges), or the recovery
                                 coordinator's station (leases, supervisors, agents; see
                                 docs/coordinator.md)
  --help, -h                     print this text
  --version                      print the version`,
  options: {
    seeds: { type: 'string' },
    from: { type: 'string' },
    seed: { type: 'string' },
    verbose: { type: 'boolean' },
    faults: { type: 'string' },
    soak: { type: 'boolean' },
    minutes: { type: 'string' },
    mutant: { type: 'string' },
    mutants: { type: 'boolean' },
    'max-seeds': { type: 'string' },
    figure16: { type: 'boolean' },
    trials: { type: 'string' },
    out: { type: 'string' },
    nodes: { type: 'string' },
    workload: { type: 'string' }
  }
}

/** The workloads a run can replicate: the key-value machine alone, every shipped machine on one router, or quorate/level's machine. */
export const SIM_WORKLOADS = ['kv', 'router', 'level', 'coordinator'] as const
export type SimWorkloadName = typeof SIM_WORKLOADS[number]

/** What shapes each run of a seed: the cluster size (drawn when undefined) and the workload. */
export interface RunShape { readonly nodes: number | undefined, readonly workload: SimWorkloadName }

export type SimCommand =
  | { readonly mode: 'seeds', readonly first: number, readonly count: number, readonly run: RunShape }
  | { readonly mode: 'replay', readonly seed: number, readonly verbose: boolean, readonly faults: FaultEvent[] | undefined, readonly run: RunShape }
  | { readonly mode: 'soak', readonly minutes: number, readonly first: number | undefined, readonly run: RunShape }
  | { readonly mode: 'mutants', readonly names: readonly MutantName[], readonly maxSeeds: number, readonly first: number, readonly nodes: number | undefined }
  | { readonly mode: 'figure16', readonly trials: number, readonly seed: number, readonly out: string }

/** The option that selects each mode, for messages. */
const MODE_FLAG: Readonly<Record<SimCommand['mode'], string>> = { seeds: '--seeds', replay: '--seed', soak: '--soak', mutants: '--mutant/--mutants', figure16: '--figure16' }

/** Which options belong to which mode: an option of another mode is a usage error. */
const MODE_OPTIONS: Readonly<Record<SimCommand['mode'], readonly string[]>> = {
  seeds: ['seeds', 'from', 'nodes', 'workload'],
  replay: ['seed', 'verbose', 'faults', 'nodes', 'workload'],
  soak: ['soak', 'minutes', 'from', 'nodes', 'workload'],
  mutants: ['mutant', 'mutants', 'max-seeds', 'from', 'nodes'],
  figure16: ['figure16', 'trials', 'seed', 'out']
}

function modeOf (values: CliValues): SimCommand['mode'] {
  const modes: Array<SimCommand['mode']> = []
  if (flagOption(values, 'figure16')) modes.push('figure16')
  if (values.mutant !== undefined || flagOption(values, 'mutants')) modes.push('mutants')
  if (flagOption(values, 'soak')) modes.push('soak')
  if (values.seeds !== undefined) modes.push('seeds')
  if (values.seed !== undefined && !modes.includes('figure16')) modes.push('replay')
  if (modes.length > 1) throw usageError(SIM_CLI, `choose one mode, not ${modes.map((m) => MODE_FLAG[m]).join(' and ')}`)
  const mode = modes[0] ?? 'seeds'
  for (const name of Object.keys(values)) {
    if (values[name] !== undefined && !MODE_OPTIONS[mode].includes(name)) throw usageError(SIM_CLI, `--${name} does not apply to ${MODE_FLAG[mode]}`)
  }
  return mode
}

function parseFaults (text: string | undefined): FaultEvent[] | undefined {
  if (text === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err
    throw usageError(SIM_CLI, `--faults must be a JSON array of fault events (${err.message})`)
  }
  if (!Array.isArray(parsed)) throw usageError(SIM_CLI, '--faults must be a JSON array of fault events')
  // The simulator validates each event; the CLI only checks the shape it can see.
  return parsed as FaultEvent[]
}

/** The command `values` ask for; throws OPTIONS_INVALID (usage) on a bad value or combination. */
export function interpretSimArgs (values: CliValues): SimCommand {
  const s = SIM_CLI
  const nodes = values.nodes === undefined ? undefined : intOption(s, values, 'nodes', 3, 1)
  const mode = modeOf(values)
  const workload = stringOption(values, 'workload') ?? 'kv'
  if (!(SIM_WORKLOADS as readonly string[]).includes(workload)) throw usageError(s, `--workload must be one of ${SIM_WORKLOADS.join(', ')} (got ${JSON.stringify(workload)})`)
  const run: RunShape = { nodes, workload: workload as SimWorkloadName }
  switch (mode) {
    case 'figure16':
      return { mode, trials: intOption(s, values, 'trials', DEFAULT_FIGURE16_TRIALS, 1), seed: intOption(s, values, 'seed', 1), out: stringOption(values, 'out') ?? DEFAULT_FIGURE16_OUT }
    case 'mutants': {
      const name = stringOption(values, 'mutant')
      if (name !== undefined && !(MUTANTS as readonly string[]).includes(name)) throw usageError(s, `--mutant must be one of ${MUTANTS.join(', ')} (got ${JSON.stringify(name)})`)
      return { mode, names: name === undefined ? [...MUTANTS] : [name as MutantName], maxSeeds: intOption(s, values, 'max-seeds', DEFAULT_MUTANT_SEEDS, 1), first: intOption(s, values, 'from', 1), nodes }
    }
    case 'replay':
      return { mode, seed: intOption(s, values, 'seed', 1), verbose: flagOption(values, 'verbose'), faults: parseFaults(stringOption(values, 'faults')), run }
    case 'soak':
      return { mode, minutes: numberOption(s, values, 'minutes', DEFAULT_SOAK_MINUTES), first: values.from === undefined ? undefined : intOption(s, values, 'from', 1), run }
    case 'seeds':
      return { mode, first: intOption(s, values, 'from', 1), count: intOption(s, values, 'seeds', DEFAULT_SIM_SEEDS, 1), run }
  }
}

function nodesOption (nodes: number | undefined): { nodes?: number } {
  return nodes === undefined ? {} : { nodes }
}

/** The simulation options of one run of `run`'s shape. */
function runOptions (run: RunShape): Pick<SimulationOptions<unknown, unknown>, 'nodes' | 'workload'> {
  // The CLI only reads results' common fields, so the workload's own input and output types do not matter here.
  const workload = run.workload === 'router' ? routerSimWorkload() : run.workload === 'level' ? levelSimWorkload() : undefined
  return { ...nodesOption(run.nodes), ...(workload === undefined ? {} : { workload: workload as unknown as SimWorkload<unknown, unknown> }) }
}

function replayCommand (seed: number, run: RunShape): string {
  return `npm run sim -- --seed ${seed} --verbose${run.nodes !== undefined ? ` --nodes ${run.nodes}` : ''}${run.workload !== 'kv' ? ` --workload ${run.workload}` : ''}`
}

function reportFailure (r: SimulationResult, run: RunShape): void {
  const found = describeFinding(r)
  console.log(`FAIL seed ${r.seed}: ${found?.finding ?? '?'}: ${found?.detail ?? ''}`)
  console.log(`  replay: ${replayCommand(r.seed, run)}`)
}

/** Progress on stderr (progress.ts: in place on a terminal, ten plain lines otherwise). */
function stderrProgress (unit: string, total: number): RunProgress {
  return new RunProgress({ unit, total, tty: process.stderr.isTTY === true, write: (t) => { process.stderr.write(t) } })
}

/**
 * Runs `seeds`; resolves to the number of violations plus liveness failures. With `total`
 * (the count of `seeds`), reports progress and the time left on stderr.
 */
async function runSeeds (seeds: Iterable<number>, run: RunShape, total?: number): Promise<number> {
  const progress = total === undefined ? null : stderrProgress('seeds', total)
  let count = 0
  let violations = 0
  let liveness = 0
  const hashes: string[] = []
  const covered = { taken: 0, installed: 0, membership: 0, transfers: 0, lease: 0 }
  const settle = { forwarding: 0, oversized: 0 }
  const batched = { seeds: 0, calls: 0 }
  for (const seed of seeds) {
    const r = await runSimulation({ seed, ...runOptions(run) })
    count++
    const c = r.coverage
    if (c.snapshotsTaken > 0) covered.taken++
    if (c.snapshotsInstalled > 0) covered.installed++
    if (c.membershipChanges > 0) covered.membership++
    if (c.transfers > 0) covered.transfers++
    if (c.readMode === 'lease') covered.lease++
    if (c.forwardProposals) settle.forwarding++
    if (c.oversizedRefused > 0) settle.oversized++
    if (c.applyBatches > 0) { batched.seeds++; batched.calls += c.applyBatches }
    hashes.push(r.traceHash)
    violations += r.violations.length + (r.linearizability === 'ok' || r.linearizability === 'skipped' ? 0 : 1)
    liveness += r.liveness.length
    if (!r.ok) reportFailure(r, run)
    progress?.update(count)
  }
  progress?.finish()
  console.log(`sim: coverage: snapshots taken in ${covered.taken} seeds, installed in ${covered.installed}, membership changes in ${covered.membership} seeds, transfers in ${covered.transfers}, lease reads in ${covered.lease}`)
  console.log(`sim: settle: forwarding in ${settle.forwarding} seeds, oversized proposals refused in ${settle.oversized} seeds`)
  console.log(`sim: apply: batched in ${batched.seeds} seeds (${batched.calls} applyBatch calls)`)
  console.log(`sim: ${count} seeds, ${violations} violations, ${liveness} liveness failures, trace ${combineHashes(hashes)}`)
  return violations + liveness
}

function * range (first: number, count: number): Generator<number> {
  for (let s = first; s < first + count; s++) yield s
}

async function runFigure16Command (c: SimCommand & { mode: 'figure16' }): Promise<number> {
  const total = figure16TrialCount({ trials: c.trials })
  // Said before the first trial: the run takes minutes at the default 1000 trials per line.
  process.stderr.write(`sim: figure16: ${total} election trials (${c.trials} per line, fewer on lines with long timeouts); the time left is estimated as they run\n`)
  const progress = stderrProgress('trials', total)
  const result = await runFigure16({
    trials: c.trials,
    seed: c.seed,
    onTrial: (done) => { progress.update(done) },
    onLine: (l) => { progress.finish(); console.log(`${l.label} preVote=${String(l.preVote)}: median ${l.median} mean ${l.mean.toFixed(1)} p99 ${l.p99} max ${l.max} ms`) }
  })
  progress.finish()
  const out = resolve(c.out)
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n')
  console.log(figure16Markdown(result))
  console.log(`wrote ${out}`)
  return 0
}

async function runMutants (c: SimCommand & { mode: 'mutants' }): Promise<number> {
  let survivors = 0
  console.log('| mutant | caught by seed | seeds run | caught by |\n|---|---|---|---|')
  for (const name of c.names) {
    const r = await searchMutant(name, { maxSeeds: c.maxSeeds, firstSeed: c.first, simulation: nodesOption(c.nodes) })
    if (r.caughtBy === null) survivors++
    console.log(`| ${name} | ${r.caughtBy ?? 'not caught'} | ${r.seeds} | ${r.finding ?? '-'}${r.detail === null ? '' : `: ${r.detail}`} |`)
  }
  return survivors
}

async function runReplay (c: SimCommand & { mode: 'replay' }): Promise<number> {
  const r = await runSimulation({ seed: c.seed, ...runOptions(c.run), ...(c.faults === undefined ? {} : { faults: c.faults }), ...(c.verbose ? { log: (line: string) => { console.log(line) } } : {}) })
  if (!c.verbose) for (const f of r.faults) console.log(`fault @${f.at}ms ${describeFault(f, r.nodes)}`)
  console.log(`seed ${c.seed}: ${r.ok ? 'ok' : 'FAILED'}, ${r.events} events, ${r.virtualMs.toFixed(0)} virtual ms, operations ok ${r.operations.ok} failed ${r.operations.failed} unknown ${r.operations.unknown}, linearizability ${r.linearizability}`)
  for (const v of r.violations) console.log(`violation ${v.checker} at ${v.at.toFixed(3)}ms on ${v.node ?? '-'}: ${v.message}`)
  for (const l of r.liveness) console.log(`liveness: ${l}`)
  if (r.linearizabilityExplanation !== undefined) console.log(r.linearizabilityExplanation)
  console.log(`sim: 1 seeds, ${r.violations.length + (r.linearizability === 'illegal' || r.linearizability === 'timeout' ? 1 : 0)} violations, ${r.liveness.length} liveness failures, trace ${combineHashes([r.traceHash])}`)
  return r.ok ? 0 : 1
}

async function runSoak (c: SimCommand & { mode: 'soak' }): Promise<number> {
  // A soak is bounded by wall-clock minutes by design; fresh seeds each time, printed so any failure replays.
  const end = Date.now() + c.minutes * 60_000
  const first = c.first ?? (Date.now() % 1_000_000_000) + 1_000_000
  console.log(`soak: ${c.minutes} minutes from seed ${first}`)
  return await runSeeds((function * () { for (let s = first; Date.now() < end; s++) yield s })(), c.run)
}

// ---------------------------------------------------------------- --workload coordinator
// The coordinator simulation (src/testing/coordinator-sim) is a system of its own (leases,
// supervisors, agents), not a SimWorkload: seeds, replay and soak run it directly.

function coordinatorReport (r: CoordinatorSimResult, verbose: boolean): void {
  if (!r.ok || verbose) {
    console.log(`${r.ok ? 'ok' : 'FAIL'} seed ${r.seed}: ${[...r.violations, ...r.liveness].join('; ') || 'clean'}`)
    console.log(`  faults: ${JSON.stringify(r.faults)}`)
    console.log(`  replay: npm run sim -- --workload coordinator --seed ${r.seed} --verbose`)
  }
}

async function runCoordinatorCommand (c: SimCommand & { mode: 'replay' | 'soak' | 'seeds' }): Promise<number> {
  if (c.mode === 'replay') {
    const r = await runCoordinatorSimulation({ seed: c.seed, ...(c.run.nodes === undefined ? {} : { stationNodes: c.run.nodes }), ...(c.verbose ? { log: (line: string) => { console.log(line) } } : {}) })
    coordinatorReport(r, true)
    return r.ok ? 0 : 1
  }
  const end = c.mode === 'soak' ? Date.now() + c.minutes * 60_000 : Infinity
  const first = c.mode === 'soak' ? (c.first ?? (Date.now() % 1_000_000_000) + 1_000_000) : c.first
  let failures = 0
  let count = 0
  for (let seed = first; c.mode === 'soak' ? Date.now() < end : seed < first + c.count; seed++) {
    const r = await runCoordinatorSimulation({ seed, ...(c.run.nodes === undefined ? {} : { stationNodes: c.run.nodes }) })
    count++
    if (!r.ok) failures++
    coordinatorReport(r, false)
  }
  console.log(`sim: coordinator: ${count} seeds, ${failures} failing`)
  return failures
}

/** Runs one command; resolves to the process exit code (0 clean, 1 any failure). */
export async function runSimCommand (c: SimCommand): Promise<number> {
  if ((c.mode === 'replay' || c.mode === 'soak' || c.mode === 'seeds') && c.run.workload === 'coordinator') return (await runCoordinatorCommand(c)) > 0 ? 1 : 0
  let failures: number
  switch (c.mode) {
    case 'figure16': failures = await runFigure16Command(c); break
    case 'mutants': failures = await runMutants(c); break
    case 'replay': failures = await runReplay(c); break
    case 'soak': failures = await runSoak(c); break
    case 'seeds': failures = await runSeeds(range(c.first, c.count), c.run, c.count); break
  }
  return failures > 0 ? 1 : 0
}

if (isMainModule(import.meta.url)) await runCommandLine(SIM_CLI, process.argv.slice(2), interpretSimArgs, runSimCommand)

/**
 * The mutation check: each deliberately broken variant of the node (switched on through
 * node/test-hooks.ts, never through a public option)
 * must be caught by the simulator within a bounded number of seeds. A mutant that survives
 * means the faults or the checkers are too weak to notice that bug.
 */
import type { NodeMutations } from '../../node/test-hooks.js'
import { runSimulation } from './simulator.js'
import type { SimulationOptions, SimulationResult } from './simulator.js'

export const MUTANTS = ['commitOldTerm', 'skipVotePersist', 'ackBeforeDurable', 'skipUpToDateCheck', 'staleReads', 'truncateSuffixOnAppend', 'forwardedProposalLeak', 'snapshotResumeAcrossLeaders'] as const
export type MutantName = typeof MUTANTS[number]

export const DEFAULT_MUTANT_MAX_SEEDS = 1000

export interface MutantSearchResult {
  readonly mutant: MutantName
  /** The first seed whose run failed, or null if none did within the budget. */
  readonly caughtBy: number | null
  /** Seeds run (including the one that caught it). */
  readonly seeds: number
  /** What caught it: a checker name, 'liveness' or 'linearizability'. */
  readonly finding: string | null
  readonly detail: string | null
}

/** What caught a failed run, in one word and one line. */
export function describeFinding (r: SimulationResult): { finding: string, detail: string } | null {
  if (r.violations.length > 0) return { finding: r.violations[0]!.checker, detail: r.violations[0]!.message }
  if (r.linearizability !== 'ok' && r.linearizability !== 'skipped') return { finding: 'linearizability', detail: (r.linearizabilityExplanation ?? r.linearizability).split('\n')[0]! }
  if (r.liveness.length > 0) return { finding: 'liveness', detail: r.liveness[0]! }
  return null
}

/** Runs seeds firstSeed, firstSeed + 1, ... with `mutant` on until one fails or `maxSeeds` ran. */
export async function searchMutant (mutant: MutantName, options: { maxSeeds?: number, firstSeed?: number, simulation?: Omit<SimulationOptions, 'seed' | 'mutations'> } = {}): Promise<MutantSearchResult> {
  const max = options.maxSeeds ?? DEFAULT_MUTANT_MAX_SEEDS
  const first = options.firstSeed ?? 1
  const mutations: NodeMutations = { [mutant]: true }
  for (let i = 0; i < max; i++) {
    const r = await runSimulation({ ...options.simulation, seed: first + i, mutations })
    const found = describeFinding(r)
    if (found !== null) return { mutant, caughtBy: first + i, seeds: i + 1, ...found }
  }
  return { mutant, caughtBy: null, seeds: max, finding: null, detail: null }
}

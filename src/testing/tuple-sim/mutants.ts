/**
 * The tuple simulator's mutation check: each broken store variant (TupleMutations) must
 * make some seed fail within a bounded budget, or the simulator is too weak to notice it.
 */
import type { TupleMutations } from '../../lamport/test-hooks.js'
import { runTupleSimulation, type TupleSimulationOptions, type TupleTopology } from './simulator.js'

export const TUPLE_MUTANTS = ['skipClockMerge', 'expireEarly', 'dropLogOnSnapshot'] as const
export type TupleMutantName = typeof TUPLE_MUTANTS[number]

export interface TupleMutantResult {
  readonly mutant: TupleMutantName
  /** The first seed whose run failed, or null if none did within the budget. */
  readonly caughtBy: number | null
  readonly seeds: number
  /** The first violation of the failing run. */
  readonly finding: string | null
}

const TOPOLOGIES: readonly TupleTopology[] = ['mesh', 'star', 'chain']

/** Runs seeds from `firstSeed` (cycling through the topologies) until one fails. */
export async function searchTupleMutant (
  mutant: TupleMutantName,
  options: { maxSeeds?: number, firstSeed?: number, simulation?: Omit<TupleSimulationOptions, 'seed' | 'mutations' | 'topology'> } = {}
): Promise<TupleMutantResult> {
  const max = options.maxSeeds ?? 300
  const first = options.firstSeed ?? 1
  const mutations: TupleMutations = { [mutant]: true }
  for (let i = 0; i < max; i++) {
    const r = await runTupleSimulation({ ...options.simulation, seed: first + i, topology: TOPOLOGIES[i % 3] as TupleTopology, mutations })
    if (r.violations.length > 0) return { mutant, caughtBy: first + i, seeds: i + 1, finding: r.violations[0] as string }
  }
  return { mutant, caughtBy: null, seeds: max, finding: null }
}

/**
 * The coordinator simulation's mutant table: each deliberately broken variant with the
 * scripted fault that exposes it, and the checker expected to catch it. The same scenario
 * must pass without the mutation (so it is the mutation that is caught, not the scenario).
 */
import { runCoordinatorSimulation } from './simulator.js'
import type { CoordinatorFault, CoordinatorSimMutations, CoordinatorSimResult } from './simulator.js'

export interface CoordinatorMutant {
  readonly name: keyof CoordinatorSimMutations
  readonly description: string
  readonly faults: readonly CoordinatorFault[]
  /** A fragment of the violation or liveness failure that must report it. */
  readonly caughtBy: RegExp
  /** Coordinators' batch bound for the scenario (else drawn per seed). */
  readonly batchMaxEvents?: number
}

export const COORDINATOR_MUTANTS: readonly CoordinatorMutant[] = [
  {
    name: 'skipStopWait',
    description: 'the supervisor restarts a hung coordinator without waiting for it to stop or killing it',
    faults: [{ at: 1000, kind: 'hang-coordinator', duration: 800 }],
    caughtBy: /two coordinators acting at once/
  },
  {
    name: 'noGraphFence',
    description: 'the graph machine applies writes without checking their fencing token',
    faults: [{ at: 1000, kind: 'freeze-holder', duration: 2500, during: 'ack' }],
    caughtBy: /applied a write of token \d+ after one of token \d+/
  },
  {
    name: 'trimBeforeChange',
    description: 'the coordinator trims an event in its own entry before the change that handles it commits',
    faults: [{ at: 1000, kind: 'crash-between-trim-and-change' }],
    // The trim-only entry is itself reported; the lost change shows as an instance not running.
    caughtBy: /is placed on \S+ but runs on \[\]|trimmed event \S+ in an entry that does not record its decision/
  },
  {
    name: 'batchDropsLast',
    description: 'a batch trims its last event but leaves that event\'s decision (change, record, commands) out of the entry',
    // Exits of four instances pile up while the host is down, so its successor decides them as a batch.
    faults: [{ at: 1000, kind: 'crash-holder', downFor: 3000 }, ...[0, 1, 2, 3].map((instance) => ({ at: 1100 + 20 * instance, kind: 'crash-loop' as const, instance, times: 1, every: 100 }))],
    caughtBy: /trimmed event \S+ in an entry that does not record its decision/,
    batchMaxEvents: 8
  }
]

export interface MutantSearch {
  readonly mutant: CoordinatorMutant['name']
  /** The first seed whose run reported the mutant as expected, or null. */
  readonly caughtBy: number | null
  readonly finding: string | null
  /** Results of the unmutated runs of the same seeds and scenario (all must be ok). */
  readonly controls: readonly CoordinatorSimResult[]
}

/** Runs the mutant's scenario on seeds 1..maxSeeds until it is caught, each seed also without the mutation. */
export async function searchCoordinatorMutant (name: CoordinatorMutant['name'], maxSeeds = 3): Promise<MutantSearch> {
  const m = COORDINATOR_MUTANTS.find((x) => x.name === name)
  if (m === undefined) throw new Error(`unknown coordinator mutant ${name}`)
  const controls: CoordinatorSimResult[] = []
  for (let seed = 1; seed <= maxSeeds; seed++) {
    const batch = m.batchMaxEvents === undefined ? {} : { batchMaxEvents: m.batchMaxEvents }
    controls.push(await runCoordinatorSimulation({ seed, faults: m.faults, ...batch }))
    const r = await runCoordinatorSimulation({ seed, faults: m.faults, mutations: { [name]: true }, ...batch })
    const finding = [...r.violations, ...r.liveness].find((line) => m.caughtBy.test(line))
    if (finding !== undefined) return { mutant: name, caughtBy: seed, finding, controls }
  }
  return { mutant: name, caughtBy: null, finding: null, controls }
}

/**
 * What bench/ha-b2.ts measures, as data: the scenarios of one run in the order they run (each
 * quorate scenario next to the etcd one it is compared with, so a pair is measured minutes
 * apart), which quorate scenario is compared with which etcd one, and the targets of issue 14
 * (events, graph) and issue 18 (level) with their bounds.
 *
 * The 'engine' rows send the level workload's commands to the counting machine: the same
 * client, bytes and replication, without the level apply, so the difference between an engine
 * row and the level row beside it is what applying to classic-level costs.
 */
import type { HaWorkloadName } from './ha-workloads.js'
import type { BenchMachineKind } from './machines.js'
import type { TargetSpec } from './ha-stats.js'

export interface PlannedScenario {
  /** Stable key in the result JSON, e.g. 'events-c256'. */
  readonly key: string
  readonly label: string
  readonly system: 'quorate' | 'etcd'
  readonly concurrency: number
  /** The node processes' machine and the client's workload (quorate scenarios only). */
  readonly machine?: BenchMachineKind
  readonly workload?: HaWorkloadName
}

const q = (key: string, label: string, machine: BenchMachineKind, workload: HaWorkloadName, concurrency: number): PlannedScenario => ({ key, label, system: 'quorate', machine, workload, concurrency })
const etcd = (concurrency: number): PlannedScenario => ({ key: `etcd-c${concurrency}`, label: 'etcd Put (fresh key, same value size)', system: 'etcd', concurrency })

const ENGINE = 'engine floor: level put commands to the counting machine'

export const HA_SCENARIOS: readonly PlannedScenario[] = [
  etcd(1),
  q('engine-c1', ENGINE, 'counter', 'level-put', 1),
  q('level-c1', 'level put (fresh key)', 'level', 'level-put', 1),
  q('events-c1', 'events emit, 1 sequential producer', 'graph', 'emit', 1),
  q('graph-c1', 'graph 10-resource transaction', 'graph', 'graph-tx', 1),
  q('level-batch-c1', 'level batch of 1,000 puts (one entry)', 'level', 'level-batch', 1),
  etcd(16),
  q('engine-c16', ENGINE, 'counter', 'level-put', 16),
  q('level-c16', 'level put (fresh key)', 'level', 'level-put', 16),
  q('graph-c16', 'graph 10-resource transaction', 'graph', 'graph-tx', 16),
  etcd(256),
  q('engine-c256', ENGINE, 'counter', 'level-put', 256),
  q('level-c256', 'level put (fresh key)', 'level', 'level-put', 256),
  q('events-c256', 'events emit, 256 concurrent producers', 'graph', 'emit', 256)
]

/** quorate scenario → the etcd scenario it is compared with, run pair by run pair. */
export const ETCD_PAIRS: Readonly<Record<string, string>> = {
  'events-c1': 'etcd-c1',
  'events-c256': 'etcd-c256',
  'level-c1': 'etcd-c1',
  'level-c16': 'etcd-c16',
  'level-c256': 'etcd-c256'
}

const I14 = 'issue 14'
const I18 = 'issue 18'

export const HA_TARGETS: readonly TargetSpec[] = [
  { text: 'events acknowledged, 1 sequential producer ≥ 2,000/s', source: I14, scenario: 'events-c1', kind: 'scenario', metric: 'commitsPerSec', op: '>=', bound: 2000 },
  { text: 'events acknowledged, 256 producers ≥ 20,000/s', source: I14, scenario: 'events-c256', kind: 'scenario', metric: 'commitsPerSec', op: '>=', bound: 20_000 },
  { text: 'events p99 acknowledgement, 1 producer ≤ 20 ms', source: I14, scenario: 'events-c1', kind: 'scenario', metric: 'p99Us', op: '<=', bound: 20_000 },
  { text: 'events p99 acknowledgement, 256 producers ≤ 20 ms', source: I14, scenario: 'events-c256', kind: 'scenario', metric: 'p99Us', op: '<=', bound: 20_000 },
  { text: 'graph 10-resource transaction p50 ≤ 5 ms', source: I14, scenario: 'graph-c1', kind: 'scenario', metric: 'p50Us', op: '<=', bound: 5000 },
  ...[1, 16, 256].flatMap((c): TargetSpec[] => [
    { text: `level put throughput at ${c} ≥ 2 × etcd`, source: I18, scenario: `level-c${c}`, kind: 'ratio', metric: 'throughput', op: '>=', bound: 2 },
    { text: `level put p50 at ${c} ≤ 0.7 × etcd`, source: I18, scenario: `level-c${c}`, kind: 'ratio', metric: 'p50', op: '<=', bound: 0.7 }
  ])
]

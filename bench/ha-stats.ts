/**
 * The pure part of bench/ha-b2.ts: medians and spreads over N fresh-cluster runs, quorate/etcd
 * ratios computed per run pair (run i with run i, the two measured minutes apart rather than a
 * whole suite apart) with their median, and the issues' targets judged on those medians.
 * No I/O here, so test/bench/ha-stats.test.ts checks it directly.
 */

/** The latency and rate figures of one run of one scenario (a ClosedLoopResult suffices). */
export interface RunFigures {
  /** Which of the N runs this was (0-based); runs pair by it (by position when absent). */
  readonly run?: number
  readonly commitsPerSec: number
  /** Writes per second (a batch counts its puts); commitsPerSec when absent. */
  readonly opsPerSec?: number
  readonly errors: number
  readonly latency: { readonly p50Us: number, readonly p99Us: number }
}

export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly n: number
}

export interface ScenarioSummary {
  readonly commitsPerSec: Spread
  readonly opsPerSec: Spread
  readonly p50Us: Spread
  readonly p99Us: Spread
  readonly errors: number
}

export interface PairRatios {
  /** quorate commits/s ÷ etcd commits/s, per run pair, and their spread (> 1: quorate faster). */
  readonly throughput: Spread & { readonly perRun: readonly number[] }
  /** quorate p50 ÷ etcd p50 per run pair (< 1: quorate faster). */
  readonly p50: Spread & { readonly perRun: readonly number[] }
}

const round = (x: number, digits: number): number => { const f = 10 ** digits; return Math.round(x * f) / f }

/** The median (mean of the middle two for an even count), min and max; NaN for none. */
export function spreadOf (values: readonly number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 }
  const mid = v.length >> 1
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length }
}

export function summarizeRuns (runs: readonly RunFigures[]): ScenarioSummary {
  return {
    commitsPerSec: spreadOf(runs.map((r) => r.commitsPerSec)),
    opsPerSec: spreadOf(runs.map((r) => r.opsPerSec ?? r.commitsPerSec)),
    p50Us: spreadOf(runs.map((r) => r.latency.p50Us)),
    p99Us: spreadOf(runs.map((r) => r.latency.p99Us)),
    errors: runs.reduce((a, r) => a + r.errors, 0)
  }
}

/**
 * Ratios of run i of `quorate` to run i of `peer`, for every run both have (a run that failed
 * on one side pairs with nothing); a pair in which either side measured nothing (0 commits)
 * gives no ratio rather than 0 or Infinity.
 */
export function pairRatios (quorate: readonly RunFigures[], peer: readonly RunFigures[]): PairRatios {
  const throughput: number[] = []
  const p50: number[] = []
  const peerByRun = new Map(peer.map((p, i) => [p.run ?? i, p]))
  for (const [i, q] of quorate.entries()) {
    const p = peerByRun.get(q.run ?? i)
    if (p === undefined) continue
    if (q.commitsPerSec > 0 && p.commitsPerSec > 0) throughput.push(round(q.commitsPerSec / p.commitsPerSec, 3))
    if (q.latency.p50Us > 0 && p.latency.p50Us > 0) p50.push(round(q.latency.p50Us / p.latency.p50Us, 3))
  }
  return { throughput: { ...spreadOf(throughput), perRun: throughput }, p50: { ...spreadOf(p50), perRun: p50 } }
}

/**
 * A target from the issues. `scenario` targets compare a summary's median with `bound`;
 * `ratio` targets compare the median of the per-pair ratios of `scenario` against etcd.
 */
export interface TargetSpec {
  readonly text: string
  readonly source: string
  readonly scenario: string
  readonly kind: 'scenario' | 'ratio'
  readonly metric: 'commitsPerSec' | 'p50Us' | 'p99Us' | 'throughput' | 'p50'
  readonly op: '>=' | '<='
  readonly bound: number
}

export type TargetStatus = 'met' | 'missed' | 'not measured'

export interface TargetResult extends TargetSpec {
  readonly measured: number | null
  readonly status: TargetStatus
}

export function evaluateTargets (
  specs: readonly TargetSpec[],
  summaries: Readonly<Record<string, ScenarioSummary | undefined>>,
  ratios: Readonly<Record<string, PairRatios | undefined>>
): TargetResult[] {
  return specs.map((t) => {
    let spread: Spread | undefined
    if (t.kind === 'scenario') {
      const s = summaries[t.scenario]
      spread = s === undefined ? undefined : t.metric === 'commitsPerSec' ? s.commitsPerSec : t.metric === 'p50Us' ? s.p50Us : t.metric === 'p99Us' ? s.p99Us : undefined
    } else {
      const r = ratios[t.scenario]
      spread = r === undefined ? undefined : t.metric === 'throughput' ? r.throughput : t.metric === 'p50' ? r.p50 : undefined
    }
    const measured = spread === undefined || spread.n === 0 ? null : spread.median
    const status: TargetStatus = measured === null ? 'not measured' : (t.op === '>=' ? measured >= t.bound : measured <= t.bound) ? 'met' : 'missed'
    return { ...t, measured, status }
  })
}

/** The dedup check of one emit run: every retry of a stored id answered 'duplicate', nothing stored twice. */
export interface EmitCheck {
  readonly scenario: string
  readonly run: number
  readonly storedAcks: number
  readonly retries: number
  readonly retriesDuplicate: number
  readonly retriesStoredAgain: number
  readonly freshDuplicate: number
  /** Events each replica stored (its count of committed 'stored' emits), leader first. */
  readonly storedPerReplica: readonly number[]
  readonly ok: boolean
}

/**
 * Judges one emit run from the client's outcome counts (ha-workloads.ts) and each replica's
 * count of stored events: ok when no retry was stored again, no fresh id was taken for a
 * duplicate, every retry that was answered at all was answered 'duplicate', and the replicas
 * agree and stored exactly the events the client was told were stored (plus at most the
 * commands whose answer the client never got).
 */
export function checkEmitRun (
  scenario: string,
  run: number,
  tally: Readonly<Record<string, number>>,
  nodes: ReadonlyArray<{ readonly role: string, readonly machine: Readonly<Record<string, number>> }>
): EmitCheck {
  const get = (k: string): number => tally[k] ?? 0
  const storedAcks = get('stored')
  const retries = get('retries')
  const retriesDuplicate = get('retriesDuplicate')
  const retriesStoredAgain = get('retriesStoredAgain')
  const freshDuplicate = get('freshDuplicate')
  const ordered = [...nodes].sort((a, b) => (a.role === 'leader' ? 0 : 1) - (b.role === 'leader' ? 0 : 1))
  const storedPerReplica = ordered.map((x) => x.machine.eventsStored ?? Number.NaN)
  const unanswered = get('failed') + Object.keys(tally).filter((k) => k.startsWith('refused:')).reduce((a, k) => a + get(k), 0)
  const ok = retriesStoredAgain === 0 && freshDuplicate === 0 &&
    retriesDuplicate <= retries && retriesDuplicate + unanswered >= retries &&
    storedPerReplica.length > 0 && storedPerReplica.every((x) => x === storedPerReplica[0]) &&
    // A command that failed at the client (leader change) may still have committed.
    storedPerReplica[0]! >= storedAcks && storedPerReplica[0]! <= storedAcks + unanswered
  return { scenario, run, storedAcks, retries, retriesDuplicate, retriesStoredAgain, freshDuplicate, storedPerReplica, ok }
}

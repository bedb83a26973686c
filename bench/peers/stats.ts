/**
 * The arithmetic of the peers benchmark's repeatability rules, kept pure so it is unit
 * tested (test/bench/peers-stats.test.ts): every figure is the median of several
 * fresh-cluster runs with its spread; a ratio between two systems is computed per run pair
 * (run i of one against run i of the other, measured next to each other in time) and the
 * median of those ratios is reported, so one noisy run cannot make or break a target.
 */

/** A figure over repeated runs: the median, the extremes and every value, in run order. */
export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly n: number
  readonly values: readonly number[]
}

/** The median of finite values (the mean of the middle two for an even count); NaN for none. */
export function median (values: readonly number[]): number {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (xs.length === 0) return Number.NaN
  const mid = xs.length >> 1
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2
}

/** Median and extremes of the finite values; n counts only those. */
export function spread (values: readonly number[]): Spread {
  const xs = values.filter(Number.isFinite)
  return {
    median: median(xs),
    min: xs.length === 0 ? Number.NaN : Math.min(...xs),
    max: xs.length === 0 ? Number.NaN : Math.max(...xs),
    n: xs.length,
    values: xs
  }
}

/**
 * `a[i] / b[i]` for every run index where both runs produced a positive, finite figure;
 * runs missing on either side (undefined) are left out rather than paired with another run.
 */
export function pairedRatios (a: ReadonlyArray<number | undefined>, b: ReadonlyArray<number | undefined>): number[] {
  const out: number[] = []
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]
    const y = b[i]
    if (x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y) || y <= 0) continue
    out.push(x / y)
  }
  return out
}

/** One closed-loop result row as the drivers print it (bench/closed-loop.ts, etcd-load). */
export interface RunRow {
  readonly concurrency: number
  readonly commitsPerSec: number
  readonly errors?: number
  readonly latency: { readonly p50Us: number, readonly p99Us: number, readonly p999Us: number }
  /** B2 only: leader CPU per commit and leader storage writes per commit. */
  readonly leaderCpuUsPerCommit?: number
  readonly leaderUserCpuUsPerCommit?: number
  readonly leaderStorageWritesPerCommit?: number
  /** B2 only: each node's role and its storage write latency in ms over the run. */
  readonly nodes?: ReadonlyArray<{ readonly role: string, readonly storageWriteMs?: { readonly p50: number } }>
}

/** One system's runs: runs[i] holds run i's rows (one per concurrency that completed). */
export interface SystemRuns {
  readonly runs: ReadonlyArray<ReadonlyArray<RunRow>>
}

export interface RowSummary {
  readonly concurrency: number
  readonly commitsPerSec: Spread
  readonly p50Us: Spread
  readonly p99Us: Spread
  readonly p999Us: Spread
  readonly errors: number
}

/** The figure of run i at concurrency c, or undefined where that run has no row for c. */
export function perRun (system: SystemRuns, concurrency: number, figure: (row: RunRow) => number | undefined): Array<number | undefined> {
  return system.runs.map((rows) => {
    const row = rows.find((r) => r.concurrency === concurrency)
    return row === undefined ? undefined : figure(row)
  })
}

const present = (xs: ReadonlyArray<number | undefined>): number[] => xs.filter((x): x is number => x !== undefined)

/** A row's latency figure, or undefined for a row in which nothing committed (its 0 is no latency). */
export const latencyOf = (pick: (l: RunRow['latency']) => number) => (row: RunRow): number | undefined =>
  row.commitsPerSec > 0 ? pick(row.latency) : undefined

/** Median and spread per concurrency level over all runs. */
export function summarizeRuns (system: SystemRuns, concurrency: readonly number[]): RowSummary[] {
  const out: RowSummary[] = []
  for (const c of concurrency) {
    const tput = present(perRun(system, c, (r) => r.commitsPerSec))
    if (tput.length === 0) continue
    out.push({
      concurrency: c,
      commitsPerSec: spread(tput),
      p50Us: spread(present(perRun(system, c, latencyOf((l) => l.p50Us)))),
      p99Us: spread(present(perRun(system, c, latencyOf((l) => l.p99Us)))),
      p999Us: spread(present(perRun(system, c, latencyOf((l) => l.p999Us)))),
      errors: present(perRun(system, c, (r) => r.errors ?? 0)).reduce((s, x) => s + x, 0)
    })
  }
  return out
}

/** Throughput and p50 ratios of `a` to `b` at one concurrency, per run pair. */
export interface Comparison {
  readonly a: string
  readonly b: string
  readonly concurrency: number
  readonly throughputRatio: Spread
  readonly p50Ratio: Spread
}

export function compare (aName: string, a: SystemRuns, bName: string, b: SystemRuns, concurrency: number): Comparison {
  return {
    a: aName,
    b: bName,
    concurrency,
    throughputRatio: spread(pairedRatios(perRun(a, concurrency, (r) => r.commitsPerSec), perRun(b, concurrency, (r) => r.commitsPerSec))),
    p50Ratio: spread(pairedRatios(perRun(a, concurrency, latencyOf((l) => l.p50Us)), perRun(b, concurrency, latencyOf((l) => l.p50Us))))
  }
}

/** What a run measured of the machine itself (bench/raw-limits.ts --floor). */
export interface FloorRun {
  readonly fsync: { readonly p50Us: number }
  /** A 100-byte append + fdatasync to a growing file: the floor under classic-level (no preallocation). Absent in runs recorded before it was measured. */
  readonly appendSync?: { readonly p50Us: number }
  readonly loopbackRtt: { readonly p50Us: number }
  readonly levelBatch: { readonly entriesPerBatch: number, readonly entriesPerSec: number }
}

/** The c=1 latency floor: one fsync plus two loopback round trips (client-leader, leader-follower). */
export function latencyFloorUs (floor: FloorRun): number {
  return floor.fsync.p50Us + 2 * floor.loopbackRtt.p50Us
}

/**
 * Entries per storage write on B2's leader at the given concurrency (the batch size the raw
 * classic-level floor is measured at): the median over runs of 1 / writes-per-commit, at least 1.
 */
export function leaderBatchEntries (quorate: SystemRuns, concurrency: number): number | undefined {
  const perWrite = present(perRun(quorate, concurrency, (r) => r.leaderStorageWritesPerCommit))
    .filter((w) => w > 0).map((w) => 1 / w)
  if (perWrite.length === 0) return undefined
  return Math.max(1, Math.round(median(perWrite)))
}

export type Direction = 'atMost' | 'atLeast'
export type TargetStatus = 'met' | 'missed' | 'not measured'

/** A target: a measured median (of per-pair ratios where it is a ratio) against a threshold. */
export interface Target {
  readonly figure: string
  readonly target: string
  readonly threshold: number
  readonly direction: Direction
  readonly measured: Spread | null
  readonly status: TargetStatus
  /** Measured figures that explain the result (what limits it when missed). */
  readonly evidence: string
}

export function targetStatus (measured: Spread | null, threshold: number, direction: Direction): TargetStatus {
  if (measured === null || measured.n === 0 || !Number.isFinite(measured.median)) return 'not measured'
  const ok = direction === 'atMost' ? measured.median <= threshold : measured.median >= threshold
  return ok ? 'met' : 'missed'
}

export function target (figure: string, targetText: string, threshold: number, direction: Direction, measured: Spread | null, evidence = ''): Target {
  return { figure, target: targetText, threshold, direction, measured, status: targetStatus(measured, threshold, direction), evidence }
}

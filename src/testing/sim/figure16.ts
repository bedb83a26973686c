/**
 * Election timing against the Raft paper's §9.3 / Figure 16: five servers, a one-way network
 * latency of 7-8 ms (broadcast time about 15 ms), the leader crashed at a random point of its
 * heartbeat interval, and the time measured from the crash until a new leader is known by a
 * majority. One line per election timeout range, with PreVote on and off; everything else at
 * the node's defaults (so CheckQuorum is on: a follower ignores vote requests while it has
 * heard from a leader within the minimum election timeout).
 *
 * The nodes are real RaftNodes on virtual time (tickMs = 1, so ticks are milliseconds).
 */
import { RaftNode } from '../../node/node.js'
import type { StateMachine } from '../../node/state-machine.js'
import { MemoryNetwork } from '../../transport/memory.js'
import { SeededRandom } from '../../util/random.js'
import { ManualClock } from '../manual-clock.js'
import { CrashStorage } from '../crash-storage.js'
import { NodeClock } from './node-clock.js'
import { checkInt } from '../../util/validate.js'

export interface Figure16Range {
  /** Election timeout range in ms: [low, high]. */
  readonly low: number
  readonly high: number
  readonly heartbeatMs: number
  /**
   * Fewer trials for this line: with no randomness every election after the crash is a split
   * vote that repeats forever, so each trial runs to the cap.
   */
  readonly maxTrials?: number
}

export const FIGURE16_RANGES: readonly Figure16Range[] = [
  { low: 150, high: 150, heartbeatMs: 75, maxTrials: 100 },
  { low: 150, high: 151, heartbeatMs: 75 },
  { low: 150, high: 155, heartbeatMs: 75 },
  { low: 150, high: 175, heartbeatMs: 75 },
  { low: 150, high: 200, heartbeatMs: 75 },
  { low: 150, high: 300, heartbeatMs: 75 },
  { low: 12, high: 24, heartbeatMs: 6 }
]

/** What the paper reports (§9.3, Figure 16), for comparison. */
export const FIGURE16_PAPER: Readonly<Record<string, string>> = Object.freeze({
  '150-150': 'no randomness: elections often took over 10 s (repeated split votes)',
  '150-151': 'only 1 ms of randomness already helps a lot (top graph)',
  '150-155': '5 ms of randomness: median downtime 287 ms',
  '150-175': 'between the 5 ms and 50 ms lines',
  '150-200': '50 ms of randomness: worst case (over 1,000 trials) 513 ms',
  '150-300': 'the most randomness: the fastest elections of the 150 ms lines',
  '12-24': 'mean 35 ms, max 152 ms'
})

export const DEFAULT_FIGURE16_TRIALS = 1000
/** A trial that finds no leader within this long counts with this value (the paper's "over 10 s"). */
export const FIGURE16_CAP_MS = 10_001
const LATENCY = { min: 7, max: 8 } as const
const SERVERS = 5

export interface Figure16Line {
  readonly label: string
  readonly low: number
  readonly high: number
  readonly heartbeatMs: number
  readonly preVote: boolean
  readonly trials: number
  readonly median: number
  readonly mean: number
  readonly p99: number
  readonly max: number
  readonly min: number
  /** Trials that found no leader within 10 s (they count as FIGURE16_CAP_MS). */
  readonly over10s: number
  /**
   * The distribution for charts (scripts/charts.mjs draws the CDFs): [ms, fraction of trials
   * done by then] at each FIGURE16_CDF_POINTS fraction. Absent in results from before it existed.
   */
  readonly cdf?: ReadonlyArray<readonly [number, number]>
}

/** Fractions at which a line's CDF is recorded: every 5 %, plus the tails. */
export const FIGURE16_CDF_POINTS: readonly number[] = [0.01, ...Array.from({ length: 20 }, (_, i) => (i + 1) / 20), 0.99].sort((a, b) => a - b)

export interface Figure16Result {
  readonly seed: number
  readonly trialsPerLine: number
  readonly latencyMs: { readonly min: number, readonly max: number }
  readonly lines: readonly Figure16Line[]
}

export interface Figure16Options {
  /** @default 1000 */
  trials?: number
  /** @default 1 */
  seed?: number
  /** @default FIGURE16_RANGES */
  ranges?: readonly Figure16Range[]
  /** @default [true, false] */
  preVote?: readonly boolean[]
  /** Told about each line as it finishes. */
  onLine?: (line: Figure16Line) => void
  /** Told after each trial: trials done and the run's total (for progress and an estimate). */
  onTrial?: (done: number, total: number) => void
}

/** How many trials runFigure16 runs with these options (each line caps it at its maxTrials). */
export function figure16TrialCount (options: Pick<Figure16Options, 'trials' | 'ranges' | 'preVote'> = {}): number {
  const trials = options.trials ?? DEFAULT_FIGURE16_TRIALS
  const perPass = (options.ranges ?? FIGURE16_RANGES).reduce((sum, r) => sum + Math.min(trials, r.maxTrials ?? trials), 0)
  return perPass * (options.preVote ?? [true, false]).length
}

const nullMachine: StateMachine = { apply: () => null }

/** One trial: milliseconds from the leader's crash until a new leader is known by a majority. */
export async function electionTrial (range: Figure16Range, preVote: boolean, seed: number): Promise<number> {
  const random = new SeededRandom(seed)
  const global = new ManualClock(0)
  const network = new MemoryNetwork({ clock: global, random: random.fork(), latency: LATENCY })
  const ids = Array.from({ length: SERVERS }, (_, i) => `s${i + 1}`)
  const clocks = ids.map(() => new NodeClock(global))
  const nodes = ids.map((id, i) => new RaftNode({
    id,
    voters: ids,
    storage: new CrashStorage(),
    transport: network.transport(id),
    stateMachine: nullMachine,
    clock: clocks[i],
    random: random.fork(),
    tickMs: 1,
    electionTicks: range.low,
    // Timeouts are whole ticks drawn from [low, low + jitter): jitter = high - low + 1 makes the
    // range inclusive, so 150-151 draws 150 or 151 and the degenerate 150-150 always draws 150.
    electionJitterTicks: range.high - range.low + 1,
    heartbeatTicks: range.heartbeatMs,
    preVote
  }))
  // Servers start at random whole milliseconds, so the first election is not a tie (and ticks
  // stay aligned, which lets one instant fire every tick timer at once).
  for (const n of nodes) global.setTimeout(() => { void n.open() }, Math.floor(random.next() * range.low))
  const leaderKnownByMajority = (excluded: number): number => {
    for (let i = 0; i < SERVERS; i++) {
      if (i === excluded || nodes[i]!.status().role !== 'leader') continue
      const term = nodes[i]!.status().term
      let agree = 0
      for (let j = 0; j < SERVERS; j++) {
        if (j === excluded) continue
        const s = nodes[j]!.status()
        if (s.leader === ids[i] && s.term === term) agree++
      }
      if (agree > SERVERS / 2) return i
    }
    return -1
  }
  let leader = -1
  await runInstants(global, FIGURE16_CAP_MS, () => (leader = leaderKnownByMajority(-1)) >= 0)
  // Let every follower hear from the leader, then crash it at a random point of its heartbeat interval.
  await runInstants(global, global.now() + 2 * range.heartbeatMs + random.next() * range.heartbeatMs, () => false)
  leader = Math.max(0, nodes.findIndex((n) => n.status().role === 'leader'))
  clocks[leader]!.kill()
  void network.transport(ids[leader]!).close()
  const crashedAt = global.now()
  let elected = false
  await runInstants(global, crashedAt + FIGURE16_CAP_MS, () => (elected = leaderKnownByMajority(leader) >= 0))
  const took = elected ? global.now() - crashedAt : FIGURE16_CAP_MS
  for (const c of clocks) c.kill()
  await network.close()
  return took
}

/**
 * Fires every timer due at the next instant, then lets microtasks run, until `done()` or
 * `until`. (Cheaper than one timer at a time; still deterministic.)
 */
async function runInstants (clock: ManualClock, until: number, done: () => boolean): Promise<void> {
  for (;;) {
    const due = clock.nextDue()
    if (due === undefined || due > until) break
    while (clock.nextDue() === due) clock.runNext()
    await new Promise<void>((resolve) => { setImmediate(resolve) })
    if (done()) return
  }
  if (clock.now() < until) clock.advance(until - clock.now())
}

function percentile (sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!
}

/** Runs every line (ranges × PreVote on/off) with `trials` trials each. */
export async function runFigure16 (options: Figure16Options = {}): Promise<Figure16Result> {
  if (options.trials !== undefined) checkInt(options.trials, 'Figure16Options', 'trials', 1)
  if (options.seed !== undefined) checkInt(options.seed, 'Figure16Options', 'seed', 0, 0xffffffff)
  const trials = options.trials ?? DEFAULT_FIGURE16_TRIALS
  const seed = options.seed ?? 1
  const lines: Figure16Line[] = []
  const total = figure16TrialCount(options)
  let done = 0
  let lineNo = 0
  for (const preVote of options.preVote ?? [true, false]) {
    for (const range of options.ranges ?? FIGURE16_RANGES) {
      lineNo++
      const times: number[] = []
      const lineTrials = Math.min(trials, range.maxTrials ?? trials)
      for (let t = 0; t < lineTrials; t++) {
        times.push(await electionTrial(range, preVote, (seed * 1_000_003 + lineNo * 100_003 + t) >>> 0))
        options.onTrial?.(++done, total)
      }
      times.sort((a, b) => a - b)
      const round = (x: number): number => Math.round(x * 10) / 10
      const line: Figure16Line = {
        label: `${range.low}-${range.high}`,
        low: range.low,
        high: range.high,
        heartbeatMs: range.heartbeatMs,
        preVote,
        trials: lineTrials,
        median: round(percentile(times, 0.5)),
        mean: round(times.reduce((a, b) => a + b, 0) / times.length),
        p99: round(percentile(times, 0.99)),
        max: round(times[times.length - 1]!),
        min: round(times[0]!),
        over10s: times.filter((x) => x > 10_000).length,
        cdf: FIGURE16_CDF_POINTS.map((q) => [round(percentile(times, q)), q] as const)
      }
      lines.push(line)
      options.onLine?.(line)
    }
  }
  return { seed, trialsPerLine: trials, latencyMs: { ...LATENCY }, lines }
}

/** The result as a Markdown table beside the paper's figures. */
export function figure16Markdown (result: Figure16Result): string {
  const rows = result.lines.map((l) =>
    `| ${l.label} ms | ${l.heartbeatMs} ms | ${l.preVote ? 'on' : 'off'} | ${l.trials} | ${l.median} | ${l.mean} | ${l.p99} | ${l.max} | ${l.over10s} | ${FIGURE16_PAPER[l.label] ?? ''} |`)
  return [
    `${result.trialsPerLine} trials per line (fewer where the trials column says so), 5 servers, one-way latency ${result.latencyMs.min}-${result.latencyMs.max} ms, times in ms from the leader's crash until a new leader is known by a majority.`,
    '',
    '| election timeout | heartbeat | PreVote | trials | median | mean | p99 | max | trials > 10 s | the paper |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows
  ].join('\n')
}

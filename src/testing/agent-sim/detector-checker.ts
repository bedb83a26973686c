/**
 * What a failure detector must get right, checked against the faults a run was given (the
 * ground truth the detectors never see):
 *
 * - no false death: a node is declared dead only if it crashed, or it is cut off by a
 *   partition at least `graceMs` long (the detector's deadAfterSilenceMs);
 * - a starved node accuses nobody: no 'suspect' or 'dead' verdict by an observer within
 *   `starvedWindowMs` after its own stall, about a node that is neither crashed, partitioned
 *   nor stalled itself;
 * - exactly one death per long partition: the verdicts about a node partitioned for longer
 *   than the grace name one (node, incarnation) death, however many observers agree, and no
 *   observer declares it twice;
 * - every crash is detected: a crashed node is declared dead before the run ends (if the run
 *   lasts `detectWithinMs` past the crash), and the delay is reported;
 * - with a singleton (singleton-model.ts): it is replaced once per crash or long partition of
 *   its host and never otherwise, and once the faults are over exactly one node runs it.
 */
import type { DetectorFault, DetectorRun, Verdict } from './detector-sim.js'
import { FAILURE_DETECTOR_DEFAULTS } from '../../agent/failure-detector.js'

export interface DetectorCheck {
  readonly falseDeaths: readonly Verdict[]
  readonly starvedAccusations: readonly Verdict[]
  /** Per partition longer than the grace: distinct deaths declared plus repeated verdicts (exactly 1 when correct). */
  readonly partitionDeaths: ReadonlyArray<{ readonly fault: DetectorFault, readonly deaths: number }>
  /** Per crash: ms from the crash to the first dead verdict, or null if none. */
  readonly detection: ReadonlyArray<{ readonly fault: DetectorFault, readonly ms: number | null }>
  /** Human-readable problems; empty when the run is correct. */
  readonly problems: readonly string[]
}

export interface DetectorCheckOptions {
  /** How long after its own stall an observer must not accuse, ms. @default 1000 */
  readonly starvedWindowMs?: number
  /** A crash must be declared within this, ms (checked only if the run lasts that long). @default 10000 */
  readonly detectWithinMs?: number
}

export function checkDetectorRun (run: DetectorRun, options: DetectorCheckOptions = {}): DetectorCheck {
  const faults = run.options.faults ?? []
  const grace = run.options.detector?.deadAfterSilenceMs ?? FAILURE_DETECTOR_DEFAULTS.deadAfterSilenceMs
  const window = options.starvedWindowMs ?? 1000
  const detectWithin = options.detectWithinMs ?? 10_000
  const crashAt = (node: string): number | undefined => {
    const f = faults.find((x) => x.kind === 'crash' && x.node === node)
    return f?.at
  }
  const within = (f: DetectorFault, t: number, slack = 0): boolean => 'ms' in f && t >= f.at && t < f.at + f.ms + slack
  const longPartitions = faults.filter((f) => f.kind === 'partition' && f.ms >= grace)
  const troubled = (node: string, t: number): boolean =>
    (crashAt(node) ?? Infinity) <= t || faults.some((f) => (f.kind === 'partition' || f.kind === 'stall') && f.node === node && within(f, t, 1000))

  const falseDeaths = run.verdicts.filter((v) => v.status === 'dead' &&
    (crashAt(v.node) ?? Infinity) > v.at &&
    // a heartbeat interval of slack at the end: the last verdicts of a partition that just healed
    !longPartitions.some((f) => 'node' in f && f.node === v.node && within(f, v.at, 500)))

  const starvedAccusations = run.verdicts.filter((v) => v.status !== 'alive' && !troubled(v.node, v.at) &&
    faults.some((f) => f.kind === 'stall' && f.node === v.observer && v.at >= f.at + f.ms && v.at < f.at + f.ms + window))

  const partitionDeaths = longPartitions.map((fault) => {
    const verdicts = run.verdicts.filter((v) => v.status === 'dead' && 'node' in fault && v.node === fault.node && within(fault, v.at, 500))
    const ids = new Set(verdicts.map((v) => `${v.node}#${v.incarnation}`))
    // One death: one (node, incarnation), and no observer declaring it twice.
    const repeated = verdicts.length - new Set(verdicts.map((v) => v.observer)).size
    return { fault, deaths: ids.size + repeated }
  })

  const detection = faults.filter((f) => f.kind === 'crash').map((fault) => {
    const first = run.verdicts.find((v) => v.status === 'dead' && 'node' in fault && v.node === fault.node && v.at >= fault.at)
    return { fault, ms: first === undefined ? null : first.at - fault.at }
  })

  const problems: string[] = []
  const singleton = run.singleton
  if (singleton !== undefined) {
    const host = run.options.singleton!.host
    const expected = faults.filter((f) => 'node' in f && f.node === host && (f.kind === 'crash' || (f.kind === 'partition' && f.ms >= grace))).length
    if (singleton.replacements !== expected) problems.push(`singleton replaced ${singleton.replacements} times, expected ${expected}`)
    const lastFaultEnd = Math.max(0, ...faults.map((f) => f.at + ('ms' in f ? f.ms : 0)))
    if (run.options.durationMs >= lastFaultEnd + 5000 && singleton.runningAtEnd.length !== 1) problems.push(`singleton runs on ${singleton.runningAtEnd.length} nodes at the end (${singleton.runningAtEnd.join(', ')}), expected exactly 1`)
  }
  for (const v of falseDeaths) problems.push(`false death: ${v.observer} declared ${v.node} dead at ${v.at.toFixed(0)} ms`)
  for (const v of starvedAccusations) problems.push(`starved accusation: ${v.observer}, just out of its own stall, called ${v.node} ${v.status} at ${v.at.toFixed(0)} ms`)
  for (const p of partitionDeaths) if (p.deaths !== 1) problems.push(`partition of ${'node' in p.fault ? p.fault.node : '?'} at ${p.fault.at} ms for ${'ms' in p.fault ? p.fault.ms : '?'} ms: ${p.deaths} deaths, expected exactly 1`)
  for (const c of detection) {
    if (c.ms === null && run.options.durationMs >= c.fault.at + detectWithin) problems.push(`crash of ${'node' in c.fault ? c.fault.node : '?'} at ${c.fault.at} ms never declared dead`)
    else if (c.ms !== null && c.ms > detectWithin) problems.push(`crash of ${'node' in c.fault ? c.fault.node : '?'} declared dead only after ${c.ms.toFixed(0)} ms`)
  }
  return { falseDeaths, starvedAccusations, partitionDeaths, detection, problems }
}

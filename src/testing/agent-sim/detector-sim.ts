/**
 * The failure-detector simulator: N nodes, each running the pure FailureDetector of
 * quorate/agent, sending heartbeats to every other node over a simulated network, in virtual
 * time, with faults scheduled up front. One seed reproduces a run exactly (network delays,
 * losses and heartbeat jitter all come from one SeededRandom).
 *
 * Fault semantics:
 * - stall: the node runs nothing during [at, at + ms): its timers and the messages delivered
 *   to it wait and run, in their original order, when the stall ends (a CPU-starved process or
 *   a long GC pause: the kernel still accepts its packets).
 * - loss: each message to or from the node is dropped with probability `rate`.
 * - partition: every message to or from the node is dropped, silently.
 * - crash 'process': the node's process is gone, its machine answers: a heartbeat sent to it
 *   comes back refused after one network delay. crash 'machine': silence.
 * - failover: every detector is told a coordinator failover happened (grace period).
 */
import { FailureDetector } from '../../agent/failure-detector.js'
import type { DetectorMutations, FailureDetectorOptions, Heartbeat, PeerStatus } from '../../agent/failure-detector.js'
import { detectorMutations, FAILURE_DETECTOR_DEFAULTS } from '../../agent/failure-detector.js'
import { SeededRandom } from '../../util/random.js'
import { Agenda } from './event-queue.js'
import { SingletonModel } from './singleton-model.js'
import type { SingletonCommand, SingletonOptions, SingletonReport } from './singleton-model.js'

export type DetectorFault =
  | { readonly kind: 'stall', readonly node: string, readonly at: number, readonly ms: number }
  | { readonly kind: 'loss', readonly node: string, readonly at: number, readonly ms: number, readonly rate: number }
  | { readonly kind: 'partition', readonly node: string, readonly at: number, readonly ms: number }
  | { readonly kind: 'crash', readonly node: string, readonly at: number, readonly mode: 'process' | 'machine' }
  | { readonly kind: 'failover', readonly at: number }

export interface DetectorSimOptions {
  readonly seed: number
  /** Node ids. */
  readonly nodes: readonly string[]
  /** Virtual time to run, ms. */
  readonly durationMs: number
  readonly faults?: readonly DetectorFault[]
  /** Options for every node's FailureDetector (besides self and peers). @default the detector's defaults */
  readonly detector?: Omit<FailureDetectorOptions, 'self' | 'peers'>
  /** One-way network delay range, ms. @default [1, 5] */
  readonly delayMs?: readonly [number, number]
  /** Heartbeat period jitter, as a fraction of the interval. @default 0.1 */
  readonly jitter?: number
  /** A deliberately broken detector on every node (for the mutation check). */
  readonly mutations?: DetectorMutations
  /** Also run a singleton service placed by a minimal coordinator (singleton-model.ts). */
  readonly singleton?: SingletonOptions
}

/** One verdict of one observer. */
export interface Verdict {
  readonly at: number
  readonly observer: string
  readonly node: string
  readonly status: PeerStatus
  readonly incarnation: number
}

export interface DetectorRun {
  readonly options: DetectorSimOptions
  readonly verdicts: readonly Verdict[]
  /** Heartbeats sent and dropped (by loss, partition or crash), for reporting. */
  readonly messages: { readonly sent: number, readonly dropped: number }
  /** With options.singleton: where the singleton ran. */
  readonly singleton?: SingletonReport
}

type Event =
  | { readonly type: 'heartbeat-timer', readonly node: string }
  | { readonly type: 'tick', readonly node: string }
  | { readonly type: 'deliver', readonly node: string, readonly hb: Heartbeat }
  | { readonly type: 'refused', readonly node: string, readonly peer: string }
  | { readonly type: 'failover' }
  | { readonly type: 'command', readonly node: string, readonly command: SingletonCommand }
  | { readonly type: 'reply', readonly node: string, readonly command: SingletonCommand }
  | { readonly type: 'retry', readonly node: string, readonly command: SingletonCommand }
  | { readonly type: 'crash', readonly node: string }

/** Runs the simulation to `durationMs` and returns every verdict in time order. */
export function runDetectorSim (options: DetectorSimOptions): DetectorRun {
  const random = new SeededRandom(options.seed)
  const agenda = new Agenda<Event>()
  const faults = options.faults ?? []
  const d = { ...FAILURE_DETECTOR_DEFAULTS, ...options.detector }
  const [minDelay, maxDelay] = options.delayMs ?? [1, 5]
  const jitter = options.jitter ?? 0.1
  const verdicts: Verdict[] = []
  const messages = { sent: 0, dropped: 0 }
  const detectors = new Map<string, FailureDetector>()
  for (const node of options.nodes) {
    const base = { ...options.detector, self: node, peers: options.nodes.filter((n) => n !== node) }
    detectors.set(node, new FailureDetector(options.mutations === undefined ? base : detectorMutations.with(base, options.mutations), 0))
    // Random phases: nodes do not heartbeat in lockstep.
    agenda.add(Math.floor(random.next() * d.heartbeatIntervalMs), { type: 'heartbeat-timer', node })
    agenda.add(Math.floor(random.next() * d.tickMs), { type: 'tick', node })
  }
  for (const f of faults) if (f.kind === 'failover') agenda.add(f.at, { type: 'failover' })

  const active = (f: DetectorFault, node: string, now: number): boolean =>
    'node' in f && f.node === node && now >= f.at && ('ms' in f ? now < f.at + f.ms : true)
  const crashed = (node: string, now: number): DetectorFault | undefined => faults.find((f) => f.kind === 'crash' && active(f, node, now))
  const stalledUntil = (node: string, now: number): number | undefined => {
    for (const f of faults) if (f.kind === 'stall' && active(f, node, now)) return f.at + f.ms
    return undefined
  }
  const cut = (from: string, to: string, now: number): boolean => {
    for (const f of faults) {
      if (f.kind === 'partition' && (active(f, from, now) || active(f, to, now))) return true
      if (f.kind === 'loss' && (active(f, from, now) || active(f, to, now)) && random.next() < f.rate) return true
    }
    return false
  }
  const delay = (): number => minDelay + random.next() * (maxDelay - minDelay)
  const record = (observer: string, ts: ReturnType<FailureDetector['tick']>): void => {
    for (const t of ts) verdicts.push({ at: t.at, observer, node: t.node, status: t.status, incarnation: t.incarnation })
    if (singleton !== undefined && observer === options.singleton!.coordinator && ts.length > 0) {
      const det = detectors.get(observer)!
      singleton.onVerdicts(ts, (n) => n === observer || det.status(n) === 'alive', options.nodes)
    }
  }
  const singleton = options.singleton === undefined
    ? undefined
    : new SingletonModel(options.singleton, {
      send: (from, to, message) => {
        const now = currentTime
        if (crashed(to, now) !== undefined || cut(from, to, now)) return
        agenda.add(now + delay(), 'command' in message ? { type: 'command', node: to, command: message.command } : { type: 'reply', node: to, command: message.reply })
      },
      retryLater: (ms, command) => { agenda.add(currentTime + ms, { type: 'retry', node: options.singleton!.coordinator, command }) }
    })
  for (const f of faults) if (f.kind === 'crash' && singleton !== undefined) agenda.add(f.at, { type: 'crash', node: f.node })
  let currentTime = 0

  for (;;) {
    const next = agenda.take()
    if (next === undefined || next.at > options.durationMs) break
    const { at: now, item: e, seq } = next
    currentTime = now
    if (e.type === 'crash') { singleton?.crashed(e.node, now); continue }
    if (e.type === 'failover') {
      for (const det of detectors.values()) det.failover(now)
      continue
    }
    if (crashed(e.node, now) !== undefined) continue
    const until = stalledUntil(e.node, now)
    if (until !== undefined) { agenda.add(until, e, seq); continue }
    const det = detectors.get(e.node)!
    switch (e.type) {
      case 'heartbeat-timer': {
        const hb = det.heartbeat(now)
        for (const peer of options.nodes) {
          if (peer === e.node) continue
          messages.sent++
          const gone = crashed(peer, now)
          if (gone !== undefined) {
            messages.dropped++
            if (gone.kind === 'crash' && gone.mode === 'process' && !cut(e.node, peer, now)) agenda.add(now + 2 * delay(), { type: 'refused', node: e.node, peer })
            continue
          }
          if (cut(e.node, peer, now)) { messages.dropped++; continue }
          agenda.add(now + delay(), { type: 'deliver', node: peer, hb })
        }
        agenda.add(now + d.heartbeatIntervalMs * (1 + jitter * (2 * random.next() - 1)), e)
        break
      }
      case 'tick':
        record(e.node, det.tick(now))
        agenda.add(now + d.tickMs, e)
        break
      case 'deliver': {
        // Dropped if a partition began while it was in flight.
        if (faults.some((f) => f.kind === 'partition' && (active(f, e.node, now) || active(f, e.hb.from, now)))) { messages.dropped++; break }
        const t = det.receive(e.hb, now)
        if (t !== undefined) record(e.node, [t])
        break
      }
      case 'refused':
        det.refused(e.peer, now)
        break
      case 'command':
        singleton!.deliverCommand(e.node, e.command, now)
        break
      case 'reply':
        singleton!.deliverReply(e.command)
        break
      case 'retry':
        singleton!.retry(e.command)
        break
    }
  }
  return singleton === undefined ? { options, verdicts, messages } : { options, verdicts, messages, singleton: singleton.report() }
}

/**
 * Node failure detection, as a pure deterministic core: no timers, no I/O, every method takes
 * `now` (monotonic ms), so the simulator drives it exactly and one seed reproduces a run. The
 * shell (heartbeats.ts, or a simulator) sends heartbeats, feeds in what arrives and calls
 * `tick` every `tickMs`.
 *
 * One detector runs on every node and observes every other. A peer goes
 *   alive → suspect   when the silence since its last heartbeat is improbable (phi accrual,
 *                     Hayashibara et al.: phi = -log10 P(a gap this long) under the observed
 *                     inter-arrival distribution), or a connection to it was refused;
 *   suspect → dead    when, in addition, it has been silent for `deadAfterSilenceMs` (or for
 *                     `refusedDeadAfterMs` with connections refused: its process is gone but
 *                     its machine answers), AND at least `confirmations` independent, healthy
 *                     observers (this one included) hold the same suspicion, as gossiped on
 *                     their heartbeats within `gossipFreshMs`;
 *   → alive           on any heartbeat from it.
 *
 * A peer not heard from since the detector started is judged by phi only after
 * `startupGraceMs`: its connection may still be coming up.
 *
 * Local-health awareness (after Lifeguard, HashiCorp's SWIM extension): a tick that comes
 * later than `tickMs + localLagMs` means this node was starved (CPU, GC, a VM pause). Then
 * the silence it measured is its own fault: every peer's silence is re-based, and for
 * `localRecoveryMs` it accuses nobody and gossips no suspicion.
 *
 * After a coordinator failover (`failover(now)`) no peer is declared dead for
 * `failoverGraceMs`: whatever disturbed the old coordinator may have disturbed heartbeats too.
 *
 * Invariants: a peer is declared dead at most once per silence (dead is left only by a
 * heartbeat); a starved observer makes no transition to suspect or dead; with
 * `confirmations` c, a dead verdict needs c distinct observers (capped by how many there are).
 */
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { hiddenOption } from '../util/hidden-option.js'

export interface FailureDetectorOptions {
  /** This node's id. */
  readonly self: string
  /** The nodes it observes (not itself). */
  readonly peers: readonly string[]
  /** How often peers send heartbeats, ms (the prior for their inter-arrival times). @default 200 */
  readonly heartbeatIntervalMs?: number
  /** How often the shell calls tick(), ms. @default 100 */
  readonly tickMs?: number
  /** Phi at which a silent peer becomes suspect. @default 8 */
  readonly phiSuspect?: number
  /** Floor of the inter-arrival standard deviation, ms (jitter on a quiet LAN is tiny; phi would be too eager). @default 100 */
  readonly minStdDevMs?: number
  /** Inter-arrival samples kept per peer. @default 100 */
  readonly historySize?: number
  /** Silence after which a suspect is dead (also the longest partition survived without a death), ms. @default 5000 */
  readonly deadAfterSilenceMs?: number
  /** Silence after which a suspect whose connections are refused is dead, ms. @default 1000 */
  readonly refusedDeadAfterMs?: number
  /** Independent observers (this one included) that must suspect a peer before it is dead. @default 2 */
  readonly confirmations?: number
  /** Another observer's gossiped suspicion counts for this long after it arrived, ms. @default 1000 */
  readonly gossipFreshMs?: number
  /** A tick later than tickMs + localLagMs means this node was starved. @default 500 */
  readonly localLagMs?: number
  /** A starved node accuses nobody for this long after its last late tick, ms. @default 3000 */
  readonly localRecoveryMs?: number
  /** No death is declared for this long after failover(), ms. @default 5000 */
  readonly failoverGraceMs?: number
  /** A peer not heard from since the detector started is not suspected by phi for this long (connections take time to come up), ms. @default 2000 */
  readonly startupGraceMs?: number
}

export const FAILURE_DETECTOR_DEFAULTS = {
  heartbeatIntervalMs: 200, tickMs: 100, phiSuspect: 8, minStdDevMs: 100, historySize: 100,
  deadAfterSilenceMs: 5000, refusedDeadAfterMs: 1000, confirmations: 2, gossipFreshMs: 1000,
  localLagMs: 500, localRecoveryMs: 3000, failoverGraceMs: 5000, startupGraceMs: 2000
} as const

const KEYS = ['self', 'peers', ...Object.keys(FAILURE_DETECTOR_DEFAULTS)] as const

export type PeerStatus = 'alive' | 'suspect' | 'dead'

/** What a heartbeat carries besides its sender: the sender's incarnation and its current suspicions. */
export interface Heartbeat {
  readonly from: string
  /** Raised by the sender whenever it sees itself suspected, so a death names one incarnation. */
  readonly incarnation: number
  /** Peers the sender suspects (empty while it is starved). */
  readonly suspects: readonly string[]
  /** Of those, the ones whose connections it finds refused. */
  readonly refused: readonly string[]
}

export interface Transition {
  readonly node: string
  readonly status: PeerStatus
  /** The peer's incarnation this verdict is about: (node, incarnation) names one death. */
  readonly incarnation: number
  readonly at: number
}

/** Deliberately broken detectors, for showing the simulator's checker catches them. */
export interface DetectorMutations {
  /** Ignore local health: a starved node accuses its peers. */
  readonly noLocalHealth?: boolean
  /** Declare dead on this node's own suspicion alone, after phi, without the silence bound or confirmations. */
  readonly deadOnSuspicion?: boolean
  /** Forget a death right after declaring it, so a silent peer is declared dead again and again. */
  readonly flapping?: boolean
  /** Count no other observer's gossip: with confirmations > 1, nobody is ever confirmed dead. */
  readonly ignoreGossip?: boolean
}
export const detectorMutations = hiddenOption<DetectorMutations>('quorate.detectorMutations', {})

interface Peer {
  status: PeerStatus
  incarnation: number
  lastArrival: number
  refusedAt: number | undefined
  /** Whether any heartbeat arrived from it (before that, phi is judged only after startupGraceMs). */
  heard: boolean
  readonly intervals: Float64Array
  count: number
  next: number
  sum: number
  sumSquares: number
  /** Their own view, from their last heartbeat: whom they suspect, and when it arrived. */
  gossip: { suspects: readonly string[], refused: readonly string[], at: number } | undefined
}

export class FailureDetector {
  readonly self: string
  readonly #o: Required<Omit<FailureDetectorOptions, 'self' | 'peers'>>
  readonly #peers = new Map<string, Peer>()
  readonly #mutations: DetectorMutations
  #incarnation = 0
  #lastTick: number | undefined
  #starvedUntil = -Infinity
  #graceUntil = -Infinity
  readonly #startedAt: number

  constructor (options: FailureDetectorOptions, now: number) {
    checkObject(options, 'FailureDetector', '(options)')
    checkKnownKeys(options, 'FailureDetector', KEYS)
    check(typeof options.self === 'string' && options.self.length > 0, 'FailureDetector', 'self', 'a non-empty string', options.self)
    check(Array.isArray(options.peers) && options.peers.every((p) => typeof p === 'string' && p.length > 0 && p !== options.self) && new Set(options.peers).size === options.peers.length,
      'FailureDetector', 'peers', 'distinct non-empty node ids other than self', options.peers)
    for (const [k, v] of Object.entries(options)) {
      if (k !== 'self' && k !== 'peers') checkInt(v as number, 'FailureDetector', k, k === 'localLagMs' || k === 'failoverGraceMs' || k === 'startupGraceMs' ? 0 : 1)
    }
    this.self = options.self
    this.#o = { ...FAILURE_DETECTOR_DEFAULTS, ...options }
    this.#mutations = detectorMutations.of(options)
    this.#startedAt = now
    for (const p of options.peers) this.#addPeer(p, now)
  }

  /** This node's incarnation, to put on its heartbeats. */
  get incarnation (): number { return this.#incarnation }

  /** True while this node counts itself starved (it accuses nobody). */
  starved (now: number): boolean { return !this.#mutations.noLocalHealth && now < this.#starvedUntil }

  status (peer: string): PeerStatus | undefined { return this.#peers.get(peer)?.status }

  /** The heartbeat this node sends now. */
  heartbeat (now: number): Heartbeat {
    const suspects: string[] = []
    const refused: string[] = []
    if (!this.starved(now)) {
      for (const [id, p] of this.#peers) {
        if (p.status === 'alive') continue
        suspects.push(id)
        if (p.refusedAt !== undefined) refused.push(id)
      }
    }
    return { from: this.self, incarnation: this.#incarnation, suspects, refused }
  }

  /** A heartbeat arrived. Returns the sender's transition back to alive, if it was suspect or dead. */
  receive (hb: Heartbeat, now: number): Transition | undefined {
    if (hb.suspects.includes(this.self)) this.#incarnation++ // refute: a later death is a new one
    const p = this.#peers.get(hb.from)
    if (p === undefined) return undefined
    const gap = now - p.lastArrival
    if (p.status === 'alive' && gap > 0) this.#sample(p, gap)
    p.lastArrival = now
    p.heard = true
    p.refusedAt = undefined
    p.incarnation = Math.max(p.incarnation, hb.incarnation)
    p.gossip = { suspects: hb.suspects, refused: hb.refused, at: now }
    if (p.status === 'alive') return undefined
    p.status = 'alive'
    return { node: hb.from, status: 'alive', incarnation: p.incarnation, at: now }
  }

  /** A connection to `peer` was refused (its process is gone, its machine answers). */
  refused (peer: string, now: number): void {
    const p = this.#peers.get(peer)
    if (p !== undefined && p.refusedAt === undefined) p.refusedAt = now
  }

  /** A coordinator failover happened: no deaths for failoverGraceMs. */
  failover (now: number): void {
    this.#graceUntil = now + this.#o.failoverGraceMs
  }

  /** Called every tickMs: local health, then each peer's verdict. Returns the transitions. */
  tick (now: number): Transition[] {
    if (this.#lastTick !== undefined && now - this.#lastTick > this.#o.tickMs + this.#o.localLagMs && !this.#mutations.noLocalHealth) {
      // This node was starved: the silence it measured is its own. Heartbeats that waited in
      // its buffers arrive right after; until then, nobody's silence counts from before now.
      this.#starvedUntil = now + this.#o.localRecoveryMs
      for (const p of this.#peers.values()) p.lastArrival = Math.max(p.lastArrival, now)
    }
    this.#lastTick = now
    if (this.starved(now)) return []
    const out: Transition[] = []
    for (const [id, p] of this.#peers) {
      const silence = now - p.lastArrival
      // A refused connect to a peer never heard from is no evidence within the grace either:
      // its process may simply not be up yet (a station whose agents start after it).
      const judged = p.heard || now - this.#startedAt >= this.#o.startupGraceMs
      if (p.status === 'alive' && judged && (p.refusedAt !== undefined || this.phi(id, now) >= this.#o.phiSuspect)) {
        p.status = 'suspect'
        out.push({ node: id, status: 'suspect', incarnation: p.incarnation, at: now })
      }
      if (p.status === 'suspect' && now >= this.#graceUntil && this.#deadNow(id, p, silence, now)) {
        p.status = this.#mutations.flapping === true ? 'alive' : 'dead'
        out.push({ node: id, status: 'dead', incarnation: p.incarnation, at: now })
      }
    }
    return out
  }

  /** Phi of `peer`'s current silence (0 for an unknown peer). */
  phi (peer: string, now: number): number {
    const p = this.#peers.get(peer)
    if (p === undefined) return 0
    const mean = p.sum / p.count
    const variance = Math.max(0, p.sumSquares / p.count - mean * mean)
    const sd = Math.max(this.#o.minStdDevMs, Math.sqrt(variance))
    return phiOf(now - p.lastArrival, mean, sd)
  }

  #deadNow (id: string, p: Peer, silence: number, now: number): boolean {
    if (this.#mutations.deadOnSuspicion) return true
    const byRefusal = p.refusedAt !== undefined && silence >= this.#o.refusedDeadAfterMs
    if (!byRefusal && silence < this.#o.deadAfterSilenceMs) return false
    const observers = this.#peers.size // every node but `id`: this one and the other peers
    const needed = Math.min(this.#o.confirmations, observers)
    let agree = 1
    if (this.#mutations.ignoreGossip === true) return agree >= needed
    for (const [otherId, other] of this.#peers) {
      if (otherId === id || other.gossip === undefined || other.status !== 'alive' || now - other.gossip.at > this.#o.gossipFreshMs) continue
      if ((byRefusal && silence < this.#o.deadAfterSilenceMs ? other.gossip.refused : other.gossip.suspects).includes(id)) agree++
    }
    return agree >= needed
  }

  #addPeer (id: string, now: number): void {
    const size = this.#o.historySize
    const p: Peer = { status: 'alive', incarnation: 0, lastArrival: now, refusedAt: undefined, heard: false, intervals: new Float64Array(size), count: 0, next: 0, sum: 0, sumSquares: 0, gossip: undefined }
    // Prior: two samples one interval apart, so phi is defined before the first heartbeat.
    this.#sample(p, this.#o.heartbeatIntervalMs)
    this.#sample(p, this.#o.heartbeatIntervalMs)
    this.#peers.set(id, p)
  }

  #sample (p: Peer, gap: number): void {
    if (p.count === p.intervals.length) {
      const old = p.intervals[p.next]!
      p.sum -= old
      p.sumSquares -= old * old
    } else p.count++
    p.intervals[p.next] = gap
    p.next = (p.next + 1) % p.intervals.length
    p.sum += gap
    p.sumSquares += gap * gap
  }
}

/** -log10 of the probability that a normal(mean, sd) gap is longer than `t` (logistic approximation of the CDF, as Akka's). */
export function phiOf (t: number, mean: number, sd: number): number {
  const y = (t - mean) / sd
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y))
  if (t > mean) return -Math.log10(e / (1 + e))
  return -Math.log10(1 - 1 / (1 + e))
}

/**
 * The node's one observation point: RaftNode hands every trace event (role, commit, apply,
 * snapshot, install, config, failed) to a NodeObserver, which turns it into
 *  - log lines on the `logger` option (state transitions only, never one per entry),
 *  - gauges through the node's metrics (role, term, commit/applied index, lag, leader changes),
 *  - node:diagnostics_channel messages (util/diagnostics.ts), built only with subscribers.
 *
 * Hot path: commit and apply events arrive once per Ready. For them the observer does a few
 * comparisons, reuses its labels objects, skips unchanged gauges, reads `hasSubscribers`, and
 * logs nothing; replication lag (which needs the core's progress table) is refreshed at most
 * once per REPLICATION_LAG_EVERY_MS of the node's clock.
 */
import type { Channel } from 'node:diagnostics_channel'
import type { QuorateError } from '../errors.js'
import type { ProgressStatus } from '../raft/raft.js'
import type { NodeId } from '../raft/types.js'
import type { Role } from '../raft/ready.js'
import type { Clock } from '../util/clock.js'
import { DIAGNOSTICS_CHANNELS, quorateChannel } from '../util/diagnostics.js'
import type { Logger } from '../util/logger.js'
import { childLogger, silentLogger } from '../util/logger.js'
import type { GaugeLabels, NodeMetrics } from './metrics.js'

/** Replication lag gauges are refreshed at most this often (node clock milliseconds). */
export const REPLICATION_LAG_EVERY_MS = 1000

const ROLES: readonly Role[] = ['follower', 'candidate', 'leader']

/** What the node tells the observer: a trace event without node and time. */
export interface ObservedEvent {
  readonly kind: 'role' | 'commit' | 'apply' | 'persist' | 'failed' | 'config' | 'snapshot' | 'install'
  readonly role?: Role
  readonly term?: number
  readonly leader?: NodeId | null
  readonly index?: number
}

/** The leader's view of its followers, read only for the replication lag gauges. */
export interface ReplicationView {
  readonly role: Role
  readonly lastIndex: number
  readonly progress: Readonly<Record<NodeId, ProgressStatus>> | null
}

export interface NodeObserverParts {
  readonly id: NodeId
  /** @default silent */
  readonly logger: Logger | undefined
  readonly metrics: NodeMetrics
  readonly clock: Clock
  readonly replication: () => ReplicationView | null
  readonly failure: () => QuorateError | null
}

/** The channels, looked up once per process. */
const channels: Readonly<Record<'election' | 'commit' | 'snapshot' | 'config' | 'failed', Channel>> = {
  election: quorateChannel(DIAGNOSTICS_CHANNELS.election),
  commit: quorateChannel(DIAGNOSTICS_CHANNELS.commit),
  snapshot: quorateChannel(DIAGNOSTICS_CHANNELS.snapshot),
  config: quorateChannel(DIAGNOSTICS_CHANNELS.config),
  failed: quorateChannel(DIAGNOSTICS_CHANNELS.failed)
}

export class NodeObserver {
  readonly #id: NodeId
  readonly #log: Logger
  readonly #metrics: NodeMetrics
  readonly #clock: Clock
  readonly #replication: () => ReplicationView | null
  readonly #failure: () => QuorateError | null
  readonly #labels: GaugeLabels
  readonly #roleLabels: ReadonlyMap<Role, GaugeLabels>
  readonly #peerLabels = new Map<NodeId, GaugeLabels>()
  #role: Role | null = null
  #term = -1
  #leader: NodeId | null = null
  #leaderChanges = 0
  #commit = 0
  #applied = 0
  #lagCheckedAt = Number.NEGATIVE_INFINITY

  constructor (parts: NodeObserverParts) {
    this.#id = parts.id
    this.#log = parts.logger === undefined ? silentLogger : childLogger(parts.logger, { node: parts.id })
    this.#metrics = parts.metrics
    this.#clock = parts.clock
    this.#replication = parts.replication
    this.#failure = parts.failure
    this.#labels = Object.freeze({ node: parts.id })
    this.#roleLabels = new Map(ROLES.map((role) => [role, Object.freeze({ node: parts.id, role })]))
  }

  note (e: ObservedEvent): void {
    switch (e.kind) {
      case 'role': this.#onRole(e.role!, e.term!, e.leader ?? null); break
      case 'commit': this.#onCommit(e.index!); break
      case 'apply': this.#onApply(e.index!); break
      case 'snapshot': this.#onSnapshot(e.kind, e.index!, e.term); break
      case 'install':
        // An installed snapshot moves the applied index without an 'apply' event; the gauge
        // moves first, so whoever hears of the install reads the index it installed.
        if (e.index! > this.#applied) this.#onApply(e.index!)
        this.#onSnapshot(e.kind, e.index!, e.term)
        break
      case 'config': this.#onConfig(e.index!); break
      case 'failed': this.#onFailed(); break
      case 'persist': break
    }
  }

  #onRole (role: Role, term: number, leader: NodeId | null): void {
    const previousRole = this.#role
    const previousLeader = this.#leader
    this.#role = role
    this.#leader = leader
    if (role !== previousRole) {
      for (const r of ROLES) this.#metrics.gauge('role', r === role ? 1 : 0, this.#roleLabels.get(r)!)
      if (role === 'leader') this.#log.info({ term }, 'became leader')
      else if (role === 'candidate') this.#log.debug({ term }, 'started an election')
      else if (previousRole === 'leader') this.#log.info({ term, leader }, 'stepped down')
    }
    if (term !== this.#term) {
      this.#term = term
      this.#metrics.gauge('term', term, this.#labels)
    }
    if (leader !== previousLeader) {
      this.#leaderChanges++
      this.#metrics.gauge('leaderChanges', this.#leaderChanges, this.#labels)
      if (leader === null) this.#log.info({ term, previous: previousLeader }, 'no leader known')
      else if (leader !== this.#id) this.#log.info({ term, leader }, 'following a new leader')
    }
    const ch = channels.election
    if (ch.hasSubscribers) ch.publish({ node: this.#id, at: this.#clock.now(), role, term, leader })
  }

  #onCommit (index: number): void {
    this.#commit = index
    this.#metrics.gauge('commitIndex', index, this.#labels)
    this.#metrics.gauge('applyLag', Math.max(0, index - this.#applied), this.#labels)
    if (this.#role === 'leader') this.#refreshReplicationLag()
    const ch = channels.commit
    if (ch.hasSubscribers) ch.publish({ node: this.#id, at: this.#clock.now(), index })
  }

  #onApply (index: number): void {
    this.#applied = index
    this.#metrics.gauge('appliedIndex', index, this.#labels)
    this.#metrics.gauge('applyLag', Math.max(0, this.#commit - index), this.#labels)
  }

  #onSnapshot (kind: 'snapshot' | 'install', index: number, term: number | undefined): void {
    const what = kind === 'snapshot' ? 'taken' : 'installed'
    this.#log.info({ index, ...(term === undefined ? {} : { term }) }, `snapshot ${what}`)
    const ch = channels.snapshot
    if (ch.hasSubscribers) ch.publish({ node: this.#id, at: this.#clock.now(), kind: what, index, ...(term === undefined ? {} : { term }) })
  }

  #onConfig (index: number): void {
    this.#log.info({ index }, 'configuration entry applied')
    const ch = channels.config
    if (ch.hasSubscribers) ch.publish({ node: this.#id, at: this.#clock.now(), index })
  }

  #onFailed (): void {
    const error = this.#failure()
    this.#log.error({ err: error }, 'node stopped on a fatal error')
    const ch = channels.failed
    if (ch.hasSubscribers) ch.publish({ node: this.#id, at: this.#clock.now(), error })
  }

  /** On the leader, at most once per REPLICATION_LAG_EVERY_MS: lastIndex - match per follower. */
  #refreshReplicationLag (): void {
    const now = this.#clock.now()
    if (now - this.#lagCheckedAt < REPLICATION_LAG_EVERY_MS) return
    this.#lagCheckedAt = now
    const view = this.#replication()
    if (view === null || view.role !== 'leader' || view.progress === null) return
    for (const [peer, p] of Object.entries(view.progress)) {
      if (peer === this.#id) continue
      let labels = this.#peerLabels.get(peer)
      if (labels === undefined) this.#peerLabels.set(peer, labels = Object.freeze({ node: this.#id, peer }))
      this.#metrics.gauge('replicationLag', Math.max(0, view.lastIndex - p.match), labels)
    }
  }
}

/**
 * Raft's safety properties (Figure 3 of the paper) plus the node shell's own promises,
 * checked while a simulation runs: after every step (`afterStep`), on every message a node
 * sends (`observeSend`), on every apply (`observeApply`) and on every acknowledged proposal
 * (`observeAck`).
 *
 * Logs are compared through chain fingerprints: the fingerprint of the entry at index i is a
 * hash of (fingerprint at i - 1, index, term, type, data), so two logs with the same
 * fingerprint at i hold the same entries through i. Each node's view is updated incrementally
 * (logs change only at their tail), which keeps the per-step cost independent of log length.
 */
import type { Entry, Message, NodeId } from '../../raft/types.js'
import type { RaftCore } from '../../raft/raft.js'
import type { CrashStorage } from '../crash-storage.js'
import { fnv1a } from './trace.js'

export type CheckerName =
  | 'election-safety'
  | 'leader-append-only'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'commit-monotonic'
  | 'leader-commit-rule'
  | 'acknowledged-lost'
  | 'durability'
  | 'removed-leader'
  | 'promise-settle'
  | 'oversized-proposal'

export interface Violation {
  readonly checker: CheckerName
  /** Virtual time at which it was found. */
  readonly at: number
  readonly node: NodeId | null
  readonly message: string
}

/** What the checker reads of a live node after each step. */
export interface ObservedNode {
  readonly id: NodeId
  /** The node's core, or null while it is down. */
  readonly core: RaftCore | null
}

interface NodeView {
  /** refs[i]: the entry object at index i when last seen; chains[i]: its fingerprint. */
  refs: Array<Entry | undefined>
  chains: number[]
  commitSeen: boolean
  committed: number
  role: string
  term: number
  leaderTerm: number
  leaderLast: number
  leaderLastRef: Entry | undefined
  /** Command fingerprints applied by this incarnation, by index. */
  applied: number[]
  lastApplied: number
  /**
   * Indexes up to here reached this incarnation's state machine through a snapshot (restored
   * at start or installed), not through applies; -1 until the first apply or install.
   */
  floor: number
  /** Whether this incarnation applied a configuration in which it is no voter (after one in which it was). */
  removedSelf: boolean
  wasVoter: boolean
}

function newView (): NodeView {
  return { refs: [undefined], chains: [0], commitSeen: false, committed: 0, role: '', term: 0, leaderTerm: -1, leaderLast: 0, leaderLastRef: undefined, applied: [], lastApplied: 0, floor: -1, removedSelf: false, wasVoter: false }
}

const TYPE_CODES: Record<string, number> = { command: 1, noop: 2, config: 3 }

/** Fingerprint of `e` following a prefix whose fingerprint is `prev`. */
function chain (prev: number, e: Entry): number {
  let h = Math.imul(prev ^ 0x9e3779b9, 0x85ebca6b) >>> 0
  h = Math.imul(h ^ e.index, 0xc2b2ae35) >>> 0
  h = Math.imul(h ^ e.term, 0x27d4eb2f) >>> 0
  h = Math.imul(h ^ (TYPE_CODES[e.type] ?? 0), 0x165667b1) >>> 0
  return fnv1a(e.data, h)
}

/** A fingerprint of a command's bytes (for applies and acknowledgements). */
export function commandFingerprint (command: Uint8Array): number {
  return fnv1a(command)
}

export class SafetyChecker {
  readonly violations: Violation[] = []
  readonly #now: () => number
  readonly #views = new Map<NodeId, NodeView>()
  /** term -> the node that led it (seen in node state or on the wire). */
  readonly #leaders = new Map<number, NodeId>()
  /** `${index}/${term}` -> fingerprint of the log through that entry. */
  readonly #fingerprints = new Map<string, number>()
  /** index -> fingerprint / observer term of a committed entry. */
  readonly #committedChain: number[] = []
  readonly #committedTerm: number[] = []
  /** index -> command fingerprint of the first apply seen at that index. */
  readonly #applied: number[] = []
  readonly #acks = new Map<number, number>()
  /** index -> hash of the state machine snapshot taken or installed at that index. */
  readonly #snapshots = new Map<number, number>()
  readonly #onViolation: ((v: Violation) => void) | undefined

  constructor (options: { now: () => number, onViolation?: (v: Violation) => void }) {
    this.#now = options.now
    this.#onViolation = options.onViolation
  }

  /** A node (re)started: per-incarnation state (commit monotonicity, apply order) starts over. */
  startIncarnation (id: NodeId): void {
    this.#views.set(id, newView())
  }

  /** Acknowledged proposals and the index each landed at. */
  get acknowledged (): ReadonlyMap<number, number> { return this.#acks }

  /** A message leaves `id` (before the network sees it). */
  observeSend (id: NodeId, m: Message, storage: CrashStorage | null, core: RaftCore | null): void {
    if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
      this.#claimLeadership(m.term, id, 'on the wire')
    }
    if (storage === null) return
    if (m.type === 'voteResponse' && !m.reject) {
      // Figure 2: currentTerm and votedFor are persisted before responding to RPCs.
      const h = storage.durableHardState
      if (h.term < m.term || (h.term === m.term && h.vote !== m.to)) {
        this.#violate('durability', id, `granted its vote in term ${m.term} to ${m.to} while its durable hard state is term ${h.term}, vote ${String(h.vote)}`)
      }
    } else if (m.type === 'appendResponse' && !m.reject && m.index > 0 && core !== null && m.index > core.log.snapshotIndex) {
      const durable = storage.durableTerm(m.index)
      const inMemory = core.log.term(m.index)
      if (durable < 0 || (inMemory >= 0 && durable !== inMemory)) {
        this.#violate('durability', id, `acknowledged entries through ${m.index} (term ${inMemory}) that are not durable (durable term ${durable})`)
      }
    }
  }

  /** `id`'s state machine applies `command` at `index`. */
  observeApply (id: NodeId, index: number, command: Uint8Array): void {
    const v = this.#view(id)
    const fp = commandFingerprint(command)
    // The first apply of an incarnation follows whatever its restored snapshot covered.
    if (v.floor < 0) v.floor = index - 1
    if (index <= v.lastApplied) {
      this.#violate('state-machine-safety', id, `applied index ${index} after index ${v.lastApplied}`)
    }
    v.lastApplied = index
    v.applied[index] = fp
    const first = this.#applied[index]
    if (first === undefined) this.#applied[index] = fp
    else if (first !== fp) this.#violate('state-machine-safety', id, `applied a different command at index ${index} than another node did`)
    const ack = this.#acks.get(index)
    if (ack !== undefined && ack !== fp) this.#violate('acknowledged-lost', id, `applied another command at index ${index}, where an acknowledged proposal landed`)
  }

  /**
   * `id` took (`installed` false) or installed a snapshot at `index` whose bytes hash to
   * `hash`: every snapshot of one index must hold the same state. An installed snapshot stands
   * for the applies up to its index.
   */
  observeSnapshot (id: NodeId, index: number, hash: number, installed: boolean): void {
    const known = this.#snapshots.get(index)
    if (known === undefined) this.#snapshots.set(index, hash)
    else if (known !== hash) this.#violate('state-machine-safety', id, `${installed ? 'installed' : 'took'} a snapshot at index ${index} whose state differs from another snapshot of that index`)
    if (!installed) return
    const v = this.#view(id)
    v.floor = Math.max(v.floor, index)
    v.lastApplied = Math.max(v.lastApplied, index)
  }

  /** A client was told its proposal committed at `index`. */
  observeAck (index: number, command: Uint8Array): void {
    const fp = commandFingerprint(command)
    this.#acks.set(index, fp)
    for (const [id, v] of this.#views) {
      const applied = v.applied[index]
      if (applied !== undefined && applied !== fp) this.#violate('acknowledged-lost', id, `holds another command at index ${index}, where an acknowledged proposal landed`)
    }
  }

  /** Checks every node's state after one step of the simulation. */
  afterStep (nodes: Iterable<ObservedNode>): void {
    for (const n of nodes) {
      if (n.core === null) continue
      const v = this.#view(n.id)
      const before = v.commitSeen ? v.committed : -1
      this.#updateLog(n.id, v, n.core)
      this.#checkCommit(n.id, v, n.core)
      this.#checkCommitRule(n.id, v, n.core, before)
      this.#checkMembership(n.id, v, n.core)
      this.#checkLeader(n.id, v, n.core)
      v.role = n.core.role
      v.term = n.core.term
    }
  }

  /** End of run: every acknowledged proposal is in every node's applied sequence at its index. */
  finish (): void {
    for (const [index, fp] of this.#acks) {
      for (const [id, v] of this.#views) {
        if (v.lastApplied >= index && index > v.floor && v.applied[index] !== fp) {
          this.#violate('acknowledged-lost', id, `applied through ${v.lastApplied} without the acknowledged proposal at index ${index}`)
        }
      }
    }
  }

  #view (id: NodeId): NodeView {
    let v = this.#views.get(id)
    if (v === undefined) this.#views.set(id, v = newView())
    return v
  }

  #claimLeadership (term: number, id: NodeId, where: string): void {
    const known = this.#leaders.get(term)
    if (known === undefined) this.#leaders.set(term, id)
    else if (known !== id) this.#violate('election-safety', id, `acts as leader of term ${term} ${where}, which ${known} already leads`)
  }

  #updateLog (id: NodeId, v: NodeView, core: RaftCore): void {
    const log = core.log
    const first = log.snapshotIndex + 1
    const last = log.lastIndex()
    let k = Math.min(last, v.refs.length - 1)
    while (k >= first && log.entry(k) !== v.refs[k]) k--
    if (k < first) {
      k = first - 1
      // The log starts after a snapshot: its prefix is committed, so its fingerprint is known.
      v.chains[k] = k === 0 ? 0 : (this.#committedChain[k] ?? v.chains[k] ?? (k * 0x9e3779b1 + log.snapshotTerm) >>> 0)
    }
    if (v.refs.length !== k + 1) {
      v.refs.length = k + 1
      v.chains.length = k + 1
    }
    for (let i = k + 1; i <= last; i++) {
      const e = log.entry(i)!
      const fp = chain(v.chains[i - 1]!, e)
      v.refs[i] = e
      v.chains[i] = fp
      const key = `${i}/${e.term}`
      const known = this.#fingerprints.get(key)
      if (known === undefined) this.#fingerprints.set(key, fp)
      else if (known !== fp) this.#violate('log-matching', id, `holds an entry at index ${i}, term ${e.term} whose preceding log differs from another node's`)
    }
  }

  #checkCommit (id: NodeId, v: NodeView, core: RaftCore): void {
    const c = core.log.committed
    if (v.commitSeen && c < v.committed) {
      this.#violate('commit-monotonic', id, `commit index went back from ${v.committed} to ${c}`)
    }
    const from = v.commitSeen ? v.committed + 1 : core.log.snapshotIndex + 1
    for (let i = Math.max(from, core.log.snapshotIndex + 1); i <= c; i++) {
      const fp = v.chains[i]
      if (fp === undefined) break
      const known = this.#committedChain[i]
      if (known === undefined) {
        this.#committedChain[i] = fp
        this.#committedTerm[i] = core.term
      } else if (known !== fp) {
        this.#violate('state-machine-safety', id, `committed a different entry at index ${i} than another node did`)
      }
    }
    v.commitSeen = true
    v.committed = c
  }

  /**
   * Figure 2's commit rule (§5.4.2): a leader moves its commit index only to an entry of its
   * own term; earlier entries commit with it, never by counting their replicas (Figure 8).
   */
  #checkCommitRule (id: NodeId, v: NodeView, core: RaftCore, before: number): void {
    const c = core.log.committed
    if (before < 0 || c <= before || core.role !== 'leader' || v.role !== 'leader' || v.term !== core.term) return
    const t = core.log.term(c)
    if (t >= 0 && t !== core.term) {
      this.#violate('leader-commit-rule', id, `as leader of term ${core.term} advanced its commit index to ${c}, an entry of term ${t}`)
    }
  }

  #checkLeader (id: NodeId, v: NodeView, core: RaftCore): void {
    if (core.role !== 'leader') {
      v.leaderTerm = -1
      return
    }
    const term = core.term
    const log = core.log
    this.#claimLeadership(term, id, 'in its state')
    if (v.leaderTerm === term) {
      // Leader Append-Only: within its term a leader never overwrites or deletes entries.
      if (log.lastIndex() < v.leaderLast || (v.leaderLast > log.snapshotIndex && log.entry(v.leaderLast) !== v.leaderLastRef)) {
        this.#violate('leader-append-only', id, `as leader of term ${term} removed or replaced its entry at index ${v.leaderLast}`)
      }
    } else {
      this.#checkCompleteness(id, v, core)
    }
    v.leaderTerm = term
    v.leaderLast = log.lastIndex()
    v.leaderLastRef = log.entry(v.leaderLast)
  }

  /**
   * A node that applied its own removal never leads again (thesis §4.2.2: it steps down and
   * does not campaign). Configurations apply in log order, so a node whose applied
   * configuration stops listing it as a voter (in either half) knows its removal committed.
   *
   * Why not "never leads a term after its removal committed": configurations take effect when
   * applied here (as in etcd-io/raft), so a removed voter that has not learned that its removal
   * committed can still win an election under the configuration it knows; its log then holds
   * the removal (Leader Completeness), it commits it and steps down. Election Safety and Leader
   * Completeness keep that safe.
   */
  #checkMembership (id: NodeId, v: NodeView, core: RaftCore): void {
    const c = core.config
    const voter = c.voters.includes(id) || c.votersOutgoing.includes(id)
    if (voter) v.wasVoter = true
    else if (v.wasVoter) v.removedSelf = true
    if (core.role === 'leader' && v.removedSelf) {
      this.#violate('removed-leader', id, `is leader of term ${core.term} after applying its own removal`)
    }
  }

  /** Leader Completeness: a new leader of term T holds every entry committed before T. */
  #checkCompleteness (id: NodeId, v: NodeView, core: RaftCore): void {
    const term = core.term
    let i = this.#committedChain.length - 1
    while (i > 0 && !(this.#committedTerm[i]! < term)) i--
    if (i <= core.log.snapshotIndex) return
    if (i > core.log.lastIndex() || v.chains[i] !== this.#committedChain[i]) {
      this.#violate('leader-completeness', id, `became leader of term ${term} without the entry committed at index ${i} (log ends at ${core.log.lastIndex()})`)
    }
  }

  /** Records a finding of a checker kept in its own module (settle-checker.ts). */
  report (checker: CheckerName, node: NodeId | null, message: string): void {
    this.#violate(checker, node, message)
  }

  #violate (checker: CheckerName, node: NodeId | null, message: string): void {
    const v: Violation = { checker, at: this.#now(), node, message }
    this.violations.push(v)
    this.#onViolation?.(v)
  }
}

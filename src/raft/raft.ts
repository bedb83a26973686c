/**
 * The pure Raft core: a synchronous state machine with no I/O, no timers and no clocks.
 *
 * Inputs: `tick()` (one unit of logical time), `step(message)`, `propose(...)`,
 * `readIndex(...)`, `transferLeadership(...)`. Output: a `Ready` batch taken with `ready()`
 * and acknowledged with `advance()` (see ready.ts for the processing order).
 *
 * Section numbers refer to the Raft paper (Ongaro & Ousterhout, 2014) and, as "thesis",
 * to Ongaro's dissertation (2014). The structure follows etcd-io/raft.
 */
import type { ClusterConfig, Entry, EntryType, HardState, Message, MessageType, NodeId, SnapshotChunk, SnapshotMeta } from './types.js'
import { EMPTY_BYTES, entrySize, message } from './types.js'
import type { ForwardResult, ReadState, Ready, Role, SoftState } from './ready.js'
import { RaftLog } from './log.js'
import { Progress } from './progress.js'
import { jointCommitted, jointQuorumActive, jointVoteResult } from './quorum.js'
import type { RaftOptions, ResolvedRaftOptions } from './options.js'
import { resolveRaftOptions } from './options.js'
import { QuorateError, isQuorateError } from '../errors.js'
import type { StoredState } from './types.js'
import { randomInt } from '../util/random.js'
import type { ConfigChange } from './confchange.js'
import { applyConfigChange, checkConfigChangeShape, encodeConfigChange, isMember } from './confchange.js'
import type { RaftMutations } from './test-hooks.js'
import { mutationsOf, truncateIgnoringCommit } from './test-hooks.js'

/** vote requests carry this context when a leadership transfer forces the election (thesis §3.10). */
const CONTEXT_TRANSFER = 1
/** Forwarded batches a leader remembers (per term) to answer duplicates: far more than arrive within a message's lifetime. */
const MAX_REMEMBERED_FORWARDS = 16_384
/**
 * `index` of a refused proposeResponse: 0 when the refusing node is sure it never appended the
 * batch (it led the forward's term in this incarnation and remembers every forward it took
 * then), this value when an earlier copy may have been appended.
 */
const FORWARD_MAYBE_APPENDED = 1

export interface ProposalPosition {
  /** Index of the first proposed entry; the batch occupies consecutive indexes. */
  readonly index: number
  readonly term: number
}

export interface ProgressStatus {
  readonly match: number
  readonly next: number
  readonly state: string
  readonly inflight: number
  readonly recentActive: boolean
}

export interface CoreStatus extends SoftState {
  readonly id: NodeId
  readonly vote: NodeId | null
  readonly commitIndex: number
  readonly appliedIndex: number
  readonly lastIndex: number
  readonly lastTerm: number
  readonly durableIndex: number
  readonly voters: readonly NodeId[]
  readonly learners: readonly NodeId[]
  readonly transferee: NodeId | null
  readonly progress: Readonly<Record<NodeId, ProgressStatus>> | null
}

interface PendingRead {
  readonly context: number
  readonly index: number
  /** Heartbeat round that must be acknowledged by a quorum. */
  readonly round: number
  /** Follower that asked through the leader (answer with readIndexResponse), or null if local. */
  readonly requester: NodeId | null
}

export class RaftCore {
  readonly id: NodeId
  readonly #opts: ResolvedRaftOptions
  readonly log: RaftLog
  /** Test-only switches (test-hooks.ts); empty outside the simulator's mutation check. */
  readonly #mutations: RaftMutations

  #term: number
  #vote: NodeId | null
  #role: Role = 'follower'
  #leader: NodeId | null = null
  #voters: NodeId[]
  #votersOutgoing: NodeId[] = []
  #learners: NodeId[]

  #electionElapsed = 0
  #heartbeatElapsed = 0
  #randomizedElectionTimeout = 0
  #votes = new Map<NodeId, boolean>()
  #progress = new Map<NodeId, Progress>()
  #transferee: NodeId | null = null
  #matchScratch: number[] = []
  #appendPending = false

  // ReadIndex state (thesis §6.4).
  #readRound = 0
  #ackedRound = new Map<NodeId, number>()
  /** Tick at which each recent heartbeat round was sent (ring of 256). */
  readonly #roundSentTick = new Float64Array(256)
  #tickCount = 0
  /** Lease-based reads (thesis §6.4.1): tick at which the latest quorum-acknowledged round was sent, -1 if none. */
  #leaseStart = -1
  #leaseRound = 0
  #pendingReads: PendingRead[] = []
  /** Reads that arrived before the leader committed an entry of its term. */
  #readsAwaitingCommit: Array<{ context: number, requester: NodeId | null }> = []

  // Outputs accumulated for the next Ready.
  #early: Message[] = []
  #msgs: Message[] = []
  #readStates: ReadState[] = []
  #forwarded: ForwardResult[] = []
  /**
   * Forwarded batches this leader appended in its current term, by sender and context. The
   * transport may duplicate a message: a copy is answered with the same position instead of
   * being appended (and applied) twice. Bounded: the oldest are forgotten first.
   */
  readonly #acceptedForwards = new Map<string, ProposalPosition>()
  /** The term #acceptedForwards is about (the last this node led in this incarnation), and whether it overflowed. */
  #forwardsTerm = -1
  #forgotForwards = false
  #snapshotChunksIn: Message[] = []
  #snapshotAcks: Message[] = []
  #snapshotTargets: NodeId[] = []

  /** Leader: index of the latest configuration entry in its log (at most one is unapplied). */
  #pendingConfIndex = 0
  /** Highest index the driver confirmed applied (advance()). */
  #appliedConfirmed: number
  #prevHard: HardState
  #prevSoft: SoftState

  constructor (options: RaftOptions, stored: StoredState = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] }) {
    this.#opts = resolveRaftOptions(options)
    this.id = this.#opts.id
    this.#mutations = mutationsOf(options)
    const snap = stored.snapshot
    this.log = new RaftLog(stored.entries, snap?.index ?? 0, snap?.term ?? 0, stored.hardState.commit)
    this.#term = stored.hardState.term
    this.#vote = stored.hardState.vote
    if (snap !== null) {
      this.#voters = [...snap.config.voters]
      this.#votersOutgoing = [...snap.config.votersOutgoing]
      this.#learners = [...snap.config.learners]
    } else {
      this.#voters = [...this.#opts.voters]
      this.#learners = [...this.#opts.learners]
    }
    this.#appliedConfirmed = this.log.applied
    this.#prevHard = this.hardState()
    this.#resetRandomizedElectionTimeout()
    this.#prevSoft = this.softState()
  }

  // ---------------------------------------------------------------- queries

  get term (): number { return this.#term }
  get role (): Role { return this.#role }
  get leader (): NodeId | null { return this.#leader }
  get voters (): readonly NodeId[] { return this.#voters }

  /** The configuration in force (changes take effect when their entry is applied). */
  get config (): ClusterConfig {
    return { voters: this.#voters, votersOutgoing: this.#votersOutgoing, learners: this.#learners }
  }

  hardState (): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.log.committed }
  }

  softState (): SoftState {
    return { role: this.#role, leader: this.#leader, term: this.#term }
  }

  status (): CoreStatus {
    let progress: Record<NodeId, ProgressStatus> | null = null
    if (this.#role === 'leader') {
      progress = {}
      for (const [id, pr] of this.#progress) {
        progress[id] = { match: pr.match, next: pr.next, state: pr.state, inflight: pr.inflights.count, recentActive: pr.recentActive }
      }
    }
    return {
      id: this.id,
      ...this.softState(),
      vote: this.#vote,
      commitIndex: this.log.committed,
      appliedIndex: this.log.applied,
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      durableIndex: this.log.durable,
      voters: this.#voters,
      learners: this.#learners,
      transferee: this.#transferee,
      progress
    }
  }

  /** A node may campaign only if it is a voter (not a learner, not removed). */
  #promotable (): boolean {
    return this.#voters.includes(this.id) || this.#votersOutgoing.includes(this.id)
  }

  #isVoter (id: NodeId): boolean {
    return this.#voters.includes(id) || this.#votersOutgoing.includes(id)
  }

  /** Every other member (voters of both halves and learners). */
  #peers (): NodeId[] {
    const all = new Set<NodeId>([...this.#voters, ...this.#votersOutgoing, ...this.#learners])
    all.delete(this.id)
    return [...all]
  }

  // ---------------------------------------------------------------- time

  tick (): void {
    this.#tickCount++
    this.#electionElapsed++
    if (this.#role === 'leader') {
      this.#tickLeader()
      return
    }
    if (this.#promotable() && this.#electionElapsed >= this.#randomizedElectionTimeout) {
      this.#electionElapsed = 0
      this.#campaign(this.#opts.preVote ? 'preVote' : 'vote', false)
    }
  }

  #tickLeader (): void {
    this.#heartbeatElapsed++
    if (this.#electionElapsed >= this.#opts.electionTicks) {
      this.#electionElapsed = 0
      if (this.#opts.checkQuorum) {
        // CheckQuorum (thesis §6.2): step down unless a quorum was heard from in the last election timeout.
        const self = this.id
        const active = jointQuorumActive(this.#voters, this.#votersOutgoing, (id) => id === self || this.#progress.get(id)?.recentActive === true)
        for (const pr of this.#progress.values()) pr.recentActive = pr.id === self
        if (!active) {
          this.#becomeFollower(this.#term, null)
          return
        }
      }
      // A transfer that did not finish within an election timeout is abandoned (thesis §3.10).
      if (this.#transferee !== null) this.#transferee = null
    }
    if (this.#heartbeatElapsed >= this.#opts.heartbeatTicks) {
      this.#heartbeatElapsed = 0
      this.#broadcastHeartbeat()
    }
  }

  /** Starts an election now (PreVote first if enabled), as if the election timeout had elapsed. */
  campaign (): void {
    if (this.#role === 'leader' || !this.#promotable()) return
    this.#electionElapsed = 0
    this.#campaign(this.#opts.preVote ? 'preVote' : 'vote', false)
  }

  #resetRandomizedElectionTimeout (): void {
    this.#randomizedElectionTimeout = this.#opts.electionTicks + randomInt(this.#opts.random, 0, this.#opts.electionJitterTicks)
  }

  // ---------------------------------------------------------------- role changes

  #reset (term: number): void {
    if (this.#term !== term) {
      this.#term = term
      this.#vote = null
    }
    this.#leader = null
    this.#electionElapsed = 0
    this.#heartbeatElapsed = 0
    this.#resetRandomizedElectionTimeout()
    this.#votes.clear()
    this.#transferee = null
    this.#leaseStart = -1
    this.#failPendingReads()
  }

  #becomeFollower (term: number, leader: NodeId | null): void {
    this.#reset(term)
    this.#role = 'follower'
    this.#leader = leader
  }

  #becomePreCandidate (): void {
    // PreVote (thesis §9.6): neither the term nor the vote changes, so a node that cannot win
    // disturbs nobody.
    this.#votes.clear()
    this.#role = 'preCandidate'
    this.#leader = null
    this.#electionElapsed = 0
    this.#resetRandomizedElectionTimeout()
  }

  #becomeCandidate (): void {
    this.#reset(this.#term + 1)
    this.#vote = this.id
    this.#role = 'candidate'
  }

  #becomeLeader (): void {
    this.#reset(this.#term)
    this.#role = 'leader'
    this.#leader = this.id
    this.#acceptedForwards.clear()
    this.#forwardsTerm = this.#term
    this.#forgotForwards = false
    this.#progress.clear()
    this.#ackedRound.clear()
    const next = this.log.lastIndex() + 1
    for (const id of [this.id, ...this.#peers()]) {
      const pr = new Progress(id, next, this.#opts.maxInflightMessages, this.#opts.maxInflightBytes)
      pr.recentActive = true
      this.#progress.set(id, pr)
    }
    // Any configuration entry still unapplied in our log counts as pending (etcd-io/raft does the same).
    this.#pendingConfIndex = this.log.lastIndex()
    const self = this.#progress.get(this.id)!
    self.match = this.log.durable
    self.becomeReplicate()
    // §5.4.2 and §8: a no-op entry of the new term lets earlier entries commit and tells the
    // leader what is committed before it serves reads.
    this.#appendEntries([this.#newEntry('noop', EMPTY_BYTES)])
  }

  #campaign (kind: 'preVote' | 'vote', transfer: boolean): void {
    if (this.#hasUnappliedConfig()) {
      // A committed configuration change we have not applied may remove us or change the
      // quorum; campaigning under the old configuration could elect a second leader.
      return
    }
    let voteTerm: number
    if (kind === 'preVote') {
      this.#becomePreCandidate()
      voteTerm = this.#term + 1
    } else {
      this.#becomeCandidate()
      voteTerm = this.#term
    }
    this.#votes.set(this.id, true)
    if (this.#pollVotes()) return
    const lastIndex = this.log.lastIndex()
    const lastTerm = this.log.lastTerm()
    const ids = new Set<NodeId>([...this.#voters, ...this.#votersOutgoing])
    for (const to of ids) {
      if (to === this.id) continue
      this.#send(message({ type: kind, from: this.id, to, term: voteTerm, index: lastIndex, logTerm: lastTerm, context: transfer ? CONTEXT_TRANSFER : 0 }))
    }
  }

  #hasUnappliedConfig (): boolean {
    const hi = Math.min(this.log.committed, this.log.lastIndex())
    for (let i = Math.max(this.#appliedConfirmed, this.log.snapshotIndex) + 1; i <= hi; i++) {
      if (this.log.entry(i)?.type === 'config') return true
    }
    return false
  }

  /** Tallies votes; acts on a decided election. Returns true if the election ended. */
  #pollVotes (): boolean {
    const result = jointVoteResult(this.#voters, this.#votersOutgoing, this.#votes)
    if (result === 'pending') return false
    if (result === 'won') {
      if (this.#role === 'preCandidate') this.#campaign('vote', false)
      else this.#becomeLeader()
    } else {
      this.#becomeFollower(this.#term, null)
    }
    return true
  }

  // ---------------------------------------------------------------- messages in

  /**
   * Processes one message from another node. Malformed messages must be rejected by the
   * transport's decoder; this method trusts field types but not their values' plausibility.
   */
  step (m: Message): void {
    if (m.to !== this.id || m.from === this.id) return
    if (m.type === 'propose' || m.type === 'proposeResponse') {
      // Forwarded proposals are term-agnostic: the leader decides, whatever term the follower saw.
      this.#stepProposal(m)
      return
    }
    if (m.term > this.#term) {
      if ((m.type === 'vote' || m.type === 'preVote') && m.context !== CONTEXT_TRANSFER && this.#inLease()) {
        // CheckQuorum lease (thesis §4.2.3): we heard from a live leader within the election
        // timeout, so this candidate cannot be needed; ignore it without bumping our term.
        return
      }
      if (m.type === 'preVote') {
        // Never change our term for a pre-vote.
      } else if (m.type === 'preVoteResponse' && !m.reject) {
        // A granted pre-vote carries the future term we asked about.
      } else {
        const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot' || m.type === 'timeoutNow'
        const elapsed = this.#electionElapsed
        const timeout = this.#randomizedElectionTimeout
        this.#becomeFollower(m.term, fromLeader && m.type !== 'timeoutNow' ? m.from : null)
        if (!fromLeader) {
          // Seeing a higher term is no evidence of a live leader: keep the election timer
          // running (it restarts only if we grant the vote, §5.2). Restarting it here would line
          // up every receiver of one candidate's broadcast and prolong split votes.
          this.#electionElapsed = elapsed
          this.#randomizedElectionTimeout = timeout
        }
      }
    } else if (m.term < this.#term) {
      if ((this.#opts.checkQuorum || this.#opts.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
        // A stale leader (e.g. after a partition heals) learns our term and steps down; without
        // this, PreVote could keep it from ever hearing a higher term.
        this.#send(message({ type: 'appendResponse', from: this.id, to: m.from, term: this.#term }))
      } else if (m.type === 'preVote') {
        this.#send(message({ type: 'preVoteResponse', from: this.id, to: m.from, term: this.#term, reject: true }))
      }
      return
    }

    switch (m.type) {
      case 'vote':
      case 'preVote':
        this.#handleVoteRequest(m)
        return
      default:
        break
    }
    switch (this.#role) {
      case 'leader': this.#stepLeader(m); break
      case 'candidate':
      case 'preCandidate': this.#stepCandidate(m); break
      case 'follower': this.#stepFollower(m); break
    }
  }

  #inLease (): boolean {
    return this.#opts.checkQuorum && this.#leader !== null && this.#electionElapsed < this.#opts.electionTicks
  }

  #handleVoteRequest (m: Message): void {
    // §5.2: at most one vote per term (a repeated request from the same candidate is granted
    // again). A pre-vote for a future term may be granted freely: it changes no state.
    const canVote = this.#vote === m.from ||
      (this.#vote === null && this.#leader === null) ||
      (m.type === 'preVote' && m.term > this.#term)
    const upToDate = this.#mutations.skipUpToDateCheck === true || this.log.isUpToDate(m.index, m.logTerm)
    const respType: MessageType = m.type === 'vote' ? 'voteResponse' : 'preVoteResponse'
    // Whether we are a voter in our own configuration does not matter: only the candidate's
    // configuration counts our vote (as in etcd-io/raft). An outgoing voter that applied the
    // end of a joint change must still vote, or the incoming voters that have not yet learned
    // that it committed (still joint, needing an outgoing majority) can never elect a leader.
    if (canVote && upToDate) {
      this.#send(message({ type: respType, from: this.id, to: m.from, term: m.term }))
      if (m.type === 'vote') {
        this.#electionElapsed = 0
        this.#vote = m.from
      }
    } else {
      this.#send(message({ type: respType, from: this.id, to: m.from, term: this.#term, reject: true }))
    }
  }

  #stepCandidate (m: Message): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        // §5.2: a candidate that hears from a leader of its own term returns to follower.
        this.#becomeFollower(m.term, m.from)
        this.#stepFollower(m)
        return
      case 'voteResponse':
      case 'preVoteResponse': {
        const mine = this.#role === 'candidate' ? 'voteResponse' : 'preVoteResponse'
        if (m.type !== mine) return
        this.#votes.set(m.from, !m.reject)
        this.#pollVotes()
        return
      }
      case 'timeoutNow':
        return
      default:
    }
  }

  #stepFollower (m: Message): void {
    switch (m.type) {
      case 'append':
        this.#electionElapsed = 0
        this.#leader = m.from
        this.#handleAppend(m)
        return
      case 'heartbeat':
        this.#electionElapsed = 0
        this.#leader = m.from
        this.log.commitTo(Math.min(m.commit, this.log.lastIndex()))
        this.#send(message({ type: 'heartbeatResponse', from: this.id, to: m.from, term: this.#term, context: m.context }))
        return
      case 'timeoutNow':
        // Leadership transfer (thesis §3.10): campaign at once, skipping PreVote and the lease.
        if (this.#promotable()) this.#campaign('vote', true)
        return
      case 'readIndexResponse':
        this.#readStates.push({ context: m.context, index: m.reject ? -1 : m.index })
        return
      case 'snapshot':
        this.#electionElapsed = 0
        this.#leader = m.from
        if (m.snapshot !== null) this.#snapshotChunksIn.push(m)
        return
      default:
    }
  }

  #handleAppend (m: Message): void {
    if (m.index < this.log.committed) {
      // Everything up to our commit index is known to match; tell the leader so.
      this.#send(message({ type: 'appendResponse', from: this.id, to: m.from, term: this.#term, index: this.log.committed }))
      return
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.entries)
    if (lastNew >= 0 && this.#mutations.truncateSuffixOnAppend === true && lastNew < this.log.lastIndex()) {
      truncateIgnoringCommit(this.log, lastNew + 1)
    }
    if (lastNew >= 0) {
      this.log.commitTo(Math.min(m.commit, lastNew))
      this.#send(message({ type: 'appendResponse', from: this.id, to: m.from, term: this.#term, index: lastNew }))
      return
    }
    // §5.3 with fast backup: suggest the largest index <= prevIndex whose term is <= the
    // leader's prevTerm, and that index's term, so the leader skips a whole term per round trip.
    const hintIndex = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm)
    const hintTerm = this.log.term(hintIndex)
    this.#send(message({ type: 'appendResponse', from: this.id, to: m.from, term: this.#term, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm < 0 ? 0 : hintTerm }))
  }

  #stepLeader (m: Message): void {
    const pr = this.#progress.get(m.from)
    switch (m.type) {
      case 'appendResponse':
        if (pr === undefined) return
        pr.recentActive = true
        if (m.reject) this.#handleAppendReject(pr, m)
        else this.#handleAppendSuccess(pr, m)
        return
      case 'heartbeatResponse':
        if (pr === undefined) return
        pr.recentActive = true
        pr.probeSent = false
        // A full window whose acknowledgements were lost would stall forever: free one slot.
        if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst()
        // A lagging follower gets an append even if empty: if it lost earlier appends it rejects
        // this one and the leader backs up (probe), instead of waiting for the next proposal.
        if (pr.match < this.log.lastIndex()) this.#sendAppend(pr, true)
        if (m.context > 0) this.#ackRound(m.from, m.context)
        return
      case 'readIndex':
        // A node we do not replicate to (removed) would never apply the read index: refuse.
        if (pr === undefined) this.#failRead(m.context, m.from)
        else this.#handleReadRequest(m.context, m.from)
        return
      case 'snapshotResponse':
        if (pr === undefined) return
        pr.recentActive = true
        this.#snapshotAcks.push(m)
        return
      default:
    }
  }

  #handleAppendReject (pr: Progress, m: Message): void {
    let next = m.rejectHint
    if (m.logTerm > 0) next = this.log.findConflictByTerm(m.rejectHint, m.logTerm)
    if (pr.maybeDecrease(m.index, next)) {
      if (pr.state === 'replicate') pr.becomeProbe()
      this.#sendAppend(pr, true)
    }
  }

  #handleAppendSuccess (pr: Progress, m: Message): void {
    const wasPaused = pr.isPaused()
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && !pr.isPaused()) this.#sendAppend(pr, false)
      return
    }
    if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      // The follower installed the snapshot; replicate from right after it.
      pr.becomeProbe()
      pr.becomeReplicate()
    } else if (pr.state === 'probe') pr.becomeReplicate()
    else if (pr.state === 'replicate') pr.inflights.freeLE(m.index)
    if (this.#maybeCommit()) this.#appendPending = true
    // Keep the pipeline full.
    while (this.#sendAppend(pr, false)) { /* send until paused or caught up */ }
    if (pr.id === this.#transferee && pr.match === this.log.lastIndex()) {
      this.#send(message({ type: 'timeoutNow', from: this.id, to: pr.id, term: this.#term }))
    }
  }

  // ---------------------------------------------------------------- replication out

  /**
   * Sends an append to `pr` if it is not paused. With `sendIfEmpty` false, an append carrying
   * no entries is only sent to tell the follower about a newer commit index.
   */
  #sendAppend (pr: Progress, sendIfEmpty: boolean): boolean {
    if (pr.id === this.id || pr.isPaused()) return false
    const prevIndex = pr.next - 1
    const prevTerm = this.log.term(prevIndex)
    if (prevTerm < 0) {
      // The entries this follower needs were compacted into a snapshot; the node shell
      // streams the snapshot (InstallSnapshot) when it sees the progress in snapshot state.
      pr.becomeSnapshot(this.log.snapshotIndex)
      this.#snapshotTargets.push(pr.id)
      return false
    }
    const entries = this.log.slice(pr.next, Number.MAX_SAFE_INTEGER, this.#opts.maxMessageBytes)
    const commit = this.log.committed
    if (entries.length === 0 && !sendIfEmpty && pr.state === 'replicate' && pr.sentCommit >= commit) return false
    let bytes = 0
    for (let i = 0; i < entries.length; i++) bytes += entrySize(entries[i]!)
    this.#send(message({ type: 'append', from: this.id, to: pr.id, term: this.#term, index: prevIndex, logTerm: prevTerm, entries, commit }))
    pr.sentCommit = commit
    pr.sentEntries(entries.length > 0 ? entries[entries.length - 1]!.index : prevIndex, entries.length, bytes)
    return entries.length > 0
  }

  #flushAppends (): void {
    if (!this.#appendPending) return
    this.#appendPending = false
    if (this.#role !== 'leader') return
    for (const pr of this.#progress.values()) {
      while (this.#sendAppend(pr, false)) { /* fill the window */ }
    }
  }

  /** Sends a heartbeat round; its number comes back in the responses (ReadIndex and leases). */
  #broadcastHeartbeat (): number {
    const context = ++this.#readRound
    this.#roundSentTick[context & 255] = this.#tickCount
    for (const pr of this.#progress.values()) {
      if (pr.id === this.id) continue
      // Never tell a follower a commit index beyond what it is known to have (it may not have the entries).
      const commit = Math.min(pr.match, this.log.committed)
      this.#send(message({ type: 'heartbeat', from: this.id, to: pr.id, term: this.#term, commit, context }))
    }
    return context
  }

  /**
   * §5.3/§5.4.2: the commit index is the largest index replicated on a quorum, and only an
   * entry of the current term commits by counting replicas (Figure 8); earlier entries commit
   * with it by the Log Matching Property.
   */
  #maybeCommit (): boolean {
    const idx = jointCommitted(this.#voters, this.#votersOutgoing, (id) => this.#progress.get(id)?.match ?? 0, this.#matchScratch)
    if (idx <= this.log.committed) return false
    if (this.log.term(idx) !== this.#term && this.#mutations.commitOldTerm !== true) return false
    const firstCommitOfTerm = this.log.term(this.log.committed) !== this.#term
    this.log.commitTo(idx)
    if (firstCommitOfTerm) this.#releaseReadsAwaitingCommit()
    return true
  }

  #newEntry (type: EntryType, data: Uint8Array): Entry {
    return { term: this.#term, index: 0, type, data }
  }

  /** Leader: assigns indexes and appends; replication happens at the next flush (batching). */
  #appendEntries (entries: Entry[]): number {
    let index = this.log.lastIndex()
    const first = index + 1
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      entries[i] = { term: this.#term, index: ++index, type: e.type, data: e.data }
    }
    this.log.append(entries)
    this.#appendPending = true
    if (this.#voters.length === 1 && this.#votersOutgoing.length === 0) this.#maybeCommit()
    return first
  }

  // ---------------------------------------------------------------- proposals

  /**
   * Appends commands to the log (leader only). Returns where the batch landed; the node shell
   * resolves each proposal when the entry at its index is applied with the same term.
   * Throws RAFT_NOT_LEADER (err.info.leader), RAFT_TRANSFER_IN_PROGRESS or RAFT_PROPOSAL_TOO_LARGE.
   */
  propose (commands: readonly Uint8Array[], type: EntryType = 'command'): ProposalPosition {
    if (this.#role !== 'leader') {
      throw new QuorateError('RAFT_NOT_LEADER', `node ${this.id} is not the leader`, { details: { leader: this.#leader } })
    }
    if (this.#transferee !== null) {
      throw new QuorateError('RAFT_TRANSFER_IN_PROGRESS', `leadership is being transferred to ${this.#transferee}`, { details: { transferee: this.#transferee } })
    }
    const entries: Entry[] = new Array(commands.length)
    for (let i = 0; i < commands.length; i++) {
      const data = commands[i]!
      this.checkProposalSize(data)
      entries[i] = { term: this.#term, index: 0, type, data }
    }
    const index = this.#appendEntries(entries)
    return { index, term: this.#term }
  }

  /**
   * Throws RAFT_PROPOSAL_TOO_LARGE if `data` exceeds maxProposalBytes. The node shell checks
   * each proposal with it before batching, so one oversized proposal fails alone: `propose`
   * refuses a batch holding one as a whole.
   */
  checkProposalSize (data: Uint8Array): void {
    if (data.byteLength > this.#opts.maxProposalBytes) {
      throw new QuorateError('RAFT_PROPOSAL_TOO_LARGE', `proposal of ${data.byteLength} bytes exceeds maxProposalBytes ${this.#opts.maxProposalBytes}`, { details: { bytes: data.byteLength, maxProposalBytes: this.#opts.maxProposalBytes } })
    }
  }

  /**
   * Follower: sends a batch of commands to the leader. The answer appears in a later
   * `Ready.forwarded` with the same `context`. Throws RAFT_NOT_LEADER if no leader is known.
   */
  forward (commands: readonly Uint8Array[], context: number): void {
    if (this.#leader === null || this.#leader === this.id) {
      throw new QuorateError('RAFT_NOT_LEADER', `node ${this.id} knows no leader to forward to`, { details: { leader: null } })
    }
    const entries: Entry[] = commands.map((data) => ({ term: 0, index: 0, type: 'command' as const, data }))
    this.#send(message({ type: 'propose', from: this.id, to: this.#leader, term: this.#term, entries, context }))
  }

  get forwardProposals (): boolean { return this.#opts.forwardProposals }

  #stepProposal (m: Message): void {
    if (m.type === 'proposeResponse') {
      const maybeAppended = m.reject && m.index === FORWARD_MAYBE_APPENDED
      this.#forwarded.push({ context: m.context, index: m.reject ? 0 : m.index, term: m.logTerm, rejected: m.reject, maybeAppended, leader: this.#leader })
      return
    }
    // A copy of a forward this node appended while it led (it may have stepped down since)
    // gets the same answer again: the batch is appended once, whatever the network repeats.
    const key = `${m.from}/${m.context}`
    let pos = this.#acceptedForwards.get(key)
    if (pos === undefined) {
      // Only forwards of this leader's own term are taken: its memory of what it accepted
      // covers one term.
      if (this.#role !== 'leader' || this.#transferee !== null || m.term !== this.#term || m.entries.length === 0 ||
          m.entries.some((e) => e.data.byteLength > this.#opts.maxProposalBytes || e.type !== 'command')) {
        // A forward of term T can only have been appended by T's leader; unless that is this
        // node in this incarnation, remembering all it took, an earlier copy may have been.
        const sure = this.#forwardsTerm === m.term && !this.#forgotForwards
        this.#send(message({ type: 'proposeResponse', from: this.id, to: m.from, term: this.#term, context: m.context, reject: true, index: sure ? 0 : FORWARD_MAYBE_APPENDED }))
        return
      }
      pos = this.propose(m.entries.map((e) => e.data))
      this.#acceptedForwards.set(key, pos)
      if (this.#acceptedForwards.size > MAX_REMEMBERED_FORWARDS) {
        this.#acceptedForwards.delete(this.#acceptedForwards.keys().next().value!)
        this.#forgotForwards = true
      }
    }
    this.#send(message({ type: 'proposeResponse', from: this.id, to: m.from, term: this.#term, context: m.context, index: pos.index, logTerm: pos.term }))
  }

  // ---------------------------------------------------------------- reads (thesis §6.4)

  /**
   * Asks for a linearizable read point. The answer is a `ReadState` in a later Ready: once the
   * node has applied `index`, reading local state is linearizable. On a follower the request
   * goes to the leader. Throws RAFT_NOT_LEADER if no leader is known.
   */
  readIndex (context: number): void {
    if (!isMember(this.config, this.id)) {
      // A removed node gets no more entries: it could never apply up to a read index.
      throw new QuorateError('RAFT_NOT_MEMBER', `node ${this.id} is not a member of the configuration`)
    }
    if (this.#role === 'leader') {
      this.#handleReadRequest(context, null)
      return
    }
    if (this.#leader === null) {
      throw new QuorateError('RAFT_NOT_LEADER', `node ${this.id} knows no leader to read through`, { details: { leader: null } })
    }
    this.#send(message({ type: 'readIndex', from: this.id, to: this.#leader, term: this.#term, context }))
  }

  #handleReadRequest (context: number, requester: NodeId | null): void {
    if (this.#role !== 'leader' || (requester !== null && !isMember(this.config, requester))) {
      if (requester !== null) this.#send(message({ type: 'readIndexResponse', from: this.id, to: requester, term: this.#term, context, reject: true }))
      return
    }
    if (this.log.term(this.log.committed) !== this.#term) {
      // A new leader does not know the commit index until it commits an entry of its term.
      this.#readsAwaitingCommit.push({ context, requester })
      return
    }
    this.#startRead(context, requester)
  }

  #startRead (context: number, requester: NodeId | null): void {
    const index = this.log.committed
    if (this.#voters.length === 1 && this.#votersOutgoing.length === 0) {
      this.#answerRead({ context, index, round: 0, requester })
      return
    }
    if (this.#opts.readMode === 'lease' && this.#leaseValid()) {
      this.#answerRead({ context, index, round: 0, requester })
      return
    }
    // One heartbeat round confirms every read queued before it.
    const round = this.#broadcastHeartbeat()
    this.#pendingReads.push({ context, index, round, requester })
  }

  /**
   * A leader lease (thesis §6.4.1) holds while no other node can have been elected: voters that
   * acknowledged a heartbeat ignore vote requests for electionTicks of their own clock after
   * receiving it (CheckQuorum). With clock rates within 1 ± maxClockDrift, that is at least
   * electionTicks * (1 - d) / (1 + d) of our ticks after we sent it; one tick of margin more.
   */
  #leaseValid (): boolean {
    if (this.#leaseStart < 0 || this.#transferee !== null) return false
    const d = this.#opts.maxClockDrift
    const leaseTicks = Math.floor(this.#opts.electionTicks * (1 - d) / (1 + d)) - 1
    return this.#tickCount - this.#leaseStart < leaseTicks
  }

  #ackRound (from: NodeId, round: number): void {
    if (round > (this.#ackedRound.get(from) ?? 0)) this.#ackedRound.set(from, round)
    if (this.#opts.readMode === 'lease') {
      const self = this.id
      const quorumRound = jointCommitted(this.#voters, this.#votersOutgoing, (id) => id === self ? this.#readRound : this.#ackedRound.get(id) ?? 0)
      if (quorumRound > this.#leaseRound && this.#readRound - quorumRound < 256) {
        this.#leaseRound = quorumRound
        this.#leaseStart = this.#roundSentTick[quorumRound & 255]!
      }
    }
    let confirmed = 0
    while (confirmed < this.#pendingReads.length) {
      const r = this.#pendingReads[confirmed]!
      const self = this.id
      const ok = jointQuorumActive(this.#voters, this.#votersOutgoing, (id) => id === self || (this.#ackedRound.get(id) ?? 0) >= r.round)
      if (!ok) break
      this.#answerRead(r)
      confirmed++
    }
    if (confirmed > 0) this.#pendingReads.splice(0, confirmed)
  }

  #answerRead (r: PendingRead): void {
    if (r.requester === null) this.#readStates.push({ context: r.context, index: r.index })
    else this.#send(message({ type: 'readIndexResponse', from: this.id, to: r.requester, term: this.#term, context: r.context, index: r.index }))
  }

  #releaseReadsAwaitingCommit (): void {
    const waiting = this.#readsAwaitingCommit
    this.#readsAwaitingCommit = []
    for (const w of waiting) this.#startRead(w.context, w.requester)
  }

  #failPendingReads (): void {
    for (const r of this.#pendingReads) this.#failRead(r.context, r.requester)
    for (const r of this.#readsAwaitingCommit) this.#failRead(r.context, r.requester)
    this.#pendingReads = []
    this.#readsAwaitingCommit = []
  }

  #failRead (context: number, requester: NodeId | null): void {
    if (requester === null) this.#readStates.push({ context, index: -1 })
    else this.#send(message({ type: 'readIndexResponse', from: this.id, to: requester, term: this.#term, context, reject: true }))
  }

  // ---------------------------------------------------------------- leadership transfer

  /**
   * Hands leadership to `to` (or, if null, the most up-to-date voter): catch it up, then send
   * TimeoutNow (thesis §3.10). Proposals are refused meanwhile; the transfer is abandoned after
   * an election timeout. Throws RAFT_NOT_LEADER on a non-leader.
   */
  transferLeadership (to: NodeId | null): NodeId {
    if (this.#role !== 'leader') {
      throw new QuorateError('RAFT_NOT_LEADER', `node ${this.id} is not the leader`, { details: { leader: this.#leader } })
    }
    let target = to
    if (target === null) {
      let best = -1
      for (const pr of this.#progress.values()) {
        if (pr.id !== this.id && this.#isVoter(pr.id) && pr.match > best) { best = pr.match; target = pr.id }
      }
    }
    if (target === null || target === this.id || !this.#isVoter(target)) {
      throw new QuorateError('RAFT_NOT_MEMBER', `cannot transfer leadership to ${String(target)}: not another voter`, { details: { target } })
    }
    this.#transferee = target
    // TimeoutNow makes voters ignore their lease: ours ends now.
    this.#leaseStart = -1
    this.#electionElapsed = 0
    const pr = this.#progress.get(target)!
    if (pr.match === this.log.lastIndex()) this.#send(message({ type: 'timeoutNow', from: this.id, to: target, term: this.#term }))
    else this.#sendAppend(pr, true)
    return target
  }

  // ---------------------------------------------------------------- membership (thesis §4)

  /** Whether proposeConfigChange would get past its state checks now (the change itself aside). */
  canProposeConfigChange (): boolean {
    return this.#configChangeBlocked() === null
  }

  /** Why a configuration change cannot be proposed now, or null if it can. */
  #configChangeBlocked (): QuorateError | null {
    if (this.#role !== 'leader') {
      return new QuorateError('RAFT_NOT_LEADER', `node ${this.id} is not the leader`, { details: { leader: this.#leader } })
    }
    if (this.#pendingConfIndex > this.#appliedConfirmed) {
      return new QuorateError('RAFT_CONFIG_PENDING', `a configuration change at index ${this.#pendingConfIndex} is not applied yet`)
    }
    if (this.log.term(this.log.committed) !== this.#term) {
      return new QuorateError('RAFT_CONFIG_PENDING', 'the leader has not yet committed an entry of its term')
    }
    return null
  }

  /**
   * Proposes a configuration change (leader only). Throws RAFT_CONFIG_PENDING while another
   * change is unapplied or before the leader committed an entry of its term (thesis §4.1 bug
   * fix: a new leader must commit in its term before changing the configuration), and
   * RAFT_CONFIG_INVALID for a change that makes no sense against the current configuration.
   */
  proposeConfigChange (change: ConfigChange): ProposalPosition {
    checkConfigChangeShape(change)
    const blocked = this.#configChangeBlocked()
    if (blocked !== null) throw blocked
    applyConfigChange(this.config, change) // validates; throws RAFT_CONFIG_INVALID
    const pos = this.propose([encodeConfigChange(change)], 'config')
    this.#pendingConfIndex = pos.index
    return pos
  }

  /**
   * Applies a committed configuration change. The driver calls this when it applies a
   * `config` entry, in log order, so every node switches at the same point of the log.
   * Returns the new configuration.
   */
  applyConfigChange (change: ConfigChange): ClusterConfig {
    let next: ClusterConfig
    try {
      next = applyConfigChange(this.config, change)
    } catch (err) {
      // A change validated by the proposer can still be moot here (e.g. proposed twice across a
      // leader change); every node reaches the same verdict, so ignoring it keeps them agreed.
      // Anything but that verdict is a bug and must not be mistaken for it.
      if (!isQuorateError(err, 'RAFT_CONFIG_INVALID')) throw err
      return this.config
    }
    this.#voters = [...next.voters]
    this.#votersOutgoing = [...next.votersOutgoing]
    this.#learners = [...next.learners]
    if (this.#role === 'leader') {
      const last = this.log.lastIndex()
      for (const id of [...this.#voters, ...this.#votersOutgoing, ...this.#learners]) {
        if (!this.#progress.has(id)) {
          const pr = new Progress(id, last + 1, this.#opts.maxInflightMessages, this.#opts.maxInflightBytes)
          pr.recentActive = true
          this.#progress.set(id, pr)
        }
      }
      for (const id of [...this.#progress.keys()]) if (!isMember(next, id) && id !== this.id) this.#progress.delete(id)
      if (!isMember(next, this.id) || (!this.#voters.includes(this.id) && !this.#votersOutgoing.includes(this.id))) {
        // Removed (or demoted): hand over to the most up-to-date voter, then step down.
        let best: Progress | undefined
        for (const pr of this.#progress.values()) if (pr.id !== this.id && this.#voters.includes(pr.id) && (best === undefined || pr.match > best.match)) best = pr
        if (best !== undefined && best.match === this.log.lastIndex()) this.#send(message({ type: 'timeoutNow', from: this.id, to: best.id, term: this.#term }))
        this.#becomeFollower(this.#term, null)
        return this.config
      }
      if (this.#maybeCommit()) this.#appendPending = true
      this.#appendPending = true
    }
    return this.config
  }

  // ---------------------------------------------------------------- snapshots (§7)

  /**
   * Drops in-memory entries up to `index` (the driver has stored a snapshot covering them).
   * Only applied entries may be compacted.
   */
  compact (index: number): void {
    const upTo = Math.min(index, this.#appliedConfirmed, this.log.durable)
    if (upTo <= this.log.snapshotIndex) return
    this.log.compact(upTo, this.log.term(upTo))
  }

  /** Leader: sends one snapshot chunk to a follower that is in snapshot state. Returns false if it is not. */
  sendSnapshotChunk (to: NodeId, chunk: SnapshotChunk): boolean {
    const pr = this.#progress.get(to)
    if (this.#role !== 'leader' || pr === undefined || pr.state !== 'snapshot') return false
    this.#early.push(message({ type: 'snapshot', from: this.id, to, term: this.#term, snapshot: chunk, index: chunk.meta.index, logTerm: chunk.meta.term }))
    return true
  }

  /** Leader: the snapshot transfer to `to` failed; probe again (which restarts it if still needed). */
  snapshotFailed (to: NodeId): void {
    const pr = this.#progress.get(to)
    if (pr?.state === 'snapshot') pr.becomeProbe()
  }

  /** Follower: acknowledges snapshot bytes received so far (the leader resumes from `received`). */
  ackSnapshot (to: NodeId, snapshotIndex: number, received: number): void {
    this.#send(message({ type: 'snapshotResponse', from: this.id, to, term: this.#term, index: snapshotIndex, context: received }))
  }

  /** Follower: a snapshot the leader is sending is covered by our commit index; report it instead. */
  snapshotNotNeeded (leader: NodeId): void {
    this.#send(message({ type: 'appendResponse', from: this.id, to: leader, term: this.#term, index: this.log.committed }))
  }

  /** Whether a received snapshot is still worth installing (it covers more than we have committed). */
  wantsSnapshot (meta: SnapshotMeta): boolean {
    return meta.index > this.log.committed
  }

  /**
   * Follower: the driver has durably stored the snapshot and restored the state machine from
   * it. The log restarts after it (keeping our entries if they match it, §7), and the leader is
   * told where we are.
   */
  installSnapshot (meta: SnapshotMeta, leader: NodeId): void {
    const log = this.log
    if (meta.index <= log.committed) return
    log.installSnapshot(meta.index, meta.term)
    this.#appliedConfirmed = meta.index
    this.#voters = [...meta.config.voters]
    this.#votersOutgoing = [...meta.config.votersOutgoing]
    this.#learners = [...meta.config.learners]
    this.#send(message({ type: 'appendResponse', from: this.id, to: leader, term: this.#term, index: log.lastIndex() }))
  }

  // ---------------------------------------------------------------- output

  #send (m: Message): void {
    if (this.#role === 'leader' && (m.type === 'append' || m.type === 'heartbeat')) this.#early.push(m)
    else this.#msgs.push(m)
  }

  hasReady (): boolean {
    this.#flushAppends()
    if (this.#early.length > 0 || this.#msgs.length > 0) return true
    if (this.log.handed < this.log.lastIndex() || this.log.truncateFrom !== 0) return true
    if (this.log.hasToApply()) return true
    if (this.#readStates.length > 0 || this.#forwarded.length > 0) return true
    if (this.#snapshotChunksIn.length > 0 || this.#snapshotAcks.length > 0 || this.#snapshotTargets.length > 0) return true
    const h = this.#prevHard
    if (h.term !== this.#term || h.vote !== this.#vote || h.commit !== this.log.committed) return true
    const s = this.#prevSoft
    return s.role !== this.#role || s.leader !== this.#leader || s.term !== this.#term
  }

  /**
   * Leader: takes the appends and heartbeats ready to go without a full Ready (they never
   * depend on this node's pending writes, thesis §10.2.1). Lets the driver replicate new
   * proposals while a Ready is still being persisted.
   */
  takeEarlyMessages (): Message[] {
    this.#flushAppends()
    const early = this.#early
    if (early.length > 0) this.#early = []
    return early
  }

  /** Takes the pending batch of work. Call again only after `advance()`. */
  ready (): Ready {
    this.#flushAppends()
    const h = this.#prevHard
    const hardChanged = h.term !== this.#term || h.vote !== this.#vote || h.commit !== this.log.committed
    const hardState = hardChanged ? this.hardState() : null
    const entries = this.log.unstable()
    const truncateFrom = this.log.truncateFrom
    const committed = this.log.toApply(this.#opts.maxApplyBytes)
    const rd: Ready = {
      hardState,
      truncateFrom,
      entries,
      mustSync: entries.length > 0 || truncateFrom !== 0 || h.term !== this.#term || h.vote !== this.#vote,
      earlyMessages: this.#early,
      messages: this.#msgs,
      committed,
      soft: this.softState(),
      readStates: this.#readStates,
      forwarded: this.#forwarded,
      snapshotChunks: this.#snapshotChunksIn,
      snapshotAcks: this.#snapshotAcks,
      snapshotTargets: this.#snapshotTargets
    }
    if (hardState !== null) this.#prevHard = hardState
    this.#prevSoft = rd.soft
    this.log.handOut()
    if (committed.length > 0) this.log.markApplying(committed[committed.length - 1]!.index)
    this.#early = []
    this.#msgs = []
    this.#readStates = []
    this.#forwarded = []
    this.#snapshotChunksIn = []
    this.#snapshotAcks = []
    this.#snapshotTargets = []
    return rd
  }

  /** Acknowledges that `rd` was processed: its entries are durable and its committed entries applied. */
  advance (rd: Ready): void {
    if (rd.committed.length > 0) this.#appliedConfirmed = Math.max(this.#appliedConfirmed, rd.committed[rd.committed.length - 1]!.index)
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!.index
      this.log.markDurable(last)
      if (this.#role === 'leader') {
        const self = this.#progress.get(this.id)
        if (self !== undefined && self.maybeUpdate(this.log.durable) && this.#maybeCommit()) this.#appendPending = true
      }
    }
  }
}

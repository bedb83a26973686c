/**
 * Options of the pure Raft core. Times are in ticks: the node shell turns `tickMs`
 * milliseconds of its clock into one `tick()`.
 */
import type { NodeId } from './types.js'
import type { Random } from '../util/random.js'
import { systemRandom } from '../util/random.js'
import { check, checkBool, checkInt, checkKnownKeys, checkMethods } from '../util/validate.js'

export const RAFT_DEFAULTS = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  maxInflightMessages: 256,
  maxInflightBytes: 32 * 1024 * 1024,
  maxMessageBytes: 1024 * 1024,
  maxApplyBytes: 16 * 1024 * 1024,
  maxProposalBytes: 8 * 1024 * 1024,
  forwardProposals: false,
  readMode: 'safe',
  maxClockDrift: 0.05
} as const

export interface RaftOptions {
  /** This node's id. Required. */
  id: NodeId
  /**
   * The voters of a brand-new cluster (including `id`). Ignored when storage already holds
   * a configuration (a snapshot or config entries). Required for a new cluster.
   */
  voters: readonly NodeId[]
  /** Learners (non-voting members) of a brand-new cluster. @default [] */
  learners?: readonly NodeId[]
  /**
   * A follower that hears nothing from a leader for a randomized timeout in
   * [electionTicks, electionTicks + electionJitterTicks) starts an election (§5.2).
   * @default 10
   */
  electionTicks?: number
  /** Width of the randomization window. @default electionTicks (so the window is [T, 2T)) */
  electionJitterTicks?: number
  /** The leader sends heartbeats every `heartbeatTicks`. Must be < electionTicks. @default 1 */
  heartbeatTicks?: number
  /**
   * PreVote (Raft thesis §9.6): a node first asks whether it could win before it bumps its
   * term, so a node that rejoins after a partition does not disrupt a healthy leader. @default true
   */
  preVote?: boolean
  /**
   * CheckQuorum (thesis §6.2): a leader that has not heard from a quorum within an election
   * timeout steps down, and a node that heard from a live leader within the timeout ignores
   * vote requests. @default true
   */
  checkQuorum?: boolean
  /** Most append messages in flight to one follower in replicate state. @default 256 */
  maxInflightMessages?: number
  /** Most entry bytes in flight to one follower (0 = no byte limit). @default 33554432 (32 MiB) */
  maxInflightBytes?: number
  /** Largest batch of entries in one append message (at least one entry is always sent). @default 1048576 */
  maxMessageBytes?: number
  /** Largest batch of committed entries handed out for applying at once. @default 16777216 */
  maxApplyBytes?: number
  /** Largest single proposal; larger ones fail with RAFT_PROPOSAL_TOO_LARGE. @default 8388608 */
  maxProposalBytes?: number
  /**
   * A follower that knows the leader forwards proposals to it instead of rejecting them
   * with RAFT_NOT_LEADER. @default false
   */
  forwardProposals?: boolean
  /**
   * How the leader confirms a linearizable read. `safe`: a heartbeat round acknowledged by a
   * quorum (ReadIndex, thesis §6.4). `lease`: no round trip while the leader holds a lease
   * (thesis §6.4.1) — faster, but correct only if every node's clock rate stays within
   * 1 ± maxClockDrift of true time and no process pause outlasts the lease; requires
   * checkQuorum. @default 'safe'
   */
  readMode?: 'safe' | 'lease'
  /** Bound on clock rate error assumed by lease reads (0.05 = 5%). @default 0.05 */
  maxClockDrift?: number
  /** Source of randomness for election timeouts. @default Math.random */
  random?: Random
}

/** Every key RaftOptions has (the `satisfies` keeps the list complete when a key is added). */
export const RAFT_OPTION_KEYS: readonly string[] = Object.keys({
  id: true, voters: true, learners: true, electionTicks: true, electionJitterTicks: true, heartbeatTicks: true,
  preVote: true, checkQuorum: true, maxInflightMessages: true, maxInflightBytes: true, maxMessageBytes: true,
  maxApplyBytes: true, maxProposalBytes: true, forwardProposals: true, readMode: true, maxClockDrift: true, random: true
} satisfies Record<keyof RaftOptions, true>)

/** The RaftOptions part of a larger options object (the node's), for the core. */
export function pickRaftOptions (options: RaftOptions): RaftOptions {
  const picked: Record<string, unknown> = {}
  for (const key of RAFT_OPTION_KEYS) {
    const value = (options as unknown as Record<string, unknown>)[key]
    if (value !== undefined) picked[key] = value
  }
  return picked as unknown as RaftOptions
}

export type ResolvedRaftOptions = Required<Omit<RaftOptions, 'learners'>> & { learners: readonly NodeId[] }

export function resolveRaftOptions (options: RaftOptions): ResolvedRaftOptions {
  const C = 'RaftOptions'
  check(typeof options === 'object' && options !== null, C, '(options)', 'an object', options)
  checkKnownKeys(options, C, RAFT_OPTION_KEYS)
  check(typeof options.id === 'string' && options.id.length > 0, C, 'id', 'a non-empty string', options.id)
  check(Array.isArray(options.voters), C, 'voters', 'an array of node ids', options.voters)
  const voters = options.voters
  check(voters.every((v) => typeof v === 'string' && v.length > 0), C, 'voters', 'non-empty strings', voters)
  // An empty set of voters never elects anyone: the node would wait forever.
  check(voters.length > 0, C, 'voters', 'at least one node id', voters)
  check(new Set(voters).size === voters.length, C, 'voters', 'free of duplicates', voters)
  const learners = options.learners ?? []
  check(Array.isArray(learners) && learners.every((v) => typeof v === 'string' && v.length > 0 && !voters.includes(v)), C, 'learners', 'node ids that are not voters', learners)
  const r: ResolvedRaftOptions = {
    id: options.id,
    voters,
    learners,
    electionTicks: options.electionTicks ?? RAFT_DEFAULTS.electionTicks,
    electionJitterTicks: options.electionJitterTicks ?? options.electionTicks ?? RAFT_DEFAULTS.electionTicks,
    heartbeatTicks: options.heartbeatTicks ?? RAFT_DEFAULTS.heartbeatTicks,
    preVote: options.preVote ?? RAFT_DEFAULTS.preVote,
    checkQuorum: options.checkQuorum ?? RAFT_DEFAULTS.checkQuorum,
    maxInflightMessages: options.maxInflightMessages ?? RAFT_DEFAULTS.maxInflightMessages,
    maxInflightBytes: options.maxInflightBytes ?? RAFT_DEFAULTS.maxInflightBytes,
    maxMessageBytes: options.maxMessageBytes ?? RAFT_DEFAULTS.maxMessageBytes,
    maxApplyBytes: options.maxApplyBytes ?? RAFT_DEFAULTS.maxApplyBytes,
    maxProposalBytes: options.maxProposalBytes ?? RAFT_DEFAULTS.maxProposalBytes,
    forwardProposals: options.forwardProposals ?? RAFT_DEFAULTS.forwardProposals,
    readMode: options.readMode ?? RAFT_DEFAULTS.readMode,
    maxClockDrift: options.maxClockDrift ?? RAFT_DEFAULTS.maxClockDrift,
    random: options.random ?? systemRandom
  }
  checkInt(r.electionTicks, C, 'electionTicks', 1)
  checkInt(r.electionJitterTicks, C, 'electionJitterTicks', 1)
  checkInt(r.heartbeatTicks, C, 'heartbeatTicks', 1)
  check(r.heartbeatTicks < r.electionTicks, C, 'heartbeatTicks', 'smaller than electionTicks', r.heartbeatTicks)
  checkInt(r.maxInflightMessages, C, 'maxInflightMessages', 1, 1 << 20)
  checkInt(r.maxInflightBytes, C, 'maxInflightBytes', 0)
  checkInt(r.maxMessageBytes, C, 'maxMessageBytes', 1)
  checkInt(r.maxApplyBytes, C, 'maxApplyBytes', 1)
  checkInt(r.maxProposalBytes, C, 'maxProposalBytes', 1)
  checkBool(r.preVote, C, 'preVote')
  checkBool(r.checkQuorum, C, 'checkQuorum')
  checkBool(r.forwardProposals, C, 'forwardProposals')
  checkMethods(r.random, C, 'random', 'a Random', ['next'])
  check(r.readMode === 'safe' || r.readMode === 'lease', C, 'readMode', "'safe' or 'lease'", r.readMode)
  check(typeof r.maxClockDrift === 'number' && r.maxClockDrift >= 0 && r.maxClockDrift < 1, C, 'maxClockDrift', 'a number in [0, 1)', r.maxClockDrift)
  check(r.readMode !== 'lease' || r.checkQuorum, C, 'readMode', "'safe' unless checkQuorum is on (a lease needs it)", r.readMode)
  check(r.readMode !== 'lease' || Math.floor(r.electionTicks * (1 - r.maxClockDrift) / (1 + r.maxClockDrift)) > 1, C, 'electionTicks', 'long enough to leave a lease of at least one tick under maxClockDrift', r.electionTicks)
  return r
}

/**
 * Configuration changes (Raft thesis §4.3, joint consensus), as pure functions that return a
 * new configuration instead of mutating one (like etcd-io/raft's confchange package).
 *
 * A change lists operations. Applying it to a non-joint configuration C_old:
 * - if it changes at most one voter, the result is C_new directly (a single-server change,
 *   thesis §4.1: any two majorities of C_old and C_new overlap);
 * - otherwise the result is the joint configuration C_old,new (voters = C_new, votersOutgoing =
 *   C_old) and decisions need majorities of both, until a `leaveJoint` change drops C_old.
 * Changes apply when their entry is applied (as etcd-io/raft does), and a leader has at most
 * one unapplied configuration change in its log.
 */
import type { ClusterConfig, NodeId } from './types.js'
import { QuorateError } from '../errors.js'

export type ConfigOperation =
  | { readonly type: 'addVoter', readonly id: NodeId }
  | { readonly type: 'addLearner', readonly id: NodeId }
  | { readonly type: 'remove', readonly id: NodeId }

export interface ConfigChange {
  readonly operations: readonly ConfigOperation[]
  /** Leave the joint configuration (operations must be empty). */
  readonly leaveJoint?: boolean
  /** Force joint consensus even for a single-voter change. @default false */
  readonly joint?: boolean
}

function invalid (message: string): QuorateError {
  return new QuorateError('RAFT_CONFIG_INVALID', message)
}

/** Throws RAFT_CONFIG_INVALID unless `change` is an object with an operations array (null, a string...). */
export function checkConfigChangeShape (change: unknown): asserts change is ConfigChange {
  const c = change as ConfigChange | null
  if (typeof c !== 'object' || c === null || !Array.isArray(c.operations)) {
    throw invalid('a configuration change must be an object with an operations array')
  }
}

export function isJoint (c: ClusterConfig): boolean { return c.votersOutgoing.length > 0 }

export function isMember (c: ClusterConfig, id: NodeId): boolean {
  return c.voters.includes(id) || c.votersOutgoing.includes(id) || c.learners.includes(id)
}

/** The configuration after `change`; throws RAFT_CONFIG_INVALID if it makes no sense. */
export function applyConfigChange (current: ClusterConfig, change: ConfigChange): ClusterConfig {
  checkConfigChangeShape(change)
  if (change.leaveJoint === true) {
    if (change.operations.length > 0) throw invalid('a leaveJoint change carries no operations')
    if (!isJoint(current)) throw invalid('not in a joint configuration')
    // Outgoing voters that are not incoming voters leave (or stay learners if they are learners).
    return { voters: current.voters, votersOutgoing: [], learners: current.learners }
  }
  if (isJoint(current)) throw invalid('leave the joint configuration before changing it again')
  if (change.operations.length === 0) throw invalid('a configuration change needs at least one operation')
  const voters = new Set(current.voters)
  const learners = new Set(current.learners)
  for (const op of change.operations) {
    if (typeof op?.id !== 'string' || op.id.length === 0) throw invalid('every operation needs a node id')
    switch (op.type) {
      case 'addVoter': learners.delete(op.id); voters.add(op.id); break
      case 'addLearner':
        if (voters.has(op.id)) throw invalid(`demoting voter ${op.id} to learner is not supported; remove it first`)
        learners.add(op.id)
        break
      case 'remove': voters.delete(op.id); learners.delete(op.id); break
      default: throw invalid(`unknown operation ${String((op as { type: unknown }).type)}`)
    }
  }
  if (voters.size === 0) throw invalid('a configuration needs at least one voter')
  const before = new Set(current.voters)
  let changed = 0
  for (const v of voters) if (!before.has(v)) changed++
  for (const v of before) if (!voters.has(v)) changed++
  const next = { voters: [...voters].sort(), learners: [...learners].sort() }
  if (changed <= 1 && change.joint !== true) return { ...next, votersOutgoing: [] }
  return { ...next, votersOutgoing: [...current.voters] }
}

export function encodeConfigChange (change: ConfigChange): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ o: change.operations.map((op) => [op.type, op.id]), l: change.leaveJoint === true, j: change.joint === true }))
}

/** Decodes a config entry; throws STORAGE_CORRUPT if it is not one we wrote. */
export function decodeConfigChange (data: Uint8Array): ConfigChange {
  try {
    const raw = JSON.parse(new TextDecoder().decode(data)) as { o: Array<[ConfigOperation['type'], NodeId]>, l: boolean, j: boolean }
    return { operations: raw.o.map(([type, id]) => ({ type, id })), leaveJoint: raw.l, joint: raw.j }
  } catch (err) {
    throw new QuorateError('STORAGE_CORRUPT', 'a configuration entry could not be decoded', { cause: err })
  }
}

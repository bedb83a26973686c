/**
 * Quorum arithmetic (src/raft/quorum.ts) and configuration changes (src/raft/confchange.ts)
 * checked against naive reference implementations written here from the definitions (count
 * the voters, try every candidate value) rather than from the code: seeded fast-check
 * properties over random configurations, and the golden tables in
 * test/raft/testdata/{quorum,confchange}-*.txt recomputed by the references.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { jointCommitted, jointQuorumActive, jointVoteResult, majorityCommitted, majorityVoteResult } from '../../src/raft/quorum.js'
import type { VoteResult } from '../../src/raft/quorum.js'
import { applyConfigChange } from '../../src/raft/confchange.js'
import type { ConfigChange } from '../../src/raft/confchange.js'
import type { ClusterConfig, NodeId } from '../../src/raft/types.js'
import { QuorateError } from '../../src/errors.js'
import { runFile } from './scenario/datadriven.js'
import { TableScenario } from './scenario/tables.js'

// ------------------------------------------------------------------ references

const isMajority = (k: number, n: number): boolean => 2 * k > n

/** The largest value v such that a majority matched at least v (every match value and 0 are candidates). */
function refMajorityCommitted (voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return Number.POSITIVE_INFINITY
  let best = 0
  for (const v of voters.map(matchOf)) {
    if (isMajority(voters.filter((id) => matchOf(id) >= v).length, voters.length)) best = Math.max(best, v)
  }
  return best
}

function refJointCommitted (incoming: readonly NodeId[], outgoing: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const v = Math.min(refMajorityCommitted(incoming, matchOf), refMajorityCommitted(outgoing, matchOf))
  return v === Number.POSITIVE_INFINITY ? 0 : v
}

/** Won if the granted votes are a majority, lost if even every missing vote could not make one. */
function refVoteResult (voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'won'
  const granted = voters.filter((id) => votes.get(id) === true).length
  const possible = voters.filter((id) => votes.get(id) !== false).length
  if (isMajority(granted, voters.length)) return 'won'
  return isMajority(possible, voters.length) ? 'pending' : 'lost'
}

function refJointVoteResult (incoming: readonly NodeId[], outgoing: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const halves = [refVoteResult(incoming, votes), refVoteResult(outgoing, votes)]
  if (halves.includes('lost')) return 'lost'
  return halves.every((h) => h === 'won') ? 'won' : 'pending'
}

function refQuorumActive (incoming: readonly NodeId[], outgoing: readonly NodeId[], isActive: (id: NodeId) => boolean): boolean {
  const half = (ids: readonly NodeId[]): boolean => ids.length === 0 || isMajority(ids.filter(isActive).length, ids.length)
  return half(incoming) && half(outgoing)
}

const invalid = (): QuorateError => new QuorateError('RAFT_CONFIG_INVALID', 'invalid (reference)')

/** Thesis §4.1/§4.3 as stated: one voter changed applies directly, more goes through C_old,new. */
function refApplyConfigChange (current: ClusterConfig, change: ConfigChange): ClusterConfig {
  const joint = current.votersOutgoing.length > 0
  if (change.leaveJoint === true) {
    if (change.operations.length > 0 || !joint) throw invalid()
    return { voters: current.voters, votersOutgoing: [], learners: current.learners }
  }
  if (joint || change.operations.length === 0) throw invalid()
  let voters = [...current.voters]
  let learners = [...current.learners]
  for (const op of change.operations) {
    if (op.id === '') throw invalid()
    if (op.type === 'addVoter') { learners = learners.filter((id) => id !== op.id); if (!voters.includes(op.id)) voters.push(op.id) }
    if (op.type === 'addLearner') { if (voters.includes(op.id)) throw invalid(); if (!learners.includes(op.id)) learners.push(op.id) }
    if (op.type === 'remove') { voters = voters.filter((id) => id !== op.id); learners = learners.filter((id) => id !== op.id) }
  }
  if (voters.length === 0) throw invalid()
  const changed = voters.filter((id) => !current.voters.includes(id)).length + current.voters.filter((id) => !voters.includes(id)).length
  const direct = changed <= 1 && change.joint !== true
  return { voters: voters.sort(), votersOutgoing: direct ? [] : [...current.voters], learners: learners.sort() }
}

// ------------------------------------------------------------------ arbitraries

const ID: fc.Arbitrary<NodeId> = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g')
const voterSet = fc.uniqueArray(ID, { maxLength: 7 })
const matchTable = fc.dictionary(ID, fc.nat({ max: 20 }))
const voteTable = fc.dictionary(ID, fc.boolean())

// ------------------------------------------------------------------ properties

test('majority and joint committed index agree with the reference for any voters and matches', () => {
  fc.assert(fc.property(voterSet, voterSet, matchTable, (incoming, outgoing, match) => {
    const matchOf = (id: NodeId): number => match[id] ?? 0
    assert.is(majorityCommitted(incoming, matchOf), refMajorityCommitted(incoming, matchOf))
    assert.is(jointCommitted(incoming, outgoing, matchOf), refJointCommitted(incoming, outgoing, matchOf))
  }), { seed: 1101, numRuns: 2000 })
})

test('majority and joint vote results agree with the reference for any votes received so far', () => {
  fc.assert(fc.property(voterSet, voterSet, voteTable, (incoming, outgoing, table) => {
    const votes = new Map(Object.entries(table))
    assert.is(majorityVoteResult(incoming, votes), refVoteResult(incoming, votes))
    assert.is(jointVoteResult(incoming, outgoing, votes), refJointVoteResult(incoming, outgoing, votes))
  }), { seed: 1102, numRuns: 2000 })
})

test('the active-quorum check agrees with the reference', () => {
  fc.assert(fc.property(voterSet, voterSet, fc.uniqueArray(ID), (incoming, outgoing, active) => {
    const isActive = (id: NodeId): boolean => active.includes(id)
    assert.is(jointQuorumActive(incoming, outgoing, isActive), refQuorumActive(incoming, outgoing, isActive))
  }), { seed: 1103, numRuns: 2000 })
})

test('a committed index is matched by a majority of each half, and no larger index is', () => {
  fc.assert(fc.property(voterSet.filter((v) => v.length > 0), voterSet, matchTable, (incoming, outgoing, match) => {
    const matchOf = (id: NodeId): number => match[id] ?? 0
    const c = jointCommitted(incoming, outgoing, matchOf)
    const heldBy = (v: number, ids: readonly NodeId[]): boolean => ids.length === 0 || isMajority(ids.filter((id) => matchOf(id) >= v).length, ids.length)
    assert.ok(heldBy(c, incoming) && heldBy(c, outgoing), `${c} is held by a majority of each half`)
    assert.not.ok(heldBy(c + 1, incoming) && heldBy(c + 1, outgoing), `${c + 1} is not`)
  }), { seed: 1104, numRuns: 1000 })
})

const operation = fc.oneof(
  fc.record({ type: fc.constant('addVoter' as const), id: ID }),
  fc.record({ type: fc.constant('addLearner' as const), id: ID }),
  fc.record({ type: fc.constant('remove' as const), id: ID })
)
const change: fc.Arbitrary<ConfigChange> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ operations: fc.array(operation, { maxLength: 4 }), joint: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ operations: [], leaveJoint: true }) }
)

/** The change's result, or the error code it fails with. */
function outcome (apply: (c: ClusterConfig, ch: ConfigChange) => ClusterConfig, config: ClusterConfig, ch: ConfigChange): ClusterConfig | string {
  try {
    return apply(config, ch)
  } catch (err) {
    if (err instanceof QuorateError) return err.code
    throw err
  }
}

test('configuration changes agree with the reference along random sequences, and keep their invariants', () => {
  const start = fc.uniqueArray(ID, { minLength: 1, maxLength: 5 }).map((voters) => ({ voters: voters.sort(), votersOutgoing: [], learners: [] }) as ClusterConfig)
  fc.assert(fc.property(start, fc.array(change, { maxLength: 12 }), (initial, changes) => {
    let config = initial
    for (const ch of changes) {
      const got = outcome(applyConfigChange, config, ch)
      assert.equal(got, outcome(refApplyConfigChange, config, ch), `${JSON.stringify(ch)} on ${JSON.stringify(config)}`)
      if (typeof got === 'string') { assert.is(got, 'RAFT_CONFIG_INVALID'); continue }
      assert.ok(got.voters.length > 0, 'at least one voter')
      assert.not.ok(got.learners.some((id) => got.voters.includes(id)), 'no learner is also a voter')
      if (got.votersOutgoing.length > 0) assert.equal(got.votersOutgoing, config.voters, 'joint keeps C_old as the outgoing half')
      config = got
    }
  }), { seed: 1105, numRuns: 1000 })
})

// ------------------------------------------------------------------ golden tables

test('every row of the quorum and configuration tables is what the naive references compute', () => {
  const dir = new URL('../../../test/raft/testdata/', import.meta.url).pathname
  const reference = { majorityCommitted: refMajorityCommitted, jointCommitted: refJointCommitted, jointVoteResult: refJointVoteResult, jointQuorumActive: refQuorumActive, applyConfigChange: refApplyConfigChange }
  // The references name no reason for a refusal: compare the error code only.
  const codesOnly = (text: string): string => text.replace(/^(error [A-Z_]+):.*$/gm, '$1')
  const files = readdirSync(dir).filter((f) => /^(quorum|confchange)-.*\.txt$/.test(f))
  assert.ok(files.length >= 4, 'the tables are there')
  for (const name of files) {
    const tables = new TableScenario(reference)
    const { actual, expected } = runFile(readFileSync(join(dir, name), 'utf8'), name, (c) => {
      const out = tables.run(c)
      if (out === null) throw new Error(`${c.command} is not a table command`)
      return out
    })
    assert.fixture(codesOnly(expected), codesOnly(actual), name)
  }
})

test.run()

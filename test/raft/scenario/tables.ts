/**
 * Table commands for quorum arithmetic (src/raft/quorum.ts) and configuration changes
 * (src/raft/confchange.ts): pure functions, so each input row gives one output line.
 *
 *   majority-committed | committed     rows: in=1,2,3 [out=3,4] match=1:5,2:3   (missing = 0)
 *   vote-result                        rows: in=.. [out=..] yes=1,2 no=3
 *   quorum-active                      rows: in=.. [out=..] active=1,2
 *   config voters=.. [outgoing=..] [learners=..]     sets the current configuration
 *   change [add=X] [learner=X] [remove=X] [joint] | change leave-joint
 *                                      applies one change: the new configuration, or the error
 */
import { jointCommitted, jointQuorumActive, jointVoteResult, majorityCommitted } from '../../../src/raft/quorum.js'
import { applyConfigChange } from '../../../src/raft/confchange.js'
import type { ConfigChange, ConfigOperation } from '../../../src/raft/confchange.js'
import type { ClusterConfig, NodeId } from '../../../src/raft/types.js'
import { Args, parseArgs } from './datadriven.js'
import type { Arg, Case } from './datadriven.js'
import { expectedError, formatConfig } from './format.js'

const OPERATION: Readonly<Record<string, ConfigOperation['type']>> = { add: 'addVoter', learner: 'addLearner', remove: 'remove' }

/** `add=X learner=Y remove=Z [joint]` (operations in the order written) or `leave-joint`. */
export function parseConfigChange (args: readonly Arg[]): ConfigChange {
  const operations: ConfigOperation[] = []
  let joint = false
  let leaveJoint = false
  for (const a of args) {
    if (a.value === null && a.key === 'joint') joint = true
    else if (a.value === null && a.key === 'leave-joint') leaveJoint = true
    else if (a.value !== null && OPERATION[a.key] !== undefined) operations.push({ type: OPERATION[a.key]!, id: a.value })
    else throw new Error(`unknown configuration argument ${a.key}`)
  }
  return { operations, joint, leaveJoint }
}

/** Parses `1:5,2:3` into a match function (ids not listed matched nothing). */
function matches (spec: readonly string[]): (id: NodeId) => number {
  const m = new Map(spec.map((kv) => {
    const [id, v] = kv.split(':')
    if (id === undefined || v === undefined || !/^\d+$/.test(v)) throw new Error(`bad match ${kv}: expected id:index`)
    return [id, Number(v)] as const
  }))
  return (id) => m.get(id) ?? 0
}

/** The functions under test; a test passes a naive reference instead to check the golden tables. */
export interface QuorumFunctions {
  majorityCommitted: typeof majorityCommitted
  jointCommitted: typeof jointCommitted
  jointVoteResult: typeof jointVoteResult
  jointQuorumActive: typeof jointQuorumActive
  applyConfigChange: typeof applyConfigChange
}

export const QUORUM_FUNCTIONS: QuorumFunctions = { majorityCommitted, jointCommitted, jointVoteResult, jointQuorumActive, applyConfigChange }

export class TableScenario {
  #config: ClusterConfig = { voters: [], votersOutgoing: [], learners: [] }
  readonly #f: QuorumFunctions

  constructor (functions: QuorumFunctions = QUORUM_FUNCTIONS) { this.#f = functions }

  /** The case's output, or null if `c` is not a table command. */
  run (c: Case): string | null {
    const args = new Args(c.args)
    switch (c.command) {
      case 'majority-committed': case 'committed': case 'vote-result': case 'quorum-active':
        args.done()
        return c.input.map((row) => this.#row(c.command, new Args(parseArgs(`row ${row}`).args))).join('\n')
      case 'config':
        this.#config = { voters: args.list('voters') ?? [], votersOutgoing: args.list('outgoing') ?? [], learners: args.list('learners') ?? [] }
        args.done()
        return formatConfig(this.#config)
      case 'change': return this.#change(args)
      default: return null
    }
  }

  #row (command: string, row: Args): string {
    const incoming = row.list('in') ?? []
    const outgoing = row.list('out') ?? []
    let result: string
    switch (command) {
      case 'majority-committed': {
        const v = this.#f.majorityCommitted(incoming, matches(row.list('match') ?? []))
        result = v === Number.POSITIVE_INFINITY ? 'inf' : String(v)
        break
      }
      case 'committed': result = String(this.#f.jointCommitted(incoming, outgoing, matches(row.list('match') ?? []))); break
      case 'vote-result': {
        const votes = new Map<NodeId, boolean>()
        for (const id of row.list('yes') ?? []) votes.set(id, true)
        for (const id of row.list('no') ?? []) votes.set(id, false)
        result = this.#f.jointVoteResult(incoming, outgoing, votes)
        break
      }
      default: {
        const active = new Set(row.list('active') ?? [])
        result = String(this.#f.jointQuorumActive(incoming, outgoing, (id) => active.has(id)))
      }
    }
    row.done()
    return result
  }

  #change (args: Args): string {
    const change = parseConfigChange(args.ordered())
    try {
      this.#config = this.#f.applyConfigChange(this.#config, change)
      return formatConfig(this.#config)
    } catch (err) {
      return expectedError(err)
    }
  }
}

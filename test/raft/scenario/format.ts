/**
 * Golden-text formatting of the core's messages, entries, configurations and status. One
 * line per thing, stable field order, only the fields a message type uses, so a golden
 * file reads like a trace. Entries print as `term/index type [payload]`, as etcd-io/raft's do.
 */
import type { ClusterConfig, Entry, Message } from '../../../src/raft/types.js'
import type { CoreStatus, RaftCore } from '../../../src/raft/raft.js'
import { decodeConfigChange } from '../../../src/raft/confchange.js'
import type { ConfigChange } from '../../../src/raft/confchange.js'
import { QuorateError } from '../../../src/errors.js'

/** `error CODE: message` for the errors a scenario expects; anything else is a runner failure. */
export function expectedError (err: unknown): string {
  if (err instanceof QuorateError) return `error ${err.code}: ${err.message}`
  throw err
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b)

export const ids = (xs: readonly string[]): string => `(${xs.join(' ')})`

export function formatChange (c: ConfigChange): string {
  if (c.leaveJoint === true) return 'leave-joint'
  const ops = c.operations.map((op) => `${op.type === 'addVoter' ? 'add' : op.type === 'addLearner' ? 'learner' : 'remove'}=${op.id}`)
  return [...ops, ...(c.joint === true ? ['joint'] : [])].join(' ')
}

export function formatEntry (e: Entry): string {
  const head = `${e.term}/${e.index} ${e.type}`
  if (e.type === 'command') return `${head} ${text(e.data)}`
  if (e.type === 'config') return `${head} ${formatChange(decodeConfigChange(e.data))}`
  return head
}

export function formatConfig (c: ClusterConfig): string {
  const out = `voters=${ids(c.voters)}`
  const outgoing = c.votersOutgoing.length > 0 ? ` outgoing=${ids(c.votersOutgoing)}` : ''
  const learners = c.learners.length > 0 ? ` learners=${ids(c.learners)}` : ''
  return out + outgoing + learners
}

function fields (m: Message): string {
  switch (m.type) {
    case 'append': return `prev=${m.logTerm}/${m.index} commit=${m.commit} entries=[${m.entries.map(formatEntry).join(', ')}]`
    case 'appendResponse': return m.reject ? `reject index=${m.index} hint=${m.logTerm}/${m.rejectHint}` : `index=${m.index}`
    case 'heartbeat': return `commit=${m.commit} round=${m.context}`
    case 'heartbeatResponse': return `round=${m.context}`
    case 'vote': case 'preVote': return `last=${m.logTerm}/${m.index}${m.context !== 0 ? ' transfer' : ''}`
    case 'voteResponse': case 'preVoteResponse': return m.reject ? 'rejected' : 'granted'
    case 'readIndex': case 'readIndexResponse': return `index=${m.index} ctx=${m.context}`
    default: return `index=${m.index} commit=${m.commit} ctx=${m.context}`
  }
}

export function formatMessage (m: Message): string {
  const rest = fields(m)
  return `${m.from}->${m.to} ${m.type} term=${m.term}${rest === '' ? '' : ` ${rest}`}`
}

/** Role, term and leader: the part of a node's state that every trace line reports. */
export function formatSoft (c: RaftCore): string {
  return `${c.role} term=${c.term} leader=${c.leader ?? '-'}`
}

export function formatStatus (s: CoreStatus, config: ClusterConfig): string[] {
  const lines = [`${s.id}: ${s.role} term=${s.term} leader=${s.leader ?? '-'} vote=${s.vote ?? '-'} commit=${s.commitIndex} applied=${s.appliedIndex} last=${s.lastTerm}/${s.lastIndex} ${formatConfig(config)}`]
  if (s.progress !== null) {
    for (const [id, p] of Object.entries(s.progress).sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`  ${id}: match=${p.match} next=${p.next} ${p.state}${p.inflight > 0 ? ` inflight=${p.inflight}` : ''}${p.recentActive ? '' : ' inactive'}`)
    }
  }
  return lines
}

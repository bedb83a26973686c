/**
 * ClusterView: what one node can tell about the whole cluster, as one JSON-serialisable
 * object (the `GET /view` route, the dashboard's stream, `quorate status`). Built by a pure
 * function from the node's own status, its peers' `/health` answers, the lease table and
 * the graph replica, so it is tested without sockets.
 *
 * What a node knows, and so what the view says: its own indexes exactly; a peer's role,
 * term and leader from its `/health` (null when it did not answer: `up: false`); a peer's
 * `match` and `lag` only when this node is the leader (its replication progress), else null.
 * The coordinator, leases, agents' nodes and instances, events and decisions are this
 * replica's (stale by at most its apply lag).
 */
import type { GraphStateMachine } from '../../graph/state-machine.js'
import type { LeaseRecord } from '../../lease/table.js'
import type { NodeStatus } from '../../node/node.js'
import type { Role } from '../../raft/ready.js'
import type { NodeId } from '../../raft/types.js'
import type { TcpAddress } from '../../transport/tcp.js'

/** A peer's `/health` body (http-endpoint.ts). */
export interface PeerHealth {
  readonly ok: boolean
  readonly id: NodeId
  readonly role: Role
  readonly term: number
  readonly leader: NodeId | null
  readonly lifecycle: string
}

export interface MemberView {
  readonly id: NodeId
  readonly client: TcpAddress
  /** The member answered (itself: its node is open). */
  readonly up: boolean
  readonly role: Role | null
  readonly term: number | null
  readonly leader: NodeId | null
  /** Known for the viewing node only. */
  readonly commitIndex: number | null
  readonly appliedIndex: number | null
  /** Highest log index known replicated on the member (leader's view only). */
  readonly match: number | null
  /** Leader's last index minus `match` (leader's view only). */
  readonly lag: number | null
}

export interface LeaseView { readonly name: string, readonly holder: string | null, readonly token: number, readonly durationMs: number }

export interface InstanceView {
  readonly id: string
  readonly state: string
  /** The node it runs on (the `ha.runs` edge), or null while unplaced. */
  readonly node: string | null
  readonly failures: number
}

export interface AgentNodeView {
  readonly id: string
  readonly kind: string
  readonly state: string
  readonly instances: readonly string[]
}

export interface DecisionView { readonly seq: number, readonly rule: string, readonly token: number, readonly note: string }

export interface EventView { readonly id: string, readonly index: number, readonly time: number, readonly bytes: number }

export interface GraphSummary {
  readonly appliedIndex: number
  readonly resources: number
  readonly edges: number
  /** The `ha.node` resources (what the agents report). */
  readonly nodes: readonly AgentNodeView[]
  readonly instances: readonly InstanceView[]
  /** The newest decision records, newest first. */
  readonly decisions: readonly DecisionView[]
  /** The newest queued events, newest first. */
  readonly events: readonly EventView[]
}

export interface ClusterView {
  /** The node that built the view. */
  readonly from: NodeId
  /** Wall-clock ms when it was built (not part of what "changed" means). */
  readonly at: number
  readonly leader: NodeId | null
  readonly term: number
  readonly members: readonly MemberView[]
  readonly leases: readonly LeaseView[]
  /** The acting coordinator (the `ha.epoch` record): its host and fencing token. */
  readonly coordinator: { readonly holder: string, readonly token: number, readonly seq: number } | null
  /** null when the node mounts no graph. */
  readonly graph: GraphSummary | null
}

export interface ViewInputs {
  readonly status: NodeStatus
  /** Every member's client address (the viewing node's included). */
  readonly members: Readonly<Record<NodeId, TcpAddress>>
  /** Peers' `/health` answers; null: no answer. */
  readonly peers: ReadonlyMap<NodeId, PeerHealth | null>
  readonly leases: Iterable<LeaseRecord>
  readonly graph: GraphStateMachine | null
  readonly at: number
}

/** How many of the newest events and decisions a view carries. */
export const VIEW_RECENT = 20

function member (inputs: ViewInputs, id: NodeId): MemberView {
  const s = inputs.status
  const client = inputs.members[id]!
  const progress = s.role === 'leader' ? s.progress?.[id] : undefined
  const replication = { match: progress?.match ?? null, lag: progress === undefined ? null : Math.max(0, s.lastIndex - progress.match) }
  if (id === s.id) {
    return { id, client, up: s.lifecycle === 'open' && s.failure === null, role: s.role, term: s.term, leader: s.leader, commitIndex: s.commitIndex, appliedIndex: s.appliedIndex, ...replication }
  }
  const h = inputs.peers.get(id) ?? null
  return { id, client, up: h !== null && h.lifecycle === 'open', role: h?.role ?? null, term: h?.term ?? null, leader: h?.leader ?? null, commitIndex: null, appliedIndex: null, ...replication }
}

function str (v: unknown): string { return typeof v === 'string' ? v : '' }
function num (v: unknown): number { return typeof v === 'number' ? v : 0 }

function summariseGraph (machine: GraphStateMachine): GraphSummary {
  const g = machine.graph
  const kindOf = (kind: string): Array<Readonly<{ id: string, fields: Record<string, unknown> }>> =>
    [...g.idsOfKind(kind)].map((id) => g.get(id)!)
  const nodes = kindOf('ha.node').map((r) => ({
    id: r.id, kind: str(r.fields.kind), state: str(r.fields.state), instances: [...g.neighbours(r.id, 'ha.runs', 'out')].sort()
  })).sort((a, b) => a.id.localeCompare(b.id))
  const instances = kindOf('ha.instance').map((r) => ({
    id: r.id, state: str(r.fields.state), node: [...g.neighbours(r.id, 'ha.runs', 'in')][0] ?? null, failures: num(r.fields.failures)
  })).sort((a, b) => a.id.localeCompare(b.id))
  const decisions = kindOf('ha.decision').map((r) => ({ seq: num(r.fields.seq), rule: str(r.fields.rule), token: num(r.fields.token), note: str(r.fields.note) }))
    .sort((a, b) => b.seq - a.seq).slice(0, VIEW_RECENT)
  const queued = machine.events.list()
  const events = queued.slice(-VIEW_RECENT).reverse().map((e) => ({ id: e.id, index: e.index, time: e.time, bytes: e.payload.byteLength }))
  return { appliedIndex: machine.appliedIndex, resources: g.size, edges: g.edgeCount, nodes, instances, decisions, events }
}

/** The view `inputs` describe. Pure: same inputs, same view. */
export function composeClusterView (inputs: ViewInputs): ClusterView {
  const s = inputs.status
  const epoch = inputs.graph?.graph.get('ha.epoch')
  return {
    from: s.id,
    at: inputs.at,
    leader: s.leader,
    term: s.term,
    members: Object.keys(inputs.members).sort().map((id) => member(inputs, id)),
    leases: [...inputs.leases].map((r) => ({ name: r.name, holder: r.holder, token: r.token, durationMs: r.durationMs })).sort((a, b) => a.name.localeCompare(b.name)),
    coordinator: epoch === undefined ? null : { holder: str(epoch.fields.holder), token: num(epoch.fields.token), seq: num(epoch.fields.seq) },
    graph: inputs.graph === null ? null : summariseGraph(inputs.graph)
  }
}

/** The view as text without its timestamp: equal strings mean nothing a viewer sees changed. */
export function viewFingerprint (view: ClusterView): string {
  return JSON.stringify({ ...view, at: 0 })
}

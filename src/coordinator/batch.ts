/**
 * Decision batching: several events' decisions in one graph entry, each decision exactly what
 * it would have been had the events been decided and committed one at a time.
 *
 * Every decision of a batch is taken on the same replica view (nothing is applied until the
 * entry commits). That equals deciding it after the batch's earlier decisions committed iff
 * it read nothing they write, so each decision's reads are recorded (`trackReads`) and checked
 * against the writes of the decisions before it (`writeKeys`); the first decision that read
 * something written earlier in the batch ends the batch (it is decided again, first of the
 * next one, on the view after the batch's commit). Keys are coarse but never too narrow:
 *
 * - `r:<id>`  the resource (fields, version, existence), read by get/version and by every
 *             resource a neighbours() call returns; written by any op that changes or touches it;
 * - `k:<kind>` the set of that kind and its members' fields, read by byKind/byField; written
 *             by any change to a resource of that kind;
 * - `e:<id>`  the resource's edges, read by neighbours(); written by connect/disconnect/delete
 *             at either end (and at the end an at-most-one connect takes the edge from);
 * - `*`       everything: follow/paths/planGc read it, a gc op writes it.
 *
 * So a decision of a batch also replays (`replayDecision`) on the graph at its recorded
 * `graphIndex` (the view the batch was decided on), exactly as a decision taken alone does.
 */
import type { GraphOp } from '../graph/change.js'
import type { GraphView } from '../graph/view.js'
import type { HaSpec } from './schema.js'

/** A view that records, in `reads`, the keys of everything read through it. */
export function trackReads (view: GraphView<HaSpec>, reads: Set<string>): GraphView<HaSpec> {
  const seen = <T extends { id: string }>(rs: T[]): T[] => { for (const r of rs) reads.add(`r:${r.id}`); return rs }
  const idOf = (r: string | { id: string }): string => (typeof r === 'string' ? r : r.id)
  const tracked = {
    schema: view.schema,
    get appliedIndex () { return view.appliedIndex },
    get: (r: string | { id: string }) => { reads.add(`r:${idOf(r)}`); return view.get(idOf(r)) },
    version: (r: string | { id: string }) => { reads.add(`r:${idOf(r)}`); return view.version(idOf(r)) },
    byKind: (kind: string) => { reads.add(`k:${kind}`); return view.byKind(kind as never) },
    byField: (kind: string, field: string, value: never) => { reads.add(`k:${kind}`); return view.byField(kind as never, field as never, value) },
    neighbours: (r: string | { id: string }, relation: string, direction?: 'in' | 'out') => {
      reads.add(`e:${idOf(r)}`)
      return seen(view.neighbours(idOf(r), relation as never, direction))
    },
    follow: (...args: Parameters<GraphView<HaSpec>['follow']>) => { reads.add('*'); return view.follow(...args) },
    paths: (...args: Parameters<GraphView<HaSpec>['paths']>) => { reads.add('*'); return view.paths(...args) },
    planGc: () => { reads.add('*'); return view.planGc() }
  }
  // Structurally a GraphView (its private field aside): rules only call these members.
  return tracked as unknown as GraphView<HaSpec>
}

/**
 * The keys `ops` write, resolved against `view` (the state before the batch; where an earlier
 * decision of the batch changed the edges involved, it wrote those keys itself).
 */
export function writeKeys (ops: readonly GraphOp[], view: GraphView<HaSpec>, into: Set<string>): void {
  const resource = (id: string): void => {
    into.add(`r:${id}`)
    const kind = view.get(id)?.kind
    into.add(kind === undefined ? '*' : `k:${kind}`)
  }
  const edgesOf = (id: string): void => { resource(id); into.add(`e:${id}`) }
  for (const op of ops) {
    switch (op.op) {
      case 'put': into.add(`r:${op.id}`); into.add(`k:${op.kind}`); break
      case 'update': case 'keep': resource(op.id); break
      case 'delete':
        edgesOf(op.id)
        for (const [relation] of view.schema.relations) {
          for (const dir of ['in', 'out'] as const) for (const n of view.neighbours(op.id, relation as never, dir)) edgesOf(n.id)
        }
        break
      case 'connect': case 'disconnect': {
        edgesOf(op.from)
        edgesOf(op.to)
        const spec = view.schema.relations.get(op.relation)
        if (op.op === 'connect' && spec?.outgoing === 'one') for (const n of view.neighbours(op.from, op.relation as never, 'out')) edgesOf(n.id)
        if (op.op === 'connect' && spec?.incoming === 'one') for (const n of view.neighbours(op.to, op.relation as never, 'in')) edgesOf(n.id)
        break
      }
      case 'gc': into.add('*'); break
    }
  }
}

/** True if a decision that read `reads` cannot join a batch whose earlier decisions wrote `writes`. */
export function conflicts (reads: ReadonlySet<string>, writes: ReadonlySet<string>): boolean {
  if (writes.size === 0) return false
  if (writes.has('*') || reads.has('*')) return true
  for (const key of reads) if (writes.has(key)) return true
  return false
}

/** Roughly the encoded size of `ops` (field strings dominate): what the byte bound counts. */
export function approxBytes (ops: readonly GraphOp[]): number {
  let n = 0
  for (const op of ops) {
    n += 16 + ('id' in op ? op.id.length : 0)
    if (op.op === 'put' || op.op === 'update') for (const v of Object.values(op.fields)) n += 9 + (typeof v === 'string' ? v.length : 0)
    else if (op.op === 'connect' || op.op === 'disconnect') n += op.relation.length + op.from.length + op.to.length
  }
  return n
}

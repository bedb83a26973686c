/**
 * The read-only graph and events routes of a node's endpoint (`GET /graph`, `GET /events`),
 * answered from the node's own replica (stale by at most its apply lag; a linearizable read
 * is quorate/graph's Graph on a node). Query parameters are checked strictly: an unknown or
 * malformed one is CLUSTER_REQUEST_INVALID, never ignored.
 *
 * - `/graph?kind=K`: every resource of kind K; `/graph?id=X`: that resource with its edges;
 *   `/graph?id=X&neighbours=1`: the resources one edge away, with the relation and direction;
 *   `/graph` alone: counts by kind.
 * - `/events?from=I&limit=N`: queued events with index >= I (default 0), at most N (default
 *   100, at most 1000), payload as UTF-8 text when it is valid UTF-8, else base64.
 */
import { QuorateError } from '../../errors.js'
import type { GraphStateMachine } from '../../graph/state-machine.js'
import type { Resource } from '../../graph/state.js'

export const MAX_EVENTS_PER_READ = 1000
const DEFAULT_EVENTS_PER_READ = 100

function invalid (message: string): QuorateError { return new QuorateError('CLUSTER_REQUEST_INVALID', message) }

function onlyKeys (params: URLSearchParams, route: string, allowed: readonly string[]): void {
  for (const k of new Set(params.keys())) if (!allowed.includes(k)) throw invalid(`${route}: unknown parameter ${JSON.stringify(k)} (known: ${allowed.join(', ')})`)
}

function intParam (params: URLSearchParams, name: string, fallback: number, max: number): number {
  const v = params.get(name)
  if (v === null) return fallback
  const n = Number(v)
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n > max) throw invalid(`parameter ${name} must be an integer in 0..${max} (got ${JSON.stringify(v)})`)
  return n
}

interface EdgeView { readonly relation: string, readonly id: string }

function edges (machine: GraphStateMachine, id: string, direction: 'out' | 'in'): EdgeView[] {
  const out: EdgeView[] = []
  for (const [relation, ids] of machine.graph.adjacent(id, direction)) for (const other of ids) out.push({ relation, id: other })
  return out
}

function resource (r: Readonly<Resource>): object {
  return { id: r.id, kind: r.kind, version: r.version, keep: r.keep, fields: r.fields }
}

export function answerGraphQuery (machine: GraphStateMachine, params: URLSearchParams): object {
  onlyKeys(params, '/graph', ['kind', 'id', 'neighbours'])
  const g = machine.graph
  const kind = params.get('kind')
  const id = params.get('id')
  const base = { appliedIndex: machine.appliedIndex }
  if (kind !== null && id !== null) throw invalid('/graph: give kind or id, not both')
  if (params.has('neighbours') && id === null) throw invalid('/graph: neighbours needs an id')
  if (kind !== null) {
    if (!machine.schema.kindNames.has(kind)) throw invalid(`/graph: unknown kind ${JSON.stringify(kind)} (kinds: ${[...machine.schema.kindNames].join(', ')})`)
    return { ...base, resources: [...g.idsOfKind(kind)].sort().map((i) => resource(g.get(i)!)) }
  }
  if (id !== null) {
    const r = g.get(id)
    if (r === undefined) return { ...base, resources: [] }
    if (params.has('neighbours')) {
      const near = [...edges(machine, id, 'out').map((e) => ({ ...e, direction: 'out' })), ...edges(machine, id, 'in').map((e) => ({ ...e, direction: 'in' }))]
      return { ...base, resources: near.map((e) => ({ relation: e.relation, direction: e.direction, ...resource(g.get(e.id)!) })) }
    }
    return { ...base, resources: [{ ...resource(r), out: edges(machine, id, 'out'), in: edges(machine, id, 'in') }] }
  }
  const kinds: Record<string, number> = {}
  for (const k of machine.schema.kindNames) kinds[k] = g.idsOfKind(k).size
  return { ...base, resources: g.size, edges: g.edgeCount, kinds }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function payloadView (payload: Uint8Array): { text: string } | { base64: string } {
  try {
    return { text: utf8.decode(payload) }
  } catch {
    return { base64: Buffer.from(payload).toString('base64') }
  }
}

export function answerEventsQuery (machine: GraphStateMachine, params: URLSearchParams): object {
  onlyKeys(params, '/events', ['from', 'limit'])
  const from = intParam(params, 'from', 0, Number.MAX_SAFE_INTEGER)
  const limit = intParam(params, 'limit', DEFAULT_EVENTS_PER_READ, MAX_EVENTS_PER_READ)
  const events = machine.events.list(from, limit).map((e) => ({ id: e.id, index: e.index, time: e.time, bytes: e.payload.byteLength, ...payloadView(e.payload) }))
  return { appliedIndex: machine.appliedIndex, events }
}

/**
 * Read-only queries over a GraphState: by kind, by field, neighbours by relation, and paths of
 * a few hops. They read whatever replica state they are given: the client decides whether that
 * is stale-ok (the local replica as is) or linearizable (after a ReadIndex barrier).
 * Results are sorted by id so every replica answers a query the same way.
 */
import { QuorateError } from '../errors.js'
import type { FieldValue } from './schema.js'
import type { GraphState, Resource } from './state.js'

export type Direction = 'out' | 'in'

/** One step of a path: follow `relation` leaving ('out', the default) or arriving ('in'). */
export interface Hop { readonly relation: string, readonly direction?: Direction }

/** Longest path a `paths` query explores. */
export const MAX_PATH_HOPS = 6

function sortedResources (state: GraphState, ids: Iterable<string>): Array<Readonly<Resource>> {
  const out: Array<Readonly<Resource>> = []
  for (const id of ids) { const r = state.get(id); if (r !== undefined) out.push(r) }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

export function byKind (state: GraphState, kind: string): Array<Readonly<Resource>> {
  return sortedResources(state, state.idsOfKind(kind))
}

/** Resources of `kind` whose `field` equals `value` (from an equality index, built on the first such query). */
export function byField (state: GraphState, kind: string, field: string, value: FieldValue): Array<Readonly<Resource>> {
  return sortedResources(state, state.idsWithField(kind, field, value))
}

export function neighbours (state: GraphState, id: string, relation: string, direction: Direction = 'out'): Array<Readonly<Resource>> {
  return sortedResources(state, state.neighbours(id, relation, direction))
}

/** The resources reached from `start` by following `hops` in order (a set: each once). */
export function follow (state: GraphState, start: string, hops: readonly Hop[]): Array<Readonly<Resource>> {
  checkHops(hops.length)
  let frontier = new Set(state.has(start) ? [start] : [])
  for (const hop of hops) {
    const next = new Set<string>()
    for (const id of frontier) for (const other of state.neighbours(id, hop.relation, hop.direction ?? 'out')) next.add(other)
    frontier = next
  }
  return sortedResources(state, frontier)
}

/**
 * Simple paths (no resource twice) from `from` to `to` of at most `maxHops` edges, following
 * any relation in either direction; each path lists the ids from `from` to `to`. At most
 * `limit` paths, shortest first then by ids.
 */
export function paths (state: GraphState, from: string, to: string, maxHops = 3, limit = 100): string[][] {
  checkHops(maxHops)
  const found: string[][] = []
  if (!state.has(from) || !state.has(to)) return found
  const walk = (path: string[]): void => {
    const at = path[path.length - 1]!
    if (at === to) { found.push([...path]); return }
    if (path.length > maxHops) return
    const next = new Set<string>()
    for (const direction of ['out', 'in'] as const) {
      for (const others of state.adjacent(at, direction).values()) for (const o of others) next.add(o)
    }
    for (const o of [...next].sort()) {
      if (path.includes(o)) continue
      path.push(o); walk(path); path.pop()
    }
  }
  walk([from])
  found.sort((a, b) => a.length - b.length || (a.join('\0') < b.join('\0') ? -1 : 1))
  return found.slice(0, limit)
}

function checkHops (n: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_PATH_HOPS) {
    throw new QuorateError('GRAPH_QUERY_INVALID', `A path query may take 0 to ${MAX_PATH_HOPS} hops (got ${n})`)
  }
}

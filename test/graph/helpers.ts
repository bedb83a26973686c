/**
 * Shared pieces of the graph tests: a schema with every cardinality (and a self relation), a
 * plain in-memory model of the graph written from the semantics in src/graph/change.ts
 * without any of its indexes (edges are one flat set, reachability a naive fixpoint), and
 * fast-check arbitraries for ops over a small pool of ids so that ops collide often.
 */
import fc from 'fast-check'
import { isQuorateError } from '../../src/errors.js'
import type { ErrorCode } from '../../src/errors.js'
import { defineSchema } from '../../src/graph/index.js'
import type { FieldValue, GraphOp, GraphState, Schema } from '../../src/graph/index.js'

export const schema = defineSchema({
  kinds: {
    cluster: { fields: { name: 'string' } },
    node: { fields: { host: 'string', up: 'boolean?' } },
    service: { fields: { port: 'integer', weight: 'number?' } },
    disk: { fields: { size: 'integer' } }
  },
  relations: {
    has: { from: 'cluster', to: 'node', outgoing: 'many', incoming: 'one' },
    runs: { from: 'node', to: 'service', outgoing: 'many', incoming: 'one' },
    uses: { from: 'service', to: 'disk', outgoing: 'one', incoming: 'many' },
    pairs: { from: 'node', to: 'node', outgoing: 'one', incoming: 'one' },
    mounts: { from: 'node', to: 'disk', outgoing: 'many', incoming: 'many' }
  },
  roots: ['cluster']
})

export type TestSchema = typeof schema.spec

const POOL: Record<string, string[]> = {
  cluster: ['c0', 'c1'],
  node: ['n0', 'n1', 'n2', 'n3'],
  service: ['s0', 's1', 's2'],
  disk: ['d0', 'd1']
}
export const ALL_IDS = Object.values(POOL).flat()
export const kindOfId = (id: string): string => ({ c: 'cluster', n: 'node', s: 'service', d: 'disk' } as Record<string, string>)[id[0]!]!

const fieldsArb: Record<string, fc.Arbitrary<Record<string, FieldValue>>> = {
  cluster: fc.record({ name: fc.constantFrom('a', 'b') }),
  node: fc.record({ host: fc.constantFrom('h1', 'h2'), up: fc.boolean() }, { requiredKeys: ['host'] }),
  service: fc.record({ port: fc.integer({ min: 1, max: 3 }), weight: fc.double({ min: 0, max: 1, noNaN: true }) }, { requiredKeys: ['port'] }),
  disk: fc.record({ size: fc.integer({ min: 1, max: 3 }) })
}

const patchArb: Record<string, fc.Arbitrary<Record<string, FieldValue | null>>> = {
  cluster: fc.record({ name: fc.constantFrom('a', 'b', 'c') }, { requiredKeys: [] }),
  node: fc.record({ host: fc.constantFrom('h1', 'h3'), up: fc.oneof(fc.boolean(), fc.constant(null)) }, { requiredKeys: [] }),
  service: fc.record({ port: fc.integer({ min: 1, max: 3 }), weight: fc.oneof(fc.constant(null), fc.constant(0.5)) }, { requiredKeys: [] }),
  disk: fc.record({ size: fc.integer({ min: 1, max: 3 }) }, { requiredKeys: [] })
}

/** Schema-valid ops over `ids` (the client validates at add time); failures come from the state. */
export function opArbOver (ids: readonly string[]): fc.Arbitrary<GraphOp> {
  const idArb = fc.constantFrom(...ids)
  const within = (kind: string): string[] => { const own = POOL[kind]!.filter((id) => ids.includes(id)); return own.length > 0 ? own : POOL[kind]! }
  const putArb = fc.tuple(idArb, fc.nat(9)).chain(([id, wrong]) => {
    // One put in ten names another kind than the id's usual one (GRAPH_KIND_MISMATCH paths).
    const kind = wrong === 0 ? kindOfId(ALL_IDS[(ALL_IDS.indexOf(id) + 3) % ALL_IDS.length]!) : kindOfId(id)
    return fieldsArb[kind]!.map((fields): GraphOp => ({ op: 'put', id, kind, fields }))
  })
  const edgeArb = (op: 'connect' | 'disconnect'): fc.Arbitrary<GraphOp> =>
    fc.constantFrom(...schema.relations.keys()).chain((relation) => {
      const spec = schema.relations.get(relation)!
      return fc.tuple(fc.constantFrom(...within(spec.from)), fc.constantFrom(...within(spec.to)))
        .map(([from, to]): GraphOp => ({ op, relation, from, to }))
    })
  return fc.oneof(
    { arbitrary: putArb, weight: 4 },
    { arbitrary: idArb.chain((id) => patchArb[kindOfId(id)]!.map((fields): GraphOp => ({ op: 'update', id, fields }))), weight: 3 },
    { arbitrary: idArb.map((id): GraphOp => ({ op: 'delete', id })), weight: 1 },
    { arbitrary: edgeArb('connect'), weight: 8 },
    { arbitrary: edgeArb('disconnect'), weight: 1 },
    { arbitrary: fc.tuple(idArb, fc.boolean()).map(([id, keep]): GraphOp => ({ op: 'keep', id, keep })), weight: 1 },
    { arbitrary: fc.option(fc.subarray([...ids], { maxLength: 3 }), { nil: null, freq: 5 }).map((gc): GraphOp => ({ op: 'gc', ids: gc })), weight: 1 }
  )
}

export const opArb = opArbOver(ALL_IDS)

export const opsArb = fc.array(opArb, { maxLength: 5 })

/** A first transaction creating most of the pool (so later ops mostly find their resources). */
export const populateArb: fc.Arbitrary<GraphOp[]> = fc.subarray(ALL_IDS, { minLength: 6 }).chain((ids) =>
  fc.tuple(...ids.map((id) => fieldsArb[kindOfId(id)]!.map((fields): GraphOp => ({ op: 'put', id, kind: kindOfId(id), fields })))))

/** A history of transactions: populate, then short random ones. */
export const historyArb: fc.Arbitrary<GraphOp[][]> = fc.tuple(populateArb, fc.array(opsArb, { maxLength: 12 }))
  .map(([first, rest]) => [first, ...rest])

// ------------------------------------------------------------------ the plain model

export interface ModelResource { kind: string, version: number, fields: Record<string, FieldValue>, keep: boolean }
export interface ModelGraph { res: Map<string, ModelResource>, edges: Set<string> }

const edgeKey = (relation: string, from: string, to: string): string => `${relation} ${from} ${to}`
const parseEdge = (k: string): [string, string, string] => k.split(' ') as [string, string, string]

export function emptyModel (): ModelGraph { return { res: new Map(), edges: new Set() } }

function cloneModel (m: ModelGraph): ModelGraph {
  const res = new Map<string, ModelResource>()
  for (const [id, r] of m.res) res.set(id, { ...r, fields: { ...r.fields } })
  return { res, edges: new Set(m.edges) }
}

function fieldsOk (s: Schema, kind: string, fields: Record<string, unknown>, patch: boolean): boolean {
  const table = s.fields.get(kind)!
  for (const [k, v] of Object.entries(fields)) {
    const f = table.get(k)
    if (f === undefined) return false
    if (v === null) { if (!(patch && f.optional)) return false; continue }
    const ok = f.type === 'string' ? typeof v === 'string' : f.type === 'boolean' ? typeof v === 'boolean' : f.type === 'integer' ? Number.isSafeInteger(v) : typeof v === 'number'
    if (!ok) return false
  }
  return patch || [...table].every(([k, f]) => f.optional || fields[k] !== undefined)
}

export function modelReachable (m: ModelGraph, s: Schema): Set<string> {
  const live = new Set([...m.res].filter(([, r]) => s.rootKinds.has(r.kind) || r.keep).map(([id]) => id))
  for (let grew = true; grew;) {
    grew = false
    for (const k of m.edges) {
      const [, a, b] = parseEdge(k)
      if (live.has(a) !== live.has(b)) { live.add(a); live.add(b); grew = true }
    }
  }
  return live
}

/** Applies ops all-or-nothing; returns the new model (or null if the transaction fails). */
export function modelApply (m0: ModelGraph, s: Schema, ops: readonly GraphOp[], index: number): ModelGraph | null {
  const m = cloneModel(m0)
  const created = new Set<string>()
  const touch = (id: string): void => { const r = m.res.get(id); if (r !== undefined) r.version = index }
  const removeEdge = (k: string): void => { if (m.edges.delete(k)) { const [, a, b] = parseEdge(k); touch(a); touch(b) } }
  const drop = (id: string): void => {
    for (const k of [...m.edges]) { const [, a, b] = parseEdge(k); if (a === id || b === id) removeEdge(k) }
    m.res.delete(id)
  }
  for (const op of ops) {
    switch (op.op) {
      case 'put': {
        const old = m.res.get(op.id)
        if (!fieldsOk(s, op.kind, op.fields, false) || (old !== undefined && old.kind !== op.kind)) return null
        if (old === undefined) { created.add(op.id); m.res.set(op.id, { kind: op.kind, version: index, fields: { ...op.fields }, keep: false }) } else { old.fields = { ...op.fields }; old.version = index }
        break
      }
      case 'update': {
        const r = m.res.get(op.id)
        if (r === undefined || !fieldsOk(s, r.kind, op.fields, true)) return null
        for (const [k, v] of Object.entries(op.fields)) { if (v === null) delete r.fields[k]; else r.fields[k] = v }
        r.version = index
        break
      }
      case 'delete': drop(op.id); break
      case 'connect': {
        const a = m.res.get(op.from); const b = m.res.get(op.to)
        const spec = s.relations.get(op.relation)!
        if (a === undefined || b === undefined || a.kind !== spec.from || b.kind !== spec.to) return null
        const key = edgeKey(op.relation, op.from, op.to)
        if (m.edges.has(key)) break
        for (const k of [...m.edges]) {
          const [rel, x, y] = parseEdge(k)
          if (rel === op.relation && ((spec.outgoing === 'one' && x === op.from) || (spec.incoming === 'one' && y === op.to))) removeEdge(k)
        }
        m.edges.add(key); touch(op.from); touch(op.to)
        break
      }
      case 'disconnect': removeEdge(edgeKey(op.relation, op.from, op.to)); break
      case 'keep': {
        const r = m.res.get(op.id)
        if (r === undefined) return null
        r.keep = op.keep; r.version = index
        break
      }
      case 'gc': {
        const live = modelReachable(m, s)
        if (op.ids === null) {
          for (const id of [...m.res.keys()]) if (!live.has(id) && !created.has(id)) drop(id)
        } else {
          const present = op.ids.filter((id) => m.res.has(id))
          if (present.some((id) => live.has(id) || created.has(id))) return null
          for (const id of present) drop(id)
        }
      }
    }
  }
  return m
}

/** A canonical rendering of the real state, comparable with `renderModel`. */
export function renderState (g: GraphState): string {
  const res = [...g.resources()].map((r) => [r.id, r.kind, r.version, r.keep, sortedFields(r.fields)]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1))
  const edges = [...g.edges()].map((e) => edgeKey(e.relation, e.from, e.to)).sort()
  return JSON.stringify({ res, edges })
}

export function renderModel (m: ModelGraph): string {
  const res = [...m.res].map(([id, r]) => [id, r.kind, r.version, r.keep, sortedFields(r.fields)]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1))
  return JSON.stringify({ res, edges: [...m.edges].sort() })
}

function sortedFields (f: Record<string, FieldValue>): Array<[string, FieldValue]> {
  return Object.entries(f).sort((a, b) => (a[0] < b[0] ? -1 : 1))
}

/** Both-end readability in the model: the ids at the other end, as the real state answers them. */
export function modelNeighbours (m: ModelGraph, id: string, relation: string, direction: 'out' | 'in'): string[] {
  const out: string[] = []
  for (const k of m.edges) {
    const [rel, a, b] = parseEdge(k)
    if (rel !== relation) continue
    if (direction === 'out' && a === id) out.push(b)
    if (direction === 'in' && b === id) out.push(a)
  }
  return out.sort()
}

/** Rethrows anything but a QuorateError (with `code`, if given): a bug, not a refusal. */
export function isQuorateErrorOrThrow (err: unknown, code?: ErrorCode): void {
  if (!isQuorateError(err, code)) throw err
}

/**
 * Queries against the plain model on random graphs: by kind and by field return exactly the
 * matching resources (the field index kept equal to a scan through every change and rollback), neighbours read the same from both ends, `follow` reaches what hop-by-hop
 * model traversal reaches, and `paths` lists exactly the simple paths of at most maxHops edges,
 * shortest first.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { GraphState, applyOps, byField, byKind, follow, neighbours, paths } from '../../src/graph/index.js'
import type { Hop } from '../../src/graph/index.js'
import { ALL_IDS, emptyModel, historyArb, modelApply, modelNeighbours, schema } from './helpers.js'
import type { ModelGraph } from './helpers.js'

function build (txs: ReadonlyArray<Parameters<typeof applyOps>[2]>): { g: GraphState, m: ModelGraph } {
  const g = new GraphState()
  let m = emptyModel()
  txs.forEach((ops, i) => {
    const next = modelApply(m, schema, ops, i + 1)
    if (next === null) return
    m = next
    applyOps(g, schema, ops, i + 1)
  })
  return { g, m }
}

const ids = (rs: ReadonlyArray<{ id: string }>): string[] => rs.map((r) => r.id)

/** Every other resource joined to `id` by any edge, either way (the model's adjacency). */
function adjacent (m: ModelGraph, id: string): string[] {
  const out = new Set<string>()
  for (const relation of schema.relations.keys()) {
    for (const o of modelNeighbours(m, id, relation, 'out')) out.add(o)
    for (const o of modelNeighbours(m, id, relation, 'in')) out.add(o)
  }
  return [...out]
}

function modelPaths (m: ModelGraph, from: string, to: string, maxHops: number): string[][] {
  const found: string[][] = []
  const walk = (path: string[]): void => {
    const at = path[path.length - 1]!
    if (at === to) { found.push(path); return }
    if (path.length > maxHops) return
    for (const o of adjacent(m, at)) if (!path.includes(o)) walk([...path, o])
  }
  if (m.res.has(from) && m.res.has(to)) walk([from])
  return found.map((p) => p.join('>')).sort().map((p) => p.split('>'))
}

test('a field index built before the changes stays equal to a scan through puts, updates, removals and rolled-back transactions', () => {
  fc.assert(fc.property(historyArb, (txs) => {
    const g = new GraphState()
    let m = emptyModel()
    const hosts = ['h1', 'h2', 'h3']
    for (const host of hosts) byField(g, 'node', 'host', host) // builds the index while the graph is empty
    txs.forEach((ops, i) => {
      const next = modelApply(m, schema, ops, i + 1)
      try {
        applyOps(g, schema, ops, i + 1)
      } catch (err) {
        // A transaction the model refuses fails here too, and its partial changes are undone.
        assert.is(next, null, `the store refused what the model accepted: ${String(err)}`)
      }
      if (next !== null) m = next
      assert.equal(g.fieldIndexProblems(), [])
      for (const host of hosts) {
        assert.equal(ids(byField(g, 'node', 'host', host)), [...m.res].filter(([, r]) => r.kind === 'node' && r.fields.host === host).map(([id]) => id).sort())
      }
    })
  }), { seed: 1444, numRuns: 200 })
})

const hopArb: fc.Arbitrary<Hop> = fc.record({ relation: fc.constantFrom(...schema.relations.keys()), direction: fc.constantFrom('out' as const, 'in' as const) })

test('byKind and byField return exactly the matching resources, sorted by id', () => {
  fc.assert(fc.property(historyArb, fc.constantFrom('h1', 'h2', 'h3'), (txs, host) => {
    const { g, m } = build(txs)
    for (const kind of schema.kindNames) {
      assert.equal(ids(byKind(g, kind)), [...m.res].filter(([, r]) => r.kind === kind).map(([id]) => id).sort())
    }
    assert.equal(ids(byField(g, 'node', 'host', host)), [...m.res].filter(([, r]) => r.kind === 'node' && r.fields.host === host).map(([id]) => id).sort())
  }), { seed: 1441, numRuns: 200 })
})

test('neighbours and follow reach what the model reaches hop by hop', () => {
  fc.assert(fc.property(historyArb, fc.constantFrom(...ALL_IDS), fc.array(hopArb, { maxLength: 3 }), (txs, start, hops) => {
    const { g, m } = build(txs)
    for (const relation of schema.relations.keys()) {
      assert.equal(ids(neighbours(g, start, relation, 'in')), modelNeighbours(m, start, relation, 'in'))
    }
    let frontier = new Set(m.res.has(start) ? [start] : [])
    for (const hop of hops) {
      const next = new Set<string>()
      for (const id of frontier) for (const o of modelNeighbours(m, id, hop.relation, hop.direction ?? 'out')) next.add(o)
      frontier = next
    }
    assert.equal(ids(follow(g, start, hops)), [...frontier].sort())
  }), { seed: 1442, numRuns: 300 })
})

test('paths lists every simple path of at most maxHops edges, shortest first', () => {
  fc.assert(fc.property(historyArb, fc.constantFrom(...ALL_IDS), fc.constantFrom(...ALL_IDS), fc.integer({ min: 0, max: 4 }), (txs, from, to, maxHops) => {
    const { g, m } = build(txs)
    const got = paths(g, from, to, maxHops, 10_000)
    assert.equal([...got].map((p) => p.join('>')).sort(), modelPaths(m, from, to, maxHops).map((p) => p.join('>')))
    for (let i = 1; i < got.length; i++) assert.ok(got[i - 1]!.length <= got[i]!.length, 'shortest first')
    for (const p of got) assert.ok(p[0] === from && p[p.length - 1] === to && p.length - 1 <= maxHops, p.join('>'))
  }), { seed: 1443, numRuns: 300 })
})

test('a path query of too many hops is refused with GRAPH_QUERY_INVALID', () => {
  const g = new GraphState()
  assert.throws(() => paths(g, 'a', 'b', 7), (e: { code: string }) => e.code === 'GRAPH_QUERY_INVALID')
  assert.throws(() => follow(g, 'a', Array.from({ length: 7 }, () => ({ relation: 'runs' }))), (e: { code: string }) => e.code === 'GRAPH_QUERY_INVALID')
})

test.run()

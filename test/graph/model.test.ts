/**
 * The graph state against a plain model (test/graph/helpers.ts): the same transactions give
 * the same resources, versions and edges; edges read the same from both ends; cardinality
 * holds; coalescing changes nothing; compare-and-set refuses exactly the stale writes; GC
 * removes exactly the unreachable resources, never a kept one or one created in its own
 * transaction.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { GraphState, applyOps, checkExpectations, checkInvariants, coalesce, planGc } from '../../src/graph/index.js'
import type { GraphOp } from '../../src/graph/index.js'
import { ALL_IDS, historyArb, opArb, opArbOver, emptyModel, isQuorateErrorOrThrow, modelApply, modelNeighbours, modelReachable, opsArb, renderModel, renderState, schema } from './helpers.js'
import type { ModelGraph } from './helpers.js'

/** Applies `ops` at `index`; true if the transaction applied. */
function applyReal (g: GraphState, ops: readonly GraphOp[], index: number): boolean {
  try { applyOps(g, schema, ops, index); return true } catch (err) { isQuorateErrorOrThrow(err); return false }
}

/** Runs transactions on both, from index 1, failing the property at the first difference. */
function runBoth (txs: ReadonlyArray<readonly GraphOp[]>): { g: GraphState, m: ModelGraph } {
  const g = new GraphState()
  let m = emptyModel()
  txs.forEach((ops, i) => {
    const next = modelApply(m, schema, ops, i + 1)
    const ok = applyReal(g, ops, i + 1)
    assert.is(ok, next !== null, `transaction ${i + 1} ${JSON.stringify(ops)}: real ${ok ? 'applied' : 'refused'}`)
    if (next !== null) m = next
    assert.is(renderState(g), renderModel(m), `state after transaction ${i + 1}`)
  })
  return { g, m }
}

const txsArb = historyArb
/** Longer change logs, where one resource is written several times (what coalescing folds). */
const longOpsArb = fc.oneof(fc.array(opArb, { minLength: 4, maxLength: 14 }), fc.array(opArbOver(['c0', 'n0', 'n1', 's0']), { minLength: 3, maxLength: 10 }))

test('transactions give the model\'s resources, versions and edges, all or nothing, and keep the indexes consistent', () => {
  fc.assert(fc.property(txsArb, (txs) => {
    const { g } = runBoth(txs)
    assert.equal(checkInvariants(g, schema), [])
  }), { seed: 1401, numRuns: 400 })
})

test('every edge reads the same from both ends and at-most-one ends never hold two edges', () => {
  fc.assert(fc.property(txsArb, (txs) => {
    const { g, m } = runBoth(txs)
    for (const id of ALL_IDS) {
      for (const [relation, spec] of schema.relations) {
        for (const direction of ['out', 'in'] as const) {
          const real = [...g.neighbours(id, relation, direction)].sort()
          assert.equal(real, modelNeighbours(m, id, relation, direction), `${id} ${relation} ${direction}`)
          const one = direction === 'out' ? spec.outgoing === 'one' : spec.incoming === 'one'
          if (one) assert.ok(real.length <= 1, `${id} has ${real.length} ${direction} ${relation} edges`)
        }
      }
    }
  }), { seed: 1402, numRuns: 300 })
})

/** Two nodes n0 and n1, and `extra` ops, applied at index 1. */
function twoNodes (extra: GraphOp[]): GraphState {
  const g = new GraphState()
  applyOps(g, schema, [
    { op: 'put', id: 'n0', kind: 'node', fields: { host: 'a' } },
    { op: 'put', id: 'n1', kind: 'node', fields: { host: 'b' } },
    ...extra
  ], 1)
  return g
}

test('connecting an at-most-one end replaces its old edge', () => {
  const g = twoNodes([
    { op: 'put', id: 's0', kind: 'service', fields: { port: 1 } },
    { op: 'connect', relation: 'runs', from: 'n0', to: 's0' }
  ])
  applyOps(g, schema, [{ op: 'connect', relation: 'runs', from: 'n1', to: 's0' }], 2)
  assert.equal([...g.neighbours('s0', 'runs', 'in')], ['n1'])
  assert.equal([...g.neighbours('n0', 'runs', 'out')], [])
  assert.is(g.get('n0')!.version, 2, 'the end that lost its edge changed too')
})

test('coalesce(ops) applied to any state gives what ops give (state, versions, outcome)', () => {
  fc.assert(fc.property(txsArb, longOpsArb, (setup, ops) => {
    const { g: a } = runBoth(setup)
    const b = new GraphState()
    setup.forEach((tx, i) => applyReal(b, tx, i + 1))
    const index = setup.length + 1
    const coalesced = coalesce(ops)
    assert.ok(coalesced.length <= ops.length)
    const okA = applyReal(a, ops, index)
    const okB = applyReal(b, coalesced, index)
    assert.is(okB, okA, `outcome of ${JSON.stringify(ops)} vs ${JSON.stringify(coalesced)}`)
    assert.is(renderState(b), renderState(a))
  }), { seed: 1403, numRuns: 1500 })
})

test('coalescing folds repeated field writes of one resource into one op', () => {
  const ops = coalesce([
    { op: 'put', id: 'n0', kind: 'node', fields: { host: 'a' } },
    { op: 'update', id: 'n0', fields: { up: true } },
    { op: 'connect', relation: 'pairs', from: 'n0', to: 'n0' },
    { op: 'update', id: 'n0', fields: { host: 'b', up: null } },
    { op: 'connect', relation: 'pairs', from: 'n0', to: 'n0' }
  ])
  assert.equal(ops, [
    { op: 'put', id: 'n0', kind: 'node', fields: { host: 'b' } },
    { op: 'connect', relation: 'pairs', from: 'n0', to: 'n0' }
  ])
})

test('compare-and-set refuses exactly when an expected version differs, naming each conflict', () => {
  fc.assert(fc.property(txsArb, fc.array(fc.tuple(fc.constantFrom(...ALL_IDS), fc.boolean(), fc.nat(15)), { maxLength: 4 }), (setup, claims) => {
    const { g, m } = runBoth(setup)
    const expect = claims.map(([id, current, other]) => ({ id, version: current ? (m.res.get(id)?.version ?? 0) : other }))
    const stale = expect.filter((e) => (m.res.get(e.id)?.version ?? 0) !== e.version)
    try {
      checkExpectations(g, expect)
      assert.is(stale.length, 0, 'accepted a stale expectation')
    } catch (err) {
      isQuorateErrorOrThrow(err, 'GRAPH_CONFLICT')
      const conflicts = (err as { info: { conflicts: Array<{ id: string }> } }).info.conflicts
      assert.equal(conflicts.map((c) => c.id), stale.map((e) => e.id))
    }
  }), { seed: 1404, numRuns: 300 })
})

test('planGc reports exactly the resources unreachable from roots and kept ones', () => {
  fc.assert(fc.property(txsArb, (txs) => {
    const { g, m } = runBoth(txs)
    const live = modelReachable(m, schema)
    assert.equal(planGc(g, schema), [...m.res.keys()].filter((id) => !live.has(id)).sort())
  }), { seed: 1405, numRuns: 300 })
})

test('gc never removes a kept resource or one created earlier in the same transaction', () => {
  fc.assert(fc.property(txsArb, opsArb, (setup, ops) => {
    const { g } = runBoth(setup)
    const kept = [...g.resources()].filter((r) => r.keep).map((r) => r.id)
    const created = ops.filter((o) => o.op === 'put' && !g.has(o.id)).map((o) => (o as { id: string }).id)
    const withGc: GraphOp[] = [...ops, { op: 'gc', ids: null }]
    const deleted = new Set(ops.filter((o) => o.op === 'delete').map((o) => (o as { id: string }).id))
    if (!applyReal(g, withGc, setup.length + 1)) return
    for (const id of created) if (!deleted.has(id)) assert.ok(g.has(id), `${id} was created in the transaction`)
    for (const id of kept) if (!deleted.has(id) && !ops.some((o) => o.op === 'keep' && o.id === id)) assert.ok(g.has(id), `${id} was kept`)
  }), { seed: 1406, numRuns: 300 })
})

test('a gc naming a reachable resource is refused and changes nothing', () => {
  const g = twoNodes([
    { op: 'put', id: 'c0', kind: 'cluster', fields: { name: 'x' } },
    { op: 'connect', relation: 'has', from: 'c0', to: 'n0' }
  ])
  const before = renderState(g)
  assert.equal(planGc(g, schema), ['n1'])
  assert.throws(() => applyOps(g, schema, [{ op: 'gc', ids: ['n1', 'n0'] }], 2), (e: { code: string }) => e.code === 'GRAPH_GC_REACHABLE')
  assert.is(renderState(g), before)
  assert.equal(applyOps(g, schema, [{ op: 'gc', ids: ['n1'] }], 3).removed, ['n1'])
})

test.run()

/**
 * Snapshots stream both ways: the machine yields bounded chunks from its live state, and
 * restore accepts any chunk boundaries (drawn per run, records split anywhere) into a state
 * equal to the original — graph, events, dedup memory, fences, replicated time — that then
 * answers the next commands exactly as the original does. Truncated or corrupt streams fail
 * with GRAPH_SNAPSHOT_INVALID and leave the machine refusing to apply until a good restore.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { GraphStateMachine, encodeCommand } from '../../src/graph/index.js'
import type { GraphCommand, GraphOp } from '../../src/graph/index.js'
import { historyArb, renderState, schema } from './helpers.js'

function render (sm: GraphStateMachine): string {
  return JSON.stringify({
    graph: renderState(sm.graph),
    events: sm.events.list().map((e) => [e.id, e.index, e.time, [...e.payload]]),
    dedup: [...sm.events.dedupEntries()],
    fence: sm.fenceToken('lease'),
    time: sm.time,
    applied: sm.appliedIndex
  })
}

/** Re-splits a chunk stream at the drawn sizes without ever joining more than one piece. */
async function * resplit (chunks: AsyncIterable<Uint8Array>, sizes: readonly number[]): AsyncIterable<Uint8Array> {
  let k = 0
  for await (const chunk of chunks) {
    let at = 0
    while (at < chunk.length) {
      const n = sizes[k++ % sizes.length]!
      yield chunk.subarray(at, at + n)
      at += n
    }
  }
}

async function collect (chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const c of chunks) out.push(c)
  return out
}

async function * from (chunks: readonly Uint8Array[]): AsyncIterable<Uint8Array> { yield * chunks }

/** A machine that applied a random history: graph transactions, emits, handles, fenced writes. */
function build (history: readonly GraphOp[][], emits: readonly string[], chunkBytes: number): GraphStateMachine {
  const sm = new GraphStateMachine(schema, { snapshotChunkBytes: chunkBytes, events: { dedupWindowMs: 50 } })
  let index = 0
  history.forEach((ops, i) => {
    sm.apply(encodeCommand({ type: 'tx', time: i * 10, fence: { name: 'lease', token: i }, expect: [], ops, trim: [] }), ++index)
    const id = emits[i % Math.max(1, emits.length)]
    if (id !== undefined) sm.apply(encodeCommand({ type: 'emit', time: i * 10 + 5, id, payload: new Uint8Array([i, i >> 8]) }), ++index)
    if (i % 3 === 2 && id !== undefined) sm.apply(encodeCommand({ type: 'tx', time: i * 10 + 6, expect: [], ops: [], trim: [id] }), ++index)
  })
  return sm
}

test('restore(snapshot()) reproduces the whole state for any chunk size and any re-split of the stream', async () => {
  await fc.assert(fc.asyncProperty(
    historyArb, fc.array(fc.constantFrom('e0', 'e1', 'e2', 'e3', 'e4')), fc.integer({ min: 1, max: 300 }),
    fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
    async (history, emits, chunkBytes, sizes) => {
      const sm = build(history, emits, chunkBytes)
      const copy = new GraphStateMachine(schema, { events: { dedupWindowMs: 50 } })
      await copy.restore(resplit(sm.snapshot(), sizes))
      assert.is(render(copy), render(sm))
      // The copy answers what the original answers from here on.
      const next: GraphCommand[] = [
        { type: 'emit', time: 0, id: 'e1', payload: new Uint8Array([9]) },
        { type: 'tx', time: 0, fence: { name: 'lease', token: 1 }, expect: [{ id: 'n0', version: sm.graph.get('n0')?.version ?? 0 }], ops: [{ op: 'gc', ids: null }], trim: [] }
      ]
      next.forEach((c, i) => {
        const index = sm.appliedIndex + 1 + i
        assert.equal(copy.apply(encodeCommand(c), index), sm.apply(encodeCommand(c), index))
      })
      assert.is(render(copy), render(sm))
    }), { seed: 1421, numRuns: 150 })
})

test('a large graph snapshots in bounded chunks and restores', async () => {
  const sm = new GraphStateMachine(schema, { snapshotChunkBytes: 4096 })
  const ops = []
  for (let i = 0; i < 20_000; i++) {
    ops.push({ op: 'put' as const, id: `n${i}`, kind: 'node', fields: { host: `host-${i}` } })
    if (i > 0) ops.push({ op: 'connect' as const, relation: 'pairs', from: `n${i - 1}`, to: `n${i}` })
  }
  sm.apply(encodeCommand({ type: 'tx', time: 1, expect: [], ops, trim: [] }), 1)
  let chunks = 0
  let largest = 0
  const copy = new GraphStateMachine(schema)
  await copy.restore((async function * () {
    for await (const c of sm.snapshot()) { chunks++; largest = Math.max(largest, c.length); yield c }
  })())
  assert.ok(chunks > 100, `${chunks} chunks`)
  assert.ok(largest < 4096 + 256, `largest chunk ${largest} bytes`)
  assert.is(copy.graph.size, 20_000)
  assert.is(copy.graph.edgeCount, 19_999)
  assert.is(renderState(copy.graph), renderState(sm.graph))
})

test('a truncated or corrupt stream fails with GRAPH_SNAPSHOT_INVALID; the partial state refuses to apply until a good restore', async () => {
  const sm = new GraphStateMachine(schema, { snapshotChunkBytes: 16 })
  sm.apply(encodeCommand({ type: 'tx', time: 1, expect: [], ops: [{ op: 'put', id: 'n1', kind: 'node', fields: { host: 'a' } }], trim: [] }), 1)
  sm.apply(encodeCommand({ type: 'emit', time: 2, id: 'e', payload: new Uint8Array(3) }), 2)
  const chunks = await collect(sm.snapshot())
  const target = new GraphStateMachine(schema)
  target.apply(encodeCommand({ type: 'tx', time: 1, expect: [], ops: [{ op: 'put', id: 'keep', kind: 'node', fields: { host: 'z' } }], trim: [] }), 1)
  const bad = [chunks.slice(0, -1), [new Uint8Array([5, 9, 9, 9, 9, 9])], [], [...chunks, new Uint8Array([1, 6])]]
  for (const stream of bad) {
    try {
      await target.restore(from(stream))
      assert.unreachable('restore accepted a bad stream')
    } catch (err) {
      assert.is((err as { code?: string }).code, 'GRAPH_SNAPSHOT_INVALID', String(err))
    }
    assert.throws(() => target.apply(encodeCommand({ type: 'emit', time: 3, id: 'x', payload: new Uint8Array(0) }), 3), (e: { code: string }) => e.code === 'GRAPH_SNAPSHOT_INVALID')
    assert.throws(() => target.snapshot(), (e: { code: string }) => e.code === 'GRAPH_SNAPSHOT_INVALID')
  }
  await target.restore(from(chunks))
  assert.is(render(target), render(sm))
})

test('a snapshot stream fails if the state changes under it instead of mixing two states', async () => {
  const sm = new GraphStateMachine(schema, { snapshotChunkBytes: 1 })
  for (let i = 1; i <= 3; i++) sm.apply(encodeCommand({ type: 'tx', time: i, expect: [], ops: [{ op: 'put', id: `n${i}`, kind: 'node', fields: { host: 'a' } }], trim: [] }), i)
  const it = sm.snapshot()[Symbol.asyncIterator]()
  await it.next()
  sm.apply(encodeCommand({ type: 'emit', time: 9, id: 'e', payload: new Uint8Array(0) }), 4)
  try {
    for (let r = await it.next(); r.done !== true; r = await it.next()) { /* drain */ }
    assert.unreachable('the stream went on')
  } catch (err) {
    assert.is((err as { code?: string }).code, 'GRAPH_SNAPSHOT_INVALID')
  }
})

test('after a restore, watches resume only from after the snapshot (older changes are reported trimmed)', async () => {
  const sm = new GraphStateMachine(schema)
  sm.apply(encodeCommand({ type: 'tx', time: 1, expect: [], ops: [{ op: 'put', id: 'n1', kind: 'node', fields: { host: 'a' } }], trim: [] }), 5)
  const copy = new GraphStateMachine(schema)
  await copy.restore(sm.snapshot())
  assert.is(copy.historyFloor, 6)
  assert.throws(() => copy.changesSince(1), (e: { code: string }) => e.code === 'GRAPH_HISTORY_TRIMMED')
  assert.equal(copy.changesSince(6), [])
})

test.run()

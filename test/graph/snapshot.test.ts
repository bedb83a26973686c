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
import { historyArb, opsArb, renderState, schema } from './helpers.js'

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

const laterArb: fc.Arbitrary<GraphCommand[]> = fc.array(fc.oneof(
  opsArb.map((ops): GraphCommand => ({ type: 'tx', time: 0, expect: [], ops, trim: [] })),
  fc.constantFrom('e0', 'e1', 'e2', 'e5', 'e6').map((id): GraphCommand => ({ type: 'emit', time: 0, id, payload: new Uint8Array([id.length]) })),
  fc.tuple(opsArb, fc.subarray(['e0', 'e1', 'e2', 'e3', 'e4', 'e5'], { maxLength: 2 })).map(([ops, trim]): GraphCommand => ({ type: 'tx', time: 0, expect: [], ops, trim }))
), { maxLength: 30 })

function concat (chunks: readonly Uint8Array[]): number[] { return chunks.flatMap((c) => [...c]) }

test('a snapshot stream is the state at the call however applies interleave with its reading (two streams open at once)', async () => {
  await fc.assert(fc.asyncProperty(
    historyArb, fc.array(fc.constantFrom('e0', 'e1', 'e2', 'e3', 'e4')), fc.integer({ min: 1, max: 64 }), laterArb,
    fc.array(fc.nat(3), { minLength: 1, maxLength: 10 }), fc.nat(30),
    async (history, emits, chunkBytes, later, perChunk, secondAt) => {
      // Each later command gets a time past the history's, some far enough to expire dedup ids.
      const commands = later.map((c, i) => ({ ...c, time: history.length * 10 + i * 20 }))
      const second = Math.min(secondAt, commands.length)
      // Reference: each snapshot read to its end before anything else is applied.
      const ref = build(history, emits, chunkBytes)
      const ref1 = concat(await collect(ref.snapshot()))
      let ref2: number[] = []
      for (let i = 0; i <= commands.length; i++) {
        if (i === second) ref2 = concat(await collect(ref.snapshot()))
        if (i < commands.length) ref.apply(encodeCommand(commands[i]!), ref.appliedIndex + 1)
      }
      // The same machine with the commands applied between reads of both streams.
      const sm = build(history, emits, chunkBytes)
      const first = sm.snapshot()[Symbol.asyncIterator]()
      let other: AsyncIterator<Uint8Array> | null = null
      const got1: Uint8Array[] = []
      const got2: Uint8Array[] = []
      let next = 0
      const applyOne = (): void => {
        if (next === second && other === null) other = sm.snapshot()[Symbol.asyncIterator]()
        if (next < commands.length) sm.apply(encodeCommand(commands[next++]!), sm.appliedIndex + 1)
      }
      let done1 = false
      let done2 = false
      for (let k = 0; !done1 || (other !== null && !done2) || next < commands.length; k++) {
        if (!done1) { const r = await first.next(); if (r.done === true) done1 = true; else got1.push(r.value) }
        if (other !== null && !done2) { const r = await (other as AsyncIterator<Uint8Array>).next(); if (r.done === true) done2 = true; else got2.push(r.value) }
        for (let j = perChunk[k % perChunk.length]!; j > 0; j--) applyOne()
        if (done1 && next < commands.length) applyOne()
        if (done1 && other === null && next >= commands.length) other = sm.snapshot()[Symbol.asyncIterator]()
      }
      assert.equal(concat(got1), ref1)
      assert.equal(concat(got2), ref2)
      // Both machines applied the same commands and agree; every view was closed.
      assert.is(render(sm), render(ref))
      assert.is(sm.graph.openViews, 0)
      assert.is(sm.events.openViews, 0)
    }), { seed: 1422, numRuns: 200 })
})

test('a snapshot returned before or during its reading closes its views (no copying goes on for it)', async () => {
  for (const reads of [0, 1, 3]) {
    const sm = build([[{ op: 'put', id: 'n0', kind: 'node', fields: { host: 'h1' } }, { op: 'put', id: 'n1', kind: 'node', fields: { host: 'h1' } }]], ['e0', 'e1'], 1)
    const it = sm.snapshot()[Symbol.asyncIterator]()
    for (let i = 0; i < reads; i++) await it.next()
    assert.is(sm.graph.openViews, 1)
    assert.is(sm.events.openViews, 1)
    await it.return!()
    assert.is(sm.graph.openViews, 0, `after ${reads} reads`)
    assert.is(sm.events.openViews, 0, `after ${reads} reads`)
  }
})

test('copy-on-write: changing a large graph during its snapshot copies only what changed, and the stream restores the state at the call', async () => {
  const sm = new GraphStateMachine(schema, { snapshotChunkBytes: 4096 })
  const ops: GraphOp[] = []
  for (let i = 0; i < 20_000; i++) {
    ops.push({ op: 'put', id: `n${i}`, kind: 'node', fields: { host: `host-${i}` } })
    if (i > 0) ops.push({ op: 'connect', relation: 'pairs', from: `n${i - 1}`, to: `n${i}` })
  }
  sm.apply(encodeCommand({ type: 'tx', time: 1, expect: [], ops, trim: [] }), 1)
  const before = renderState(sm.graph)
  const copy = new GraphStateMachine(schema)
  let index = 1
  await copy.restore((async function * () {
    for await (const c of sm.snapshot()) {
      // Every chunk read, one resource far ahead of the reader changes and one is deleted.
      index++
      const n = (index * 97) % 20_000
      sm.apply(encodeCommand({ type: 'tx', time: index, expect: [], ops: [{ op: 'update', id: `n${n}`, fields: { host: 'changed' } }, { op: 'delete', id: `n${(n + 5_000) % 20_000}` }], trim: [] }), index)
      yield c
    }
  })())
  assert.ok(index > 100, `${index} chunks`)
  assert.is(renderState(copy.graph), before)
  assert.is(sm.graph.openViews, 0)
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

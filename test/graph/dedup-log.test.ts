/**
 * The encoded dedup log (src/graph/dedup-log.ts) that graph snapshots take the remembered ids
 * from instead of encoding the whole table per snapshot: after any mix of remembers and
 * expiries its frames are byte for byte the records one-by-one packing writes for the ids
 * still remembered, oldest first; a view taken earlier is unchanged by everything after it;
 * and a machine's snapshot carries exactly its dedup table, in order, through any expiry.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { ByteWriter, concatBytes } from '../../src/util/bytes.js'
import { EncodedDedupLog } from '../../src/graph/dedup-log.js'
import { unpackRecords, writeRecord } from '../../src/graph/snapshot.js'
import type { DedupEntry } from '../../src/graph/events.js'
import { GraphStateMachine, encodeCommand } from '../../src/graph/index.js'
import { schema } from './helpers.js'

/** The bytes of packing these entries' records one by one (the encoding before the log). */
function reference (entries: readonly DedupEntry[]): Uint8Array {
  const out = new ByteWriter(64)
  const scratch = new ByteWriter(64)
  for (const entry of entries) writeRecord(out, scratch, { type: 'dedup', entry })
  return out.finish().slice()
}

type Step = { kind: 'remember', id: string, index: number } | { kind: 'expire', n: number } | { kind: 'view' }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('remember' as const), id: fc.string({ minLength: 1, maxLength: 40 }), index: fc.nat({ max: 2 ** 40 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expire' as const), n: fc.nat({ max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('view' as const) }) }
)

test('after any remembers and expiries the frames are the one-by-one encoding of the ids still remembered, and earlier views never change', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 200 }), fc.array(stepArb, { maxLength: 120 }), (blockBytes, steps) => {
    const log = new EncodedDedupLog(blockBytes)
    const model: DedupEntry[] = []
    const views: Array<{ frames: Uint8Array[], expected: Uint8Array }> = []
    for (const [i, s] of steps.entries()) {
      if (s.kind === 'remember') {
        const entry = { id: `${s.id}#${i}`, index: s.index, time: i * 7 }
        log.append(entry)
        model.push(entry)
      } else if (s.kind === 'expire') {
        const n = Math.min(s.n, model.length)
        log.dropOldest(n)
        model.splice(0, n)
      } else {
        views.push({ frames: log.frames(), expected: reference(model) })
      }
      assert.is(log.count, model.length)
    }
    assert.equal(concatBytes(log.frames()), reference(model))
    for (const v of views) assert.equal(concatBytes(v.frames), v.expected)
  }), { seed: 6714, numRuns: 300 })
})

test('a machine snapshot carries its dedup table exactly, in order, through expiry and restore', async () => {
  const sm = new GraphStateMachine(schema, { snapshotChunkBytes: 97, events: { dedupWindowMs: 40 } })
  let index = 0
  for (let i = 0; i < 400; i++) {
    sm.apply(encodeCommand({ type: 'emit', time: i, id: `ev-${i}`, payload: new Uint8Array([i & 0xff]) }), ++index)
    if (i % 5 === 4) sm.apply(encodeCommand({ type: 'tx', time: i, expect: [], ops: [], trim: [`ev-${i}`, `ev-${i - 1}`] }), ++index)
  }
  const expected = [...sm.events.dedupEntries()]
  assert.ok(expected.length > 0 && expected.length < 400, `expiry ran (${expected.length} remembered)`)
  const chunks: Uint8Array[] = []
  for await (const c of sm.snapshot()) chunks.push(c)
  const dedup: DedupEntry[] = []
  for await (const rec of unpackRecords((async function * () { yield * chunks })())) if (rec.type === 'dedup') dedup.push(rec.entry)
  assert.equal(dedup, expected)
  // A restored copy rebuilds its own log from the records: its snapshot is the same bytes.
  const copy = new GraphStateMachine(schema, { snapshotChunkBytes: 97, events: { dedupWindowMs: 40 } })
  await copy.restore((async function * () { yield * chunks })())
  const again: Uint8Array[] = []
  for await (const c of copy.snapshot()) again.push(c)
  assert.equal(concatBytes(again), concatBytes(chunks))
})

test.run()

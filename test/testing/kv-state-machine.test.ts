import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { isQuorateError } from '../../src/errors.js'
import { decodeKvCommand, encodeKvCommand } from '../../src/kv/command.js'
import { KvStateMachine } from '../../src/kv/state-machine.js'
import { HistoryRecorder } from '../../src/testing/history.js'
import { checkLinearizability } from '../../src/testing/linearizability.js'
import { kvModel } from '../../src/testing/kv-model.js'
import type { KvInput, KvOutput } from '../../src/testing/kv-model.js'
import { KvWorkload } from '../../src/testing/kv-workload.js'
import { SeededRandom } from '../../src/util/random.js'

const text = fc.string({ unit: 'grapheme', maxLength: 12 })
const kvInput: fc.Arbitrary<KvInput> = fc.oneof(
  fc.record({ op: fc.constant('get' as const), key: text }),
  fc.record({ op: fc.constant('put' as const), key: text, value: text }),
  fc.record({ op: fc.constant('cas' as const), key: text, expected: fc.option(text, { nil: null }), value: text }),
  fc.record({ op: fc.constant('append' as const), key: text, value: text })
)

test('commands survive an encode/decode round trip', () => {
  fc.assert(fc.property(kvInput, (input) => {
    assert.equal(decodeKvCommand(encodeKvCommand(input)), { ...input })
  }), { seed: 1032, numRuns: 300 })
})

test('apply turns any undecodable bytes into an error result instead of throwing', () => {
  const sm = new KvStateMachine()
  let index = 0
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
    const out = sm.apply(bytes, ++index)
    let decodable = true
    try { decodeKvCommand(bytes) } catch { decodable = false }
    assert.is(out.op === 'error', !decodable)
  }), { seed: 1033, numRuns: 500 })
  const truncated = encodeKvCommand({ op: 'put', key: 'x', value: 'hello' }).subarray(0, 8)
  const out = sm.apply(truncated, ++index)
  assert.is(out.op, 'error')
  assert.match((out as { message: string }).message, /malformed KV command/)
  assert.equal(sm.apply(new Uint8Array([3, 0, 0, 0, 0, 7, 0, 0, 0, 0]), ++index), { op: 'error', message: 'KV command cas: bad expected flag 7' })
})

test('encoding refuses malformed inputs with KV_COMMAND_INVALID', () => {
  for (const bad of [{ op: 'delete', key: 'x' }, { op: 'put', key: 1, value: 'v' }, { op: 'cas', key: 'x', expected: 3, value: 'v' }, { op: 'append', key: 'x' }]) {
    try { encodeKvCommand(bad as never); assert.unreachable(JSON.stringify(bad)) } catch (err) {
      assert.ok(isQuorateError(err, 'KV_COMMAND_INVALID'), JSON.stringify(bad))
    }
  }
})

test('apply refuses an index that does not increase and leaves the state alone', () => {
  const sm = new KvStateMachine()
  assert.equal(sm.apply(encodeKvCommand({ op: 'put', key: 'x', value: '1' }), 5), { op: 'put' })
  const out = sm.apply(encodeKvCommand({ op: 'put', key: 'x', value: '2' }), 5)
  assert.is(out.op, 'error')
  assert.is(sm.get('x'), '1')
  assert.is(sm.appliedIndex, 5)
})

async function collect (chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const chunk of chunks) out.push(chunk)
  return out
}

async function * replay (chunks: Uint8Array[]): AsyncGenerator<Uint8Array> { yield * chunks }

test('a snapshot restores the same entries and applied index, in chunks', async () => {
  const sm = new KvStateMachine({ snapshotChunkBytes: 32 })
  const workload = new KvWorkload(new SeededRandom(9), { keys: 20 })
  for (let i = 1; i <= 300; i++) sm.apply(encodeKvCommand(workload.next()), i)
  const snapshot = sm.snapshot()
  sm.apply(encodeKvCommand({ op: 'put', key: 'late', value: 'not in the snapshot' }), 301)
  const chunks = await collect(snapshot)
  assert.ok(chunks.length > 5, `expected several chunks, got ${chunks.length}`)
  const copy = new KvStateMachine()
  await copy.restore(replay(chunks))
  assert.is(copy.appliedIndex, 300)
  assert.is(copy.get('late'), null)
  assert.equal(copy.entries(), sm.entries().filter(([k]) => k !== 'late'))
  assert.equal(copy.apply(encodeKvCommand({ op: 'get', key: 'k1' }), 301), { op: 'get', value: sm.get('k1') })
})

test('a corrupt snapshot is rejected with STORAGE_CORRUPT and the state is kept', async () => {
  const source = new KvStateMachine()
  source.apply(encodeKvCommand({ op: 'put', key: 'x', value: '1' }), 1)
  const [bytes] = await collect(source.snapshot())
  const target = new KvStateMachine()
  target.apply(encodeKvCommand({ op: 'put', key: 'mine', value: 'kept' }), 1)
  const corruptions = [bytes!.subarray(0, bytes!.length - 1), Uint8Array.of(...bytes!, 0), Uint8Array.of(0, ...bytes!.subarray(1))]
  for (const corrupt of corruptions) {
    try { await target.restore(replay([corrupt])); assert.unreachable() } catch (err) {
      assert.ok(isQuorateError(err, 'STORAGE_CORRUPT'), String(err))
    }
  }
  assert.equal(target.entries(), [['mine', 'kept']])
})

test('apply results recorded as outputs check as linearizable against the KV model', () => {
  const sm = new KvStateMachine()
  const recorder = new HistoryRecorder<KvInput, KvOutput>()
  const workload = new KvWorkload(new SeededRandom(4), { keys: 4 })
  for (let i = 1; i <= 400; i++) {
    const input = workload.next()
    const id = recorder.invoke(`c${i % 3}`, input, i)
    recorder.ok(id, sm.apply(encodeKvCommand(input), i), i)
  }
  const result = checkLinearizability(kvModel, recorder.history())
  assert.is(result.result, 'ok', result.explanation)
})

test('invalid options are refused', () => {
  try { new KvStateMachine({ snapshotChunkBytes: 0 }); assert.unreachable() } catch (err) { assert.ok(isQuorateError(err, 'OPTIONS_INVALID')) }
})

test.run()

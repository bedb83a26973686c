import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UNKNOWN } from '../../src/testing/model.js'
import { describeKvOperation, kvModel, kvTransition } from '../../src/testing/kv-model.js'
import type { KvInput, KvOutput, KvState } from '../../src/testing/kv-model.js'
import { KvWorkload } from '../../src/testing/kv-workload.js'
import { SeededRandom } from '../../src/util/random.js'
import { isQuorateError } from '../../src/errors.js'
import { checkLinearizability } from '../../src/testing/linearizability.js'
import type { Operation } from '../../src/testing/history.js'

function run (inputs: KvInput[]): KvOutput[] {
  let current: string | null = null
  return inputs.map((input) => {
    const t = kvTransition(current, input)
    current = t.value
    return t.output
  })
}

test('get, put, cas and append follow the documented semantics', () => {
  assert.equal(run([
    { op: 'get', key: 'x' },
    { op: 'cas', key: 'x', expected: 'a', value: 'b' },
    { op: 'cas', key: 'x', expected: null, value: 'a' },
    { op: 'append', key: 'x', value: '-1' },
    { op: 'put', key: 'x', value: 'z' },
    { op: 'get', key: 'x' }
  ]), [
    { op: 'get', value: null },
    { op: 'cas', ok: false },
    { op: 'cas', ok: true },
    { op: 'append', value: 'a-1' },
    { op: 'put' },
    { op: 'get', value: 'z' }
  ])
})

test('the model rejects outputs the store could not produce and accepts any unknown output', () => {
  const s0 = kvModel.init()
  const put = kvModel.step(s0, { op: 'put', key: 'x', value: '1' }, { op: 'put' })
  assert.ok(put.ok)
  const s1 = (put as { state: KvState }).state
  assert.is(s0.size, 0, 'step does not mutate its input state')
  assert.not.ok(kvModel.step(s1, { op: 'get', key: 'x' }, { op: 'get', value: '2' }).ok)
  assert.not.ok(kvModel.step(s1, { op: 'get', key: 'x' }, { op: 'put' }).ok)
  assert.not.ok(kvModel.step(s1, { op: 'get', key: 'x' }, { op: 'error', message: 'bad' }).ok)
  assert.not.ok(kvModel.step(s1, { op: 'cas', key: 'x', expected: '1', value: '2' }, { op: 'cas', ok: false }).ok)
  assert.not.ok(kvModel.step(s1, { op: 'append', key: 'x', value: 'b' }, { op: 'append', value: 'b' }).ok)
  const unknownAppend = kvModel.step(s1, { op: 'append', key: 'x', value: 'b' }, UNKNOWN)
  assert.ok(unknownAppend.ok)
  assert.is((unknownAppend as { state: KvState }).state.get('x'), '1b')
})

test('states hash and compare by content', () => {
  const a = new Map([['x', '1'], ['y', '2']])
  const b = new Map([['y', '2'], ['x', '1']])
  assert.is(kvModel.hash?.(a), kvModel.hash?.(b))
  assert.ok(kvModel.equal?.(a, b))
  assert.not.ok(kvModel.equal?.(a, new Map([['x', '1']])))
  assert.is.not(kvModel.hash?.(new Map([['x', '1\u0000y']])), kvModel.hash?.(new Map([['x', '1']])))
})

test('histories are partitioned per key', () => {
  const op = (key: string, t: number) => ({ clientId: 'a', input: { op: 'get', key } as KvInput, invoke: t, return: t + 1, output: { op: 'get', value: null } as KvOutput })
  const parts = kvModel.partition?.([op('x', 0), op('y', 1), op('x', 2)])
  assert.equal([...(parts?.keys() ?? [])], ['x', 'y'])
  assert.equal(parts?.get('x')?.map((o) => o.invoke), [0, 2])
})

test('operations render readably', () => {
  assert.is(describeKvOperation({ op: 'cas', key: 'x', expected: null, value: 'a' }, { op: 'cas', ok: true }), 'cas("x", null => "a") -> ok')
  assert.is(describeKvOperation({ op: 'get', key: 'x' }, UNKNOWN), 'get("x") -> ? (unknown outcome)')
  assert.is(kvModel.describeState?.(new Map([['b', '2'], ['a', '1']])), '{ "a": "1", "b": "2" }')
})

test('the workload writes unique values and only the keys it was given', () => {
  const workload = new KvWorkload(new SeededRandom(3), { keys: 3 })
  const inputs = Array.from({ length: 500 }, () => workload.next())
  const written = inputs.flatMap((i) => i.op === 'get' ? [] : [i.value])
  assert.is(new Set(written).size, written.length)
  assert.equal([...new Set(inputs.map((i) => i.key))].sort(), ['k0', 'k1', 'k2'])
  assert.equal([...new Set(inputs.map((i) => i.op))].sort(), ['append', 'cas', 'get', 'put'])
  const onlyPuts = new KvWorkload(new SeededRandom(3), { weights: { put: 1 } })
  assert.ok(Array.from({ length: 50 }, () => onlyPuts.next()).every((i) => i.op === 'put'))
  for (const bad of [{ keys: 0 }, { weights: { get: -1 } }, { weights: {} }]) {
    try { new KvWorkload(new SeededRandom(1), bad); assert.unreachable() } catch (err) { assert.ok(isQuorateError(err, 'OPTIONS_INVALID')) }
  }
})

type Op = Operation<KvInput, KvOutput>
const known = (input: KvInput, output: KvOutput, invoke: number, ret: number): Op => ({ clientId: 'k', input, output, invoke, return: ret })
const unknown = (input: KvInput, invoke: number): Op => ({ clientId: 'u', input, invoke, return: null })

test('unknown writes nobody could have observed are pruned, observed ones are kept', () => {
  const history = [
    known({ op: 'put', key: 'x', value: 'a' }, { op: 'put' }, 0, 1),
    unknown({ op: 'put', key: 'x', value: 'never-seen' }, 2),
    unknown({ op: 'get', key: 'x' }, 2),
    unknown({ op: 'append', key: 'x', value: '+seen' }, 3),
    known({ op: 'get', key: 'x' }, { op: 'get', value: 'a+seen' }, 5, 6)
  ]
  const kept = kvModel.prune?.(history) ?? []
  assert.equal(kept.map((op) => op.input.op === 'get' ? 'get' : (op.input as { value: string }).value), ['a', '+seen', 'get'])
  const result = checkLinearizability(kvModel, history)
  assert.is(result.result, 'ok')
  assert.is(result.stats.pruned, 2)
})

test('an unknown write that explains a failed cas is not pruned', () => {
  const history = [
    known({ op: 'put', key: 'x', value: 'a' }, { op: 'put' }, 0, 1),
    unknown({ op: 'put', key: 'x', value: 'b' }, 2),
    known({ op: 'cas', key: 'x', expected: 'a', value: 'c' }, { op: 'cas', ok: false }, 5, 6)
  ]
  assert.is(kvModel.prune?.(history).length, 3)
  assert.is(checkLinearizability(kvModel, history).result, 'ok')
  assert.is(checkLinearizability(kvModel, [history[0]!, history[2]!]).result, 'illegal')
})

test.run()

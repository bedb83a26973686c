import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import { assertLinearizable, checkLinearizability } from '../../src/testing/linearizability.js'
import type { Operation } from '../../src/testing/history.js'
import { registerModel } from '../../src/testing/register-model.js'
import type { RegisterInput, RegisterOutput, RegisterValue } from '../../src/testing/register-model.js'
import { kvModel } from '../../src/testing/kv-model.js'
import type { KvInput, KvOutput } from '../../src/testing/kv-model.js'
import { stableStringify } from '../../src/testing/model.js'
import type { Model } from '../../src/testing/model.js'
import { atomicKvHistory, withStaleRead } from './linearizability-helpers.js'

type RegOp = Operation<RegisterInput, RegisterOutput>
const register = registerModel(0)

const write = (clientId: string, value: RegisterValue, invoke: number, ret: number | null): RegOp =>
  ({ clientId, input: { op: 'write', value }, invoke, return: ret, output: { op: 'write' } })
const read = (clientId: string, value: RegisterValue, invoke: number, ret: number): RegOp =>
  ({ clientId, input: { op: 'read' }, invoke, return: ret, output: { op: 'read', value } })
const cas = (clientId: string, expected: RegisterValue, value: RegisterValue, ok: boolean, invoke: number, ret: number): RegOp =>
  ({ clientId, input: { op: 'cas', expected, value }, invoke, return: ret, output: { op: 'cas', ok } })

const verdict = (history: RegOp[]): string => checkLinearizability(register, history).result

test('a sequential history that follows the model is ok', () => {
  assert.is(verdict([write('a', 1, 0, 1), read('a', 1, 2, 3), write('b', 2, 4, 5), read('c', 2, 6, 7)]), 'ok')
  assert.is(verdict([]), 'ok')
})

test('concurrent writes may be read in either order', () => {
  const writes = [write('a', 1, 0, 10), write('b', 2, 0, 10)]
  assert.is(verdict([...writes, read('c', 1, 11, 12)]), 'ok')
  assert.is(verdict([...writes, read('c', 2, 11, 12)]), 'ok')
  assert.is(verdict([...writes, read('c', 1, 5, 6), read('c', 2, 7, 8)]), 'ok')
})

test('a read of a value never written is illegal and names the read', () => {
  const bad = read('b', 7, 2, 3)
  const result = checkLinearizability(register, [write('a', 1, 0, 1), bad])
  assert.is(result.result, 'illegal')
  assert.is(result.failedOperation, bad)
  assert.equal(result.partialLinearization?.map((op) => op.input.op), ['write'])
  assert.match(result.explanation ?? '', /Cannot place #1 client b \[2, 3\] read\(\) -> 7/)
  assert.match(result.explanation ?? '', /the model rejects it in this state/)
})

test('a stale read after a completed write is illegal', () => {
  assert.is(verdict([write('a', 1, 0, 1), write('a', 2, 2, 3), read('b', 1, 4, 5)]), 'illegal')
})

test('a write that un-happens (new value read, then the old one) is illegal', () => {
  const history = [write('a', 1, 0, 1), write('a', 2, 2, 20), read('b', 2, 3, 4), read('c', 1, 5, 6)]
  assert.is(verdict(history), 'illegal')
  assert.is(verdict(history.slice(0, 3)), 'ok')
})

test('two compare-and-sets from the same value cannot both succeed (lost update)', () => {
  assert.is(verdict([cas('a', 0, 1, true, 0, 10), cas('b', 0, 2, true, 0, 10)]), 'illegal')
  assert.is(verdict([cas('a', 0, 1, true, 0, 10), cas('b', 0, 2, false, 0, 10), read('c', 1, 11, 12)]), 'ok')
  assert.is(verdict([cas('a', 0, 1, true, 0, 10), cas('b', 1, 2, true, 0, 10), read('c', 2, 11, 12)]), 'ok')
})

test('an unknown-outcome write may be seen or not seen', () => {
  const unknownWrite = write('a', 1, 0, null)
  assert.is(verdict([unknownWrite, read('b', 1, 5, 6)]), 'ok')
  assert.is(verdict([unknownWrite, read('b', 0, 5, 6)]), 'ok')
  assert.is(verdict([unknownWrite, read('b', 0, 5, 6), read('b', 1, 7, 8)]), 'ok', 'it may take effect late')
  assert.is(verdict([{ ...unknownWrite, return: Infinity }, read('b', 1, 5, 6)]), 'ok', 'Infinity means unknown too')
})

test('an unknown-outcome write cannot take effect before its invoke or un-happen', () => {
  assert.is(verdict([write('a', 1, 10, null), read('b', 1, 0, 5)]), 'illegal')
  assert.is(verdict([write('a', 1, 0, null), read('b', 1, 5, 6), read('b', 0, 7, 8)]), 'illegal')
})

test('only unknown-outcome operations may be left out', () => {
  assert.is(verdict([write('a', 1, 0, 1), read('b', 0, 2, 3)]), 'illegal')
  assert.is(verdict([write('a', 1, 0, null), read('b', 0, 2, 3)]), 'ok')
})

test('an unknown output is accepted whatever the recorded output says', () => {
  const lyingRead: RegOp = { clientId: 'a', input: { op: 'read' }, invoke: 0, return: null, output: { op: 'read', value: 99 } }
  assert.is(verdict([lyingRead, read('b', 0, 1, 2)]), 'ok')
})

test('operations that share an instant overlap', () => {
  assert.is(verdict([write('a', 1, 0, 5), read('b', 0, 5, 6)]), 'ok')
  assert.is(verdict([write('a', 1, 0, 5), read('b', 0, 6, 7)]), 'illegal')
})

const get = (clientId: string, key: string, value: string | null, invoke: number, ret: number): Operation<KvInput, KvOutput> =>
  ({ clientId, input: { op: 'get', key }, invoke, return: ret, output: { op: 'get', value } })
const put = (clientId: string, key: string, value: string, invoke: number, ret: number): Operation<KvInput, KvOutput> =>
  ({ clientId, input: { op: 'put', key, value }, invoke, return: ret, output: { op: 'put' } })

test('the KV model checks keys apart and names the illegal key', () => {
  const history = [
    put('a', 'x', '1', 0, 1), put('a', 'y', '1', 2, 3), get('b', 'x', '1', 4, 5),
    get('b', 'y', null, 6, 7)
  ]
  const result = checkLinearizability(kvModel, history)
  assert.is(result.result, 'illegal')
  assert.is(result.key, 'y')
  assert.is(result.stats.partitions, 2)
  assert.match(result.explanation ?? '', /key "y"/)
  assert.is(checkLinearizability(kvModel, history.slice(0, 3)).result, 'ok')
})

/** A step budget far above what these small histories need: no verdict here depends on speed. */
const STEPS = { maxSteps: 2_000_000 }

test('partitioning per key gives the same verdicts as checking the whole history', () => {
  const whole: Model<ReadonlyMap<string, string>, KvInput, KvOutput> = { ...kvModel, partition: undefined }
  for (let seed = 1; seed <= 15; seed++) {
    const history = atomicKvHistory({ seed, clients: 4, operations: 40, keys: 3, unknownRate: 0.1 })
    for (const [h, expected] of [[history, 'ok'], [withStaleRead(history), 'illegal']] as const) {
      assert.is(checkLinearizability(kvModel, h, STEPS).result, expected, `seed ${seed}`)
      assert.is(checkLinearizability(whole, h, STEPS).result, expected, `seed ${seed}`)
    }
  }
})

test('the verdict does not depend on the memo or its capacity', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const history = atomicKvHistory({ seed, clients: 5, operations: 60, keys: 2, unknownRate: 0.1 })
    for (const [h, expected] of [[history, 'ok'], [withStaleRead(history), 'illegal']] as const) {
      assert.is(checkLinearizability(kvModel, h, { ...STEPS, maxCacheEntries: 0 }).result, expected)
      assert.is(checkLinearizability(kvModel, h, { ...STEPS, maxCacheEntries: 7 }).result, expected)
    }
  }
})

/**
 * 40 concurrent writes and a read of a value none wrote: proving it illegal means trying
 * every subset of the writes, far more than any small budget allows.
 */
function needsExhaustiveSearch (): RegOp[] {
  return [...Array.from({ length: 40 }, (_, i) => write(`c${i}`, i + 1, 0, 100)), read('r', 'never', 200, 201)]
}

/** A clock that advances 1 ms each time it is read. */
function tickingClock (): { now: () => number } {
  let now = 0
  return { now: () => now++ }
}

test('running out of the budget returns timeout, never ok', () => {
  const result = checkLinearizability(register, needsExhaustiveSearch(), { timeoutMs: 50, clock: tickingClock() })
  assert.is(result.result, 'timeout')
  assert.match(result.explanation ?? '', /not a pass/)
  assert.ok(result.stats.steps > 0)
})

test('a model without hash or equal falls back to comparing states as JSON', () => {
  const counter: Model<{ n: number }, 'inc' | 'read', number | undefined> = {
    init: () => ({ n: 0 }),
    step: (s, input, output) => input === 'inc'
      ? { ok: true, state: { n: s.n + 1 } }
      : (output === s.n || typeof output === 'symbol') ? { ok: true, state: s } : { ok: false }
  }
  const op = (input: 'inc' | 'read', output: number | undefined, invoke: number, ret: number): Operation<'inc' | 'read', number | undefined> =>
    ({ clientId: 'a', input, output, invoke, return: ret })
  assert.is(checkLinearizability(counter, [op('inc', undefined, 0, 5), op('inc', undefined, 0, 5), op('read', 2, 6, 7)]).result, 'ok')
  const bad = checkLinearizability(counter, [op('inc', undefined, 0, 5), op('read', 2, 6, 7)])
  assert.is(bad.result, 'illegal')
  assert.match(bad.explanation ?? '', /State after it: \{"n":1\}/)
})

test('bad options and malformed histories are refused with stable codes', () => {
  const codeOf = (fn: () => unknown): string | undefined => {
    try { fn() } catch (err) { return isQuorateError(err) ? err.code : 'not a QuorateError' }
    return undefined
  }
  assert.is(codeOf(() => checkLinearizability(register, [], { timeoutMs: -1 })), 'OPTIONS_INVALID')
  assert.is(codeOf(() => checkLinearizability(register, [], { timeoutMs: Number.NaN })), 'OPTIONS_INVALID')
  assert.is(codeOf(() => checkLinearizability(register, [], { maxCacheEntries: 1.5 })), 'OPTIONS_INVALID')
  assert.is(codeOf(() => checkLinearizability(register, [], { clock: {} as never })), 'OPTIONS_INVALID')
  assert.is(codeOf(() => checkLinearizability({ init: () => 0 } as never, [])), 'OPTIONS_INVALID')
  assert.is(codeOf(() => checkLinearizability(register, [write('a', 1, 5, 4)])), 'CHECKER_HISTORY_INVALID')
  assert.is(codeOf(() => checkLinearizability(register, [write('a', 1, Number.NaN, 4)])), 'CHECKER_HISTORY_INVALID')
  const dropping = { ...kvModel, partition: () => new Map() }
  assert.is(codeOf(() => checkLinearizability(dropping, [put('a', 'x', '1', 0, 1)])), 'OPTIONS_INVALID')
})

test('explanations show the last steps of a long prefix and the candidates', () => {
  const history: RegOp[] = []
  for (let i = 0; i < 30; i++) history.push(write('a', i + 1, 2 * i, 2 * i + 1))
  history.push(read('b', 5, 100, 101))
  const result = checkLinearizability(register, history)
  assert.is(result.result, 'illegal')
  assert.is(result.partialLinearization?.length, 30)
  const text = result.explanation ?? ''
  assert.match(text, /10 earlier operations/)
  assert.match(text, /State after it: 30/)
  assert.match(text, /#30 client b \[100, 101\] read\(\) -> 5: the model rejects it/)
  assert.is(stableStringify(new Map([['b', 1], ['a', 2]])), '[["a",2],["b",1]]')
})

test('assertLinearizable throws with the explanation unless the history is ok', () => {
  assert.is(assertLinearizable(register, [write('a', 1, 0, 1), read('b', 1, 2, 3)]).result, 'ok')
  try {
    assertLinearizable(register, [write('a', 1, 0, 1), read('b', 0, 2, 3)])
    assert.unreachable()
  } catch (err) {
    assert.ok(isQuorateError(err, 'CHECKER_NOT_LINEARIZABLE'))
    assert.match(err.message, /Cannot place #1 client b/)
    assert.is((err.info?.result as { result: string }).result, 'illegal')
  }
  try {
    assertLinearizable(register, needsExhaustiveSearch(), { timeoutMs: 10, clock: tickingClock() })
    assert.unreachable()
  } catch (err) {
    assert.ok(isQuorateError(err, 'CHECKER_TIMEOUT'))
  }
})

test.run()

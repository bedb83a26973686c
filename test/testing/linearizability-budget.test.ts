/**
 * How the checker spends its budget over sub-histories: every key is checked with the budget
 * shared fairly, an illegal key wins over keys that ran out of budget, and every unfinished
 * key is named. Budgets here are in steps, so no verdict depends on the machine's speed.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import { checkLinearizability, MAX_CACHE_ENTRIES } from '../../src/testing/linearizability.js'
import type { Operation } from '../../src/testing/history.js'
import { kvModel } from '../../src/testing/kv-model.js'
import { registerModel } from '../../src/testing/register-model.js'
import type { RegisterInput, RegisterOutput } from '../../src/testing/register-model.js'
import { easyKey, hardKey, put, staleKey } from './budget-histories.js'
import type { KvOp } from './budget-histories.js'

function codeOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return isQuorateError(err) ? err.code : `not a QuorateError: ${String(err)}` }
  return undefined
}

test('a key that runs out of budget does not hide a later illegal key: key 1 times out, key 2 is illegal => illegal', () => {
  const result = checkLinearizability(kvModel, [...hardKey('k1'), ...staleKey('k2')], { maxSteps: 50_000 })
  assert.is(result.result, 'illegal')
  assert.is(result.key, 'k2')
  assert.is(result.failedOperation?.input.op, 'get')
  assert.match(result.explanation ?? '', /key "k2"/)
  assert.ok(result.stats.steps <= 50_000, `${result.stats.steps} steps`)
})

test('an illegal key is found whichever position it has among keys that would time out', () => {
  for (const order of [['stale', 'hard', 'hard'], ['hard', 'stale', 'hard'], ['hard', 'hard', 'stale']]) {
    const history = order.flatMap((kind, i) => kind === 'hard' ? hardKey(`k${i}`) : staleKey(`k${i}`))
    const result = checkLinearizability(kvModel, history, { maxSteps: 100_000 })
    assert.is(result.result, 'illegal', order.join(','))
    assert.is(result.key, `k${order.indexOf('stale')}`)
  }
})

test('when the budget runs out every unfinished key is named and the finished ones are not', () => {
  const history = [...hardKey('a'), ...easyKey('b', 20), ...hardKey('c')]
  const result = checkLinearizability(kvModel, history, { maxSteps: 30_000 })
  assert.is(result.result, 'timeout')
  assert.is(result.key, 'a', 'the first unfinished key, as before')
  assert.equal(result.timedOut?.map((t) => [t.key, t.index, t.operations]), [['a', 0, 31], ['c', 2, 31]])
  const explanation = result.explanation ?? ''
  assert.match(explanation, /30000 steps budget/)
  assert.match(explanation, /2 of 3 sub-histories unfinished: key "a" \(31 operations, \d+ steps\), key "c"/)
  assert.match(explanation, /the other 1 are linearizable/)
  assert.match(explanation, /not a pass/)
})

test('the step budget is shared fairly: each unfinished key gets an equal share and unused steps go to the others', () => {
  const result = checkLinearizability(kvModel, [...hardKey('a'), ...easyKey('b', 200), ...hardKey('c')], { maxSteps: 60_000 })
  assert.is(result.result, 'timeout')
  const [a, c] = result.timedOut ?? []
  assert.ok(a !== undefined && c !== undefined)
  // b needs far fewer than a third of the budget; a and c split the rest within one slice.
  assert.ok(Math.abs(a.steps - c.steps) <= 4096, `a ${a.steps} steps, c ${c.steps}`)
  assert.ok(a.steps + c.steps > 60_000 - 4096 - 2000, `the hard keys used what b left (${a.steps} + ${c.steps})`)
  assert.is(result.stats.steps, 60_000)
})

test('a step-budgeted check reads no deadline and gives the same result every time', () => {
  let reads = 0
  const clock = { now: () => { reads++; return 1000 * reads } }
  const history = [...hardKey('a'), ...easyKey('b', 10)]
  const strip = (r: ReturnType<typeof checkLinearizability>): unknown => ({ ...r, stats: { ...r.stats, elapsedMs: 0 } })
  const first = checkLinearizability(kvModel, history, { maxSteps: 20_000, clock })
  const second = checkLinearizability(kvModel, history, { maxSteps: 20_000, clock })
  assert.equal(strip(first), strip(second))
  assert.is(first.result, 'timeout')
  assert.is(reads, 4, 'the clock is read only for elapsedMs, however fast the clock runs')
})

test('a time budget still bounds a step-unlimited check, across all keys', () => {
  let now = 0
  const result = checkLinearizability(kvModel, [...hardKey('a'), ...hardKey('b')], { timeoutMs: 100, clock: { now: () => now++ } })
  assert.is(result.result, 'timeout')
  assert.equal(result.timedOut?.map((t) => t.key), ['a', 'b'])
  assert.match(result.explanation ?? '', /100 ms budget/)
})

test('maxCacheEntries above 2^24 (a Map\'s limit) is refused with OPTIONS_INVALID; 2^24 is accepted', () => {
  assert.is(MAX_CACHE_ENTRIES, 2 ** 24)
  assert.is(codeOf(() => checkLinearizability(kvModel, [], { maxCacheEntries: 2 ** 24 + 1 })), 'OPTIONS_INVALID')
  assert.is(codeOf(() => checkLinearizability(kvModel, [], { maxCacheEntries: 2 ** 30 })), 'OPTIONS_INVALID')
  assert.is(checkLinearizability(kvModel, easyKey('a', 5), { maxCacheEntries: 2 ** 24 }).result, 'ok')
  try {
    checkLinearizability(kvModel, [], { maxCacheEntries: 2 ** 25 })
  } catch (err) {
    assert.match(String(err), /maxCacheEntries.*16777216/)
  }
})

test('bad budgets and unknown option keys are refused with OPTIONS_INVALID', () => {
  for (const options of [{ maxSteps: -1 }, { maxSteps: 1.5 }, { maxSteps: Number.NaN }, { maxSteps: '10' }, { timeoutMS: 10 }, { workers: 2 }]) {
    assert.is(codeOf(() => checkLinearizability(kvModel, [], options as never)), 'OPTIONS_INVALID', JSON.stringify(options))
  }
  assert.throws(() => checkLinearizability(kvModel, [], { workers: 2 } as never), /checkLinearizabilityInWorkers/)
  assert.is(checkLinearizability(kvModel, staleKey('a'), { maxSteps: Infinity }).result, 'illegal')
  assert.is(checkLinearizability(kvModel, staleKey('a'), { maxSteps: 0 }).result, 'timeout')
})

test('a completed operation with no output is CHECKER_HISTORY_INVALID naming it, in the kv and register models', () => {
  const kvNoOutput: KvOp = { clientId: 'a', input: { op: 'get', key: 'x' }, invoke: 2, return: 3 }
  const kvHistory = [put('x', '1', 0, 1), kvNoOutput]
  assert.is(codeOf(() => checkLinearizability(kvModel, kvHistory)), 'CHECKER_HISTORY_INVALID')
  assert.throws(() => checkLinearizability(kvModel, kvHistory), /operation #1: a completed get needs an output/)
  const regNoOutput: Operation<RegisterInput, RegisterOutput> = { clientId: 'a', input: { op: 'read' }, invoke: 0, return: 1 }
  assert.is(codeOf(() => checkLinearizability(registerModel(0), [regNoOutput])), 'CHECKER_HISTORY_INVALID')
  assert.is(codeOf(() => checkLinearizability(kvModel, [{ ...kvNoOutput, input: { op: 'get' } as never, output: { op: 'get', value: null } }])), 'CHECKER_HISTORY_INVALID')
  assert.is(codeOf(() => checkLinearizability(registerModel(0), [{ ...regNoOutput, input: { op: 'peek' } as never }])), 'CHECKER_HISTORY_INVALID')
  // An unknown outcome needs no output.
  assert.is(checkLinearizability(kvModel, [{ ...kvNoOutput, return: null }]).result, 'ok')
})

test.run()

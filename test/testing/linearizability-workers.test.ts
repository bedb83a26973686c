/**
 * checkLinearizabilityInWorkers: the same verdicts as the in-thread checker, with the
 * searches in worker threads; built-in models by name and a user's model by module URL.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import { checkLinearizability, checkLinearizabilityInWorkers } from '../../src/testing/linearizability.js'
import type { CheckResult, ModelReference } from '../../src/testing/linearizability.js'
import type { Operation } from '../../src/testing/history.js'
import { kvModel } from '../../src/testing/kv-model.js'
import { registerModel } from '../../src/testing/register-model.js'
import type { RegisterInput, RegisterOutput } from '../../src/testing/register-model.js'
import { atomicKvHistory, withStaleRead } from './linearizability-helpers.js'
import { easyKey, hardKey, staleKey } from './budget-histories.js'
import { counterModel } from './counter-model.js'
import type { CounterInput } from './counter-model.js'

const KV: ModelReference = { builtin: 'kv' }
const counterModule = new URL('./counter-model.js', import.meta.url)

/** The result without its wall-clock field, which is the only one allowed to differ. */
function comparable (r: CheckResult<unknown, unknown>): unknown {
  return { ...r, stats: { ...r.stats, elapsedMs: 0 } }
}

async function codeOf (fn: () => Promise<unknown>): Promise<string | undefined> {
  try { await fn() } catch (err) { return isQuorateError(err) ? err.code : `not a QuorateError: ${String(err)}` }
  return undefined
}

test('in worker threads the checker gives the same results as in-thread: ok, illegal and step-budget timeouts', async () => {
  const histories = [
    atomicKvHistory({ seed: 3, clients: 6, operations: 300, keys: 5, unknownRate: 0.1 }),
    withStaleRead(atomicKvHistory({ seed: 4, clients: 6, operations: 300, keys: 5, unknownRate: 0.1 })),
    [...hardKey('k1'), ...staleKey('k2')],
    [...hardKey('a'), ...easyKey('b', 30), ...hardKey('c')],
    []
  ]
  for (const [i, history] of histories.entries()) {
    for (const workers of [1, 2, 3]) {
      const options = { maxSteps: 40_000 }
      const inThread = checkLinearizability(kvModel, history, options)
      const inWorkers = await checkLinearizabilityInWorkers(KV, history, { ...options, workers })
      assert.equal(comparable(inWorkers), comparable(inThread), `history ${i} with ${workers} workers`)
    }
  }
})

test('the illegal result from workers points at the caller\'s own operation objects', async () => {
  const history = [...hardKey('k1'), ...staleKey('k2')]
  const result = await checkLinearizabilityInWorkers(KV, history, { maxSteps: 50_000, workers: 2 })
  assert.is(result.result, 'illegal')
  assert.is(result.key, 'k2')
  assert.is(result.failedOperation, history[history.length - 1])
  assert.ok(result.partialLinearization?.every((op) => history.includes(op)))
})

test('built-in register model by name and a user model by module URL and export name', async () => {
  const write = (value: number, invoke: number, ret: number): Operation<RegisterInput, RegisterOutput> =>
    ({ clientId: 'a', input: { op: 'write', value }, invoke, return: ret, output: { op: 'write' } })
  const read = (value: number, invoke: number, ret: number): Operation<RegisterInput, RegisterOutput> =>
    ({ clientId: 'b', input: { op: 'read' }, invoke, return: ret, output: { op: 'read', value } })
  const register: ModelReference = { builtin: 'register', initial: 0 }
  for (const history of [[write(1, 0, 1), read(1, 2, 3)], [write(1, 0, 1), read(0, 2, 3)]]) {
    assert.equal(comparable(await checkLinearizabilityInWorkers(register, history)), comparable(checkLinearizability(registerModel(0), history)))
  }
  const op = (input: CounterInput, output: number | null, invoke: number, ret: number): Operation<CounterInput, number | null> =>
    ({ clientId: 'c', input, output, invoke, return: ret })
  const counter: ModelReference = { module: counterModule, export: 'counterModel' }
  for (const history of [[op('inc', null, 0, 5), op('inc', null, 0, 5), op('read', 2, 6, 7)], [op('inc', null, 0, 1), op('read', 2, 2, 3)]]) {
    const inWorkers = await checkLinearizabilityInWorkers(counter, history, { workers: 1 })
    assert.equal(comparable(inWorkers), comparable(checkLinearizability(counterModel, history)))
  }
})

test('a check in workers leaves the event loop free while it runs', async () => {
  let turns = 0
  let done = false
  const spin = (): void => { turns++; if (!done) setImmediate(spin) }
  setImmediate(spin)
  const result = await checkLinearizabilityInWorkers(KV, [...hardKey('a'), ...hardKey('b')], { maxSteps: 200_000, workers: 2 })
  done = true
  assert.is(result.result, 'timeout')
  assert.ok(turns > 0, `the event loop turned ${turns} times during the check`)
})

test('bad references, bad worker counts and model errors are reported with stable codes', async () => {
  assert.is(await codeOf(async () => await checkLinearizabilityInWorkers({ builtin: 'bank' } as never, [])), 'OPTIONS_INVALID')
  assert.is(await codeOf(async () => await checkLinearizabilityInWorkers({ module: counterModule, export: 'nothingHere' }, [])), 'OPTIONS_INVALID')
  assert.is(await codeOf(async () => await checkLinearizabilityInWorkers(KV, [], { workers: 0 })), 'OPTIONS_INVALID')
  assert.is(await codeOf(async () => await checkLinearizabilityInWorkers(KV, [], { workers: 1.5 })), 'OPTIONS_INVALID')
  assert.is(await codeOf(async () => await checkLinearizabilityInWorkers(KV, [], { timeoutMS: 5 } as never)), 'OPTIONS_INVALID')
  const noOutput = { clientId: 'a', input: { op: 'get', key: 'x' }, invoke: 0, return: 1 }
  assert.is(await codeOf(async () => await checkLinearizabilityInWorkers(KV, [noOutput as never])), 'CHECKER_HISTORY_INVALID')
  // The main thread loads the model too; a model that throws only inside a search fails in the worker.
  const throwing: ModelReference = { module: counterModule, export: 'throwingModel' }
  const history = [{ clientId: 'a', input: 'inc', invoke: 0, return: 1, output: 1 }]
  assert.is(await codeOf(async () => await checkLinearizabilityInWorkers(throwing, history)), 'KV_COMMAND_INVALID')
  const unclonable = [{ clientId: 'a', input: { op: 'get', key: 'x', f: () => 1 }, invoke: 0, return: 1, output: { op: 'get', value: null } }]
  assert.is(await codeOf(async () => await checkLinearizabilityInWorkers(KV, unclonable as never)), 'CHECKER_WORKER_FAILED')
})

test.run()

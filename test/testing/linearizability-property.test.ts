import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { checkLinearizability } from '../../src/testing/linearizability.js'
import { HistoryRecorder } from '../../src/testing/history.js'
import { registerModel } from '../../src/testing/register-model.js'
import type { RegisterInput, RegisterOutput, RegisterValue } from '../../src/testing/register-model.js'
import { kvModel } from '../../src/testing/kv-model.js'
import { SeededRandom, randomInt } from '../../src/util/random.js'
import { atomicKvHistory, withStaleRead } from './linearizability-helpers.js'

/**
 * A step budget, not a time budget: the verdicts cannot flip on a loaded machine. The largest
 * of these histories takes under 20 000 steps (seeds as below).
 */
const BUDGET = { maxSteps: 2_000_000 }

const runShape = fc.record({
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
  clients: fc.integer({ min: 1, max: 8 }),
  operations: fc.integer({ min: 0, max: 120 }),
  keys: fc.integer({ min: 1, max: 4 }),
  unknownRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
  slowRate: fc.double({ min: 0, max: 0.2, noNaN: true })
})

test('histories of a correct atomic KV store under random concurrency are always ok', () => {
  fc.assert(fc.property(runShape, (shape) => {
    const result = checkLinearizability(kvModel, atomicKvHistory(shape), BUDGET)
    assert.is(result.result, 'ok', result.explanation)
  }), { seed: 1034, numRuns: 500 })
})

test('the same histories with one provably stale read are always illegal', () => {
  fc.assert(fc.property(runShape, (shape) => {
    const history = withStaleRead(atomicKvHistory(shape))
    const result = checkLinearizability(kvModel, history, BUDGET)
    assert.is(result.result, 'illegal')
  }), { seed: 1035, numRuns: 500 })
})

/**
 * A fake replicated register: writes are acknowledged by a primary, copied to a replica in
 * order after a lag, and reads are served by the replica. With a lag it serves stale reads;
 * with no lag it is linearizable. Returns the recorded history of a random workload.
 */
function runReplicatedRegister (seed: number, maxLag: number): ReturnType<HistoryRecorder<RegisterInput, RegisterOutput>['history']> {
  const random = new SeededRandom(seed)
  const recorder = new HistoryRecorder<RegisterInput, RegisterOutput>()
  const replicaApplies: Array<{ at: number, value: RegisterValue }> = []
  const clientFree = [0, 0, 0, 0, 0]
  let lastPrimaryApply = 0
  let lastReplicaApply = 0
  let nextValue = 1
  // Each write is applied by the primary after every earlier write (it is invoked after the
  // last primary apply), so planning in invoke order is planning in primary order.
  const events = Array.from({ length: 300 }, () => {
    const client = randomInt(random, 0, clientFree.length)
    const isWrite = random.next() < 0.4
    const invoke = Math.max(clientFree[client]!, isWrite ? lastPrimaryApply : 0) + randomInt(random, 0, 3)
    const serve = invoke + randomInt(random, 0, 4)
    const ret = serve + randomInt(random, 0, 4)
    clientFree[client] = ret + 1
    if (!isWrite) return { client, invoke, serve, ret, value: undefined }
    lastPrimaryApply = serve
    lastReplicaApply = Math.max(lastReplicaApply, serve + randomInt(random, 0, maxLag + 1))
    const value = nextValue++
    replicaApplies.push({ at: lastReplicaApply, value })
    return { client, invoke, serve, ret, value }
  })
  const replicaValueAt = (time: number): RegisterValue => {
    let value: RegisterValue = 0
    for (const a of replicaApplies) if (a.at <= time) value = a.value
    return value
  }
  for (const e of events) {
    if (e.value !== undefined) {
      const id = recorder.invoke(`c${e.client}`, { op: 'write', value: e.value }, e.invoke)
      recorder.ok(id, { op: 'write' }, e.ret)
    } else {
      const id = recorder.invoke(`c${e.client}`, { op: 'read' }, e.invoke)
      recorder.ok(id, { op: 'read', value: replicaValueAt(e.serve) }, e.ret)
    }
  }
  return recorder.history()
}

test('a replicated register that serves stale reads is caught', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const result = checkLinearizability(registerModel(0), runReplicatedRegister(seed, 20), BUDGET)
    assert.is(result.result, 'illegal', `seed ${seed}`)
    assert.is(result.failedOperation?.input.op, 'read')
  }
})

test('the same replicated register without replication lag passes', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const result = checkLinearizability(registerModel(0), runReplicatedRegister(seed, 0), BUDGET)
    assert.is(result.result, 'ok', result.explanation)
  }
})

test('a few thousand operations over many keys and clients with unknown outcomes check fully', () => {
  const history = atomicKvHistory({ seed: 42, clients: 20, operations: 4000, keys: 20, unknownRate: 0.05, slowRate: 0.05 })
  const ok = checkLinearizability(kvModel, history, BUDGET)
  assert.is(ok.result, 'ok', ok.explanation)
  assert.is(ok.stats.partitions, 20)
  const stale = checkLinearizability(kvModel, withStaleRead(history), BUDGET)
  assert.is(stale.result, 'illegal')
  assert.is(stale.failedOperation?.clientId, 'stale-reader')
})

test.run()

/**
 * Properties of SessionStateMachine under arbitrary delivery: every command may be
 * duplicated any number of times and the copies arrive in any order, interleaved with
 * snapshot/restore cycles.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as fc from 'fast-check'
import { isQuorateError } from '../../src/errors.js'
import { encodeRegister, encodeSessionCommand } from '../../src/sessions/state-machine.js'
import type { SessionStateMachineOptions } from '../../src/sessions/state-machine.js'
import { LocalLog, enc } from './sessions-helpers.js'

const CLIENTS = 3

interface Copy { readonly client: number, readonly seq: number, readonly watermark: number }
type Step = Copy | 'restart'

/** Commands sent 1-4 times each, with watermarks in [1, seq], and up to 3 restarts, all shuffled. */
function schedule (withGc: boolean): fc.Arbitrary<Step[]> {
  const copy = fc.record({
    client: fc.nat(CLIENTS - 1),
    seq: fc.integer({ min: 1, max: 12 }),
    copies: fc.integer({ min: 1, max: 4 }),
    watermarkSeed: fc.nat()
  })
  return fc.tuple(fc.array(copy, { minLength: 1, maxLength: 40 }), fc.nat(3))
    .chain(([commands, restarts]) => {
      const copies: Step[] = []
      for (const c of commands) {
        for (let i = 0; i < c.copies; i++) {
          copies.push({ client: c.client, seq: c.seq, watermark: withGc ? 1 + ((c.watermarkSeed + i) % c.seq) : 1 })
        }
      }
      for (let i = 0; i < restarts; i++) copies.push('restart')
      return fc.shuffledSubarray(copies, { minLength: copies.length, maxLength: copies.length })
    })
}

async function run (steps: Step[], options: SessionStateMachineOptions<string>): Promise<{ log: LocalLog, answers: Map<string, unknown[]> }> {
  let log = new LocalLog(options)
  const ids: number[] = []
  for (let c = 0; c < CLIENTS; c++) ids.push(log.append(encodeRegister()) as number)
  const answers = new Map<string, unknown[]>()
  for (const step of steps) {
    if (step === 'restart') {
      const fresh = new LocalLog(options)
      await fresh.machine.restore(log.machine.snapshot())
      fresh.entries.push(...log.entries)
      log = fresh
      continue
    }
    const key = `c${step.client}s${step.seq}`
    const result = log.append(encodeSessionCommand(ids[step.client]!, step.seq, step.watermark, enc(key)))
    answers.set(key, [...(answers.get(key) ?? []), result])
  }
  return { log, answers }
}

test('without garbage collection every (client, seq) is applied exactly once and every copy returns the same result', async () => {
  await fc.assert(fc.asyncProperty(schedule(false), async (steps) => {
    const { log, answers } = await run(steps, {})
    for (const [key, results] of answers) {
      assert.is(log.inner.applied.get(key), 1, `${key} applied once`)
      for (const r of results) assert.is(r, results[0], `${key}: every copy answers with the first result`)
      assert.ok(!isQuorateError(results[0]), `${key} was not refused`)
    }
  }), { seed: 1021, numRuns: 300 })
})

test('with watermarks and a tiny cache a (client, seq) is applied at most once and a copy gets the first result or SESSION_SEQUENCE_TOO_OLD', async () => {
  await fc.assert(fc.asyncProperty(schedule(true), fc.integer({ min: 1, max: 4 }), async (steps, maxResultsPerSession) => {
    const { log, answers } = await run(steps, { maxResultsPerSession })
    for (const [key, results] of answers) {
      const applied = log.inner.applied.get(key) ?? 0
      assert.ok(applied <= 1, `${key} applied ${applied} times`)
      const original = results.find((r) => !isQuorateError(r))
      assert.is(original !== undefined, applied === 1, `${key}: a result was returned exactly when it was applied`)
      for (const r of results) {
        if (isQuorateError(r)) assert.is(r.code, 'SESSION_SEQUENCE_TOO_OLD')
        else assert.is(r, original, `${key}: a non-refused copy returns the original result`)
      }
    }
  }), { seed: 1022, numRuns: 300 })
})

test.run()

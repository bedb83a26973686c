/**
 * SessionStateMachine on its own: dedup, GC by watermark, bounded caches, deterministic
 * expiry and eviction, snapshots, malformed envelopes and non-envelope commands.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as fc from 'fast-check'
import { QuorateError, isQuorateError } from '../../src/errors.js'
import {
  SessionStateMachine, encodeClose, encodeRegister, encodeSessionCommand, withSessions
} from '../../src/sessions/state-machine.js'
import type { StateMachine } from '../../src/node/state-machine.js'
import { CountingMachine, LocalLog, collect, enc, rechunk } from './sessions-helpers.js'

function refusal (result: unknown, code: string): void {
  assert.ok(result instanceof QuorateError, `expected a ${code} refusal, got ${String(result)}`)
  assert.is((result as QuorateError).code, code)
}

test('a duplicated command is applied once and the duplicate returns the original result', () => {
  const log = new LocalLog()
  const id = log.append(encodeRegister()) as number
  const cmd = encodeSessionCommand(id, 1, 1, enc('x'))
  const first = log.append(cmd)
  const second = log.append(cmd)
  assert.is(first, 'x@2#1')
  assert.is(second, first, 'the duplicate is answered from the cache')
  assert.is(log.inner.applied.get('x'), 1)
})

test('registration returns the log index as client id and sessions are independent', () => {
  const log = new LocalLog()
  refusal(log.append(enc('plain')), 'SESSION_ENVELOPE_INVALID')
  const a = log.append(encodeRegister())
  const b = log.append(encodeRegister())
  assert.is(a, 2)
  assert.is(b, 3)
  assert.is(log.append(encodeSessionCommand(2, 1, 1, enc('a'))), 'a@4#1')
  assert.is(log.append(encodeSessionCommand(3, 1, 1, enc('b'))), 'b@5#2', 'the same seq in another session is a new command')
})

test('a command that is not an envelope is refused and never reaches the inner machine (no pass-through by magic bytes)', () => {
  const log = new LocalLog()
  refusal(log.append(enc('p')), 'SESSION_ENVELOPE_INVALID')
  refusal(log.append(new Uint8Array(0)), 'SESSION_ENVELOPE_INVALID')
  assert.is(log.inner.total, 0)
  assert.is(log.machine.sessionCount, 0)
})

test('the watermark discards acknowledged results and an older duplicate is refused, not re-applied', () => {
  const log = new LocalLog()
  const id = log.append(encodeRegister()) as number
  for (let seq = 1; seq <= 5; seq++) log.append(encodeSessionCommand(id, seq, seq, enc(`c${seq}`)))
  assert.equal(log.machine.session(id)?.cachedSequences, [5], 'only the unacknowledged result is kept')
  assert.is(log.machine.session(id)?.retainedFrom, 5)
  const late = log.append(encodeSessionCommand(id, 2, 1, enc('c2')))
  refusal(late, 'SESSION_SEQUENCE_TOO_OLD')
  assert.is(log.inner.applied.get('c2'), 1, 'the late duplicate was not applied')
  assert.is(log.append(encodeSessionCommand(id, 5, 5, enc('c5'))), 'c5@6#5', 'a result above the watermark is still answered')
})

test('a watermark far ahead of the cached results is handled without walking the gap', () => {
  const log = new LocalLog()
  const id = log.append(encodeRegister()) as number
  log.append(encodeSessionCommand(id, 1, 1, enc('a')))
  const far = Number.MAX_SAFE_INTEGER - 1
  assert.is(log.append(encodeSessionCommand(id, far, far, enc('b'))), 'b@3#2')
  assert.equal(log.machine.session(id)?.cachedSequences, [far])
})

test('a session caches at most maxResultsPerSession results and forgets the lowest first', () => {
  const log = new LocalLog({ maxResultsPerSession: 3 })
  const id = log.append(encodeRegister()) as number
  for (const seq of [2, 1, 4, 3]) log.append(encodeSessionCommand(id, seq, 1, enc(`c${seq}`)))
  assert.equal(log.machine.session(id)?.cachedSequences, [2, 3, 4])
  refusal(log.append(encodeSessionCommand(id, 1, 1, enc('c1'))), 'SESSION_SEQUENCE_TOO_OLD')
  assert.is(log.inner.applied.get('c1'), 1)
})

test('an unknown or closed session is refused with SESSION_EXPIRED and nothing is applied', () => {
  const log = new LocalLog()
  refusal(log.append(encodeSessionCommand(42, 1, 1, enc('x'))), 'SESSION_EXPIRED')
  const id = log.append(encodeRegister()) as number
  assert.is(log.append(encodeClose(id)), true)
  refusal(log.append(encodeSessionCommand(id, 1, 1, enc('x'))), 'SESSION_EXPIRED')
  refusal(log.append(encodeClose(id)), 'SESSION_EXPIRED')
  assert.is(log.inner.total, 0)
})

test('a session idle for more than sessionTimeoutEntries indexes expires; activity keeps it alive', () => {
  const log = new LocalLog({ sessionTimeoutEntries: 3 })
  const idle = log.append(encodeRegister()) as number // index 1
  const busy = log.append(encodeRegister()) as number // index 2
  log.append(encodeSessionCommand(busy, 1, 1, enc('b1'))) // 3
  log.append(encodeSessionCommand(busy, 2, 1, enc('b2'))) // 4: idle last active 1, 4 - 1 = 3, still alive
  assert.ok(log.machine.session(idle) !== null)
  log.append(encodeSessionCommand(busy, 3, 1, enc('b3'))) // 5: 5 - 1 > 3, idle expires
  assert.is(log.machine.session(idle), null)
  refusal(log.append(encodeSessionCommand(idle, 1, 1, enc('i1'))), 'SESSION_EXPIRED')
  assert.ok(log.machine.session(busy) !== null)
})

test('registering beyond maxSessions evicts the least recently active session, not the oldest', () => {
  const log = new LocalLog({ maxSessions: 2 })
  const a = log.append(encodeRegister()) as number
  const b = log.append(encodeRegister()) as number
  log.append(encodeSessionCommand(a, 1, 1, enc('a1')))
  const c = log.append(encodeRegister()) as number
  assert.ok(log.machine.session(a) !== null, 'a was active after b registered')
  assert.is(log.machine.session(b), null, 'b was the least recently active')
  assert.ok(log.machine.session(c) !== null)
  assert.is(log.machine.sessionCount, 2)
})

test('a replica restored from a snapshot mid-log expires, evicts and answers exactly like one that applied the whole log', async () => {
  const op = fc.oneof(
    fc.constant<['register']>(['register']),
    fc.tuple(fc.constant<'cmd'>('cmd'), fc.nat(7), fc.integer({ min: 1, max: 6 })),
    fc.tuple(fc.constant<'plain'>('plain'))
  )
  await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 60 }), fc.nat(60), async (ops, cut) => {
    const options = { sessionTimeoutEntries: 5, maxSessions: 3, maxResultsPerSession: 2 }
    const whole = new LocalLog(options)
    let replica = new LocalLog(options)
    const ids: number[] = []
    for (let i = 0; i < ops.length; i++) {
      if (i === cut) {
        const fresh = new LocalLog(options)
        await fresh.machine.restore(replica.machine.snapshot())
        fresh.entries.push(...replica.entries)
        replica = fresh
      }
      const o = ops[i]!
      let command: Uint8Array
      if (o[0] === 'register') command = encodeRegister()
      else if (o[0] === 'plain') command = enc('p')
      else command = encodeSessionCommand(ids[o[1] % Math.max(1, ids.length)] ?? 1, o[2], 1, enc(`c${o[2]}`))
      const a = whole.append(command)
      const b = replica.append(command)
      if (o[0] === 'register') ids.push(a as number)
      assert.equal(isQuorateError(b) ? b.code : b, isQuorateError(a) ? a.code : a, `same result at index ${i + 1}`)
      for (const id of ids) assert.equal(replica.machine.session(id), whole.machine.session(id), `same session ${id} at index ${i + 1}`)
    }
  }), { seed: 1023, numRuns: 200 })
})

test('malformed envelopes yield SESSION_ENVELOPE_INVALID results and never reach the inner machine', () => {
  const log = new LocalLog()
  const bad = [
    [],
    [1],
    [2, 1],
    [1, 9],
    [1, 1, 0],
    [1, 2, 1, 1],
    [1, 2, 0, 1, 1],
    [1, 2, 1, 0, 1],
    [1, 2, 1, 1, 2],
    [1, 2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
    [1, 3]
  ]
  for (const bytes of bad) refusal(log.append(Uint8Array.from(bytes)), 'SESSION_ENVELOPE_INVALID')
  assert.is(log.inner.total, 0)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 24 }), (tail) => {
    const result = log.append(Uint8Array.from([1, ...tail]))
    assert.ok(!(result instanceof Error) || isQuorateError(result), 'any refusal is a QuorateError value')
  }), { seed: 1024, numRuns: 100 })
})

test('the encoder refuses a watermark above the sequence number and non-positive numbers', () => {
  assert.throws(() => encodeSessionCommand(1, 2, 3, enc('x')), (e: unknown) => isQuorateError(e, 'SESSION_ENVELOPE_INVALID'))
  assert.throws(() => encodeSessionCommand(0, 1, 1, enc('x')), (e: unknown) => isQuorateError(e, 'SESSION_ENVELOPE_INVALID'))
  assert.throws(() => encodeClose(1.5), (e: unknown) => isQuorateError(e, 'SESSION_ENVELOPE_INVALID'))
})

test('a snapshot restored (in 1-byte chunks) into a fresh replica keeps deduplicating and keeps the inner state', async () => {
  const log = new LocalLog()
  const id = log.append(encodeRegister()) as number
  const cmd = encodeSessionCommand(id, 1, 1, enc('x'))
  const original = log.append(cmd)
  log.append(encodeSessionCommand(id, 2, 1, Uint8Array.of(0xff, 0)))
  const bytes = await collect(log.machine.snapshot())

  const inner = new CountingMachine()
  const restored = new SessionStateMachine(inner)
  await restored.restore(rechunk(bytes, 1))
  assert.equal(restored.session(id), log.machine.session(id))
  assert.equal(await collect(restored.snapshot()), bytes, 'the restored state snapshots to the same bytes')
  assert.is(restored.apply(cmd, 10), original, 'the cached result survived')
  assert.is(inner.applied.get('x'), 1, 'the inner count survived and was not bumped')
})

test('the result codec round-trips undefined, bytes and JSON values through a snapshot', async () => {
  const values: unknown[] = [undefined, Uint8Array.of(1, 2, 3), { a: [1, 'two', null] }, 'text', 7, false, null]
  let next = 0
  const inner: StateMachine<unknown> = { apply: () => values[next++] }
  const machine = withSessions(inner)
  const id = machine.apply(encodeRegister(), 1) as number
  values.forEach((_, i) => machine.apply(encodeSessionCommand(id, i + 1, 1, enc('v')), i + 2))
  const copy = withSessions<unknown>({ apply: () => 'fresh' })
  await copy.restore(machine.snapshot())
  values.forEach((v, i) => { assert.equal(copy.apply(encodeSessionCommand(id, i + 1, 1, enc('v')), 100 + i), v) })
})

test('a result the codec cannot encode fails the snapshot with OPTIONS_INVALID naming resultCodec', () => {
  const machine = withSessions<unknown>({ apply: () => 1n })
  const id = machine.apply(encodeRegister(), 1) as number
  machine.apply(encodeSessionCommand(id, 1, 1, enc('v')), 2)
  assert.throws(() => machine.snapshot(), (e: unknown) => isQuorateError(e, 'OPTIONS_INVALID') && /resultCodec/.test((e as Error).message))
})

test('a truncated or foreign snapshot is refused with STORAGE_CORRUPT and the old state is kept', async () => {
  const log = new LocalLog()
  const id = log.append(encodeRegister()) as number
  log.append(encodeSessionCommand(id, 1, 1, enc('x')))
  const bytes = await collect(log.machine.snapshot())
  const target = new SessionStateMachine(new CountingMachine())
  for (const broken of [bytes.subarray(0, 8), bytes.subarray(0, bytes.length - 40), enc('not a snapshot at all')]) {
    let error: unknown = null
    try { await target.restore(rechunk(broken, 5)) } catch (err) { error = err }
    assert.ok(isQuorateError(error, 'STORAGE_CORRUPT'), `got ${String(error)}`)
  }
  assert.is(target.sessionCount, 0)
})

test('async inner results are cached once resolved', async () => {
  let calls = 0
  const machine = withSessions<string>({ apply: async () => `r${++calls}` })
  const id = machine.apply(encodeRegister(), 1) as number
  const cmd = encodeSessionCommand(id, 1, 1, enc('v'))
  assert.is(await machine.apply(cmd, 2), 'r1')
  assert.is(await machine.apply(cmd, 3), 'r1')
  assert.is(calls, 1)
})

test('bad options fail with OPTIONS_INVALID naming the field', () => {
  for (const [field, options] of [['maxSessions', { maxSessions: 0 }], ['sessionTimeoutEntries', { sessionTimeoutEntries: 1.5 }], ['maxResultsPerSession', { maxResultsPerSession: -1 }], ['resultCodec', { resultCodec: {} }]] as const) {
    assert.throws(() => new SessionStateMachine(new CountingMachine(), options as never), (e: unknown) => isQuorateError(e, 'OPTIONS_INVALID') && (e as Error).message.includes(field))
  }
})

test.run()

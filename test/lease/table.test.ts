/**
 * The deterministic parts: the lease table state machine, its command codec, the fencing
 * guard and the expiry judge.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { LeaseTable } from '../../src/lease/table.js'
import type { LeaseOutcome, LeaseRecord } from '../../src/lease/table.js'
import { decodeLeaseCommand, encodeLeaseCommand } from '../../src/lease/command.js'
import type { LeaseCommand } from '../../src/lease/command.js'
import { FencingGuard } from '../../src/lease/fencing.js'
import { ExpiryJudge } from '../../src/lease/judge.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { QuorateError } from '../../src/errors.js'

const enc = encodeLeaseCommand

function apply (table: LeaseTable, command: LeaseCommand, index: number): LeaseOutcome {
  return table.apply(enc(command), index)
}

const commandArb: fc.Arbitrary<LeaseCommand> = fc.oneof(
  fc.record({ op: fc.constant('acquire' as const), name: fc.constantFrom('a', 'b'), holder: fc.constantFrom('x', 'y'), durationMs: fc.constantFrom(100, 500), expectVersion: fc.nat(30) }),
  fc.record({ op: fc.constantFrom('renew' as const, 'release' as const), name: fc.constantFrom('a', 'b'), holder: fc.constantFrom('x', 'y'), token: fc.integer({ min: 1, max: 30 }) })
)

test('replicas applying the same commands reach the same records and results', () => {
  fc.assert(fc.property(fc.array(commandArb, { maxLength: 30 }), (commands) => {
    const a = new LeaseTable()
    const b = new LeaseTable()
    commands.forEach((c, i) => { assert.equal(apply(a, c, i + 1), apply(b, c, i + 1)) })
    assert.equal([...a.records()], [...b.records()])
  }), { seed: 1017, numRuns: 100 })
})

test('tokens of a name only grow, and a granted record always carries the grant\'s index as its token', () => {
  fc.assert(fc.property(fc.array(commandArb, { maxLength: 40 }), (commands) => {
    const table = new LeaseTable()
    const last = new Map<string, number>()
    commands.forEach((c, i) => {
      const out = apply(table, c, i + 1)
      if (out.ok && c.op === 'acquire') assert.is(out.record.token, i + 1)
      const r = table.get(c.name)
      if (r !== undefined) {
        assert.ok(r.token >= (last.get(c.name) ?? 0), 'token never decreases')
        last.set(c.name, r.token)
      }
    })
  }), { seed: 1018, numRuns: 100 })
})

test('an acquire on a held record is granted only if the record version is still the one the proposer judged', () => {
  const table = new LeaseTable()
  assert.is(apply(table, { op: 'acquire', name: 'a', holder: 'x', durationMs: 100, expectVersion: 0 }, 1).ok, true)
  assert.is(apply(table, { op: 'renew', name: 'a', holder: 'x', token: 1 }, 2).ok, true)
  const stale = apply(table, { op: 'acquire', name: 'a', holder: 'y', durationMs: 100, expectVersion: 1 }, 3)
  assert.equal(stale, { ok: false, code: 'LEASE_HELD', record: table.get('a') })
  const fresh = apply(table, { op: 'acquire', name: 'a', holder: 'y', durationMs: 100, expectVersion: 2 }, 4)
  assert.ok(fresh.ok)
  assert.equal(table.get('a'), { name: 'a', holder: 'y', token: 4, durationMs: 100, version: 4 })
})

test('renew and release need the current holder and token; release frees the name for any acquire', () => {
  const table = new LeaseTable()
  apply(table, { op: 'acquire', name: 'a', holder: 'x', durationMs: 100, expectVersion: 0 }, 5)
  assert.equal(apply(table, { op: 'renew', name: 'a', holder: 'y', token: 5 }, 6), { ok: false, code: 'LEASE_NOT_HOLDER', record: table.get('a') })
  assert.is(apply(table, { op: 'release', name: 'a', holder: 'x', token: 4 }, 7).ok, false)
  assert.is(apply(table, { op: 'renew', name: 'b', holder: 'x', token: 5 }, 8).ok, false)
  assert.is(apply(table, { op: 'release', name: 'a', holder: 'x', token: 5 }, 9).ok, true)
  assert.equal(table.get('a'), { name: 'a', holder: null, token: 5, durationMs: 100, version: 9 })
  assert.is(apply(table, { op: 'renew', name: 'a', holder: 'x', token: 5 }, 10).ok, false, 'a released grant cannot be renewed')
  // Whatever version the proposer saw, a free name is granted.
  assert.is(apply(table, { op: 'acquire', name: 'a', holder: 'y', durationMs: 100, expectVersion: 3 }, 11).ok, true)
})

test('malformed or foreign commands are refused with OPTIONS_INVALID and change nothing', () => {
  const table = new LeaseTable()
  const junk = [
    new Uint8Array([1, 2, 3]),
    new TextEncoder().encode('{"op":"acquire"}'),
    new Uint8Array([0x51, 0x4c, 0x01, 0xff]),
    new Uint8Array([0xff, 0xfe]),
    new TextEncoder().encode('set x 1'),
    new TextEncoder().encode('null'),
    enc({ op: 'acquire', name: '', holder: 'x', durationMs: 1, expectVersion: 0 }),
    enc({ op: 'acquire', name: 'a', holder: 'x', durationMs: -1, expectVersion: 0 }),
    enc({ op: 'renew', name: 'a', holder: 'x', token: 0 }),
    enc({ op: 'steal', name: 'a', holder: 'x', token: 1 } as unknown as LeaseCommand)
  ]
  for (const bytes of junk) assert.equal(table.apply(bytes, 1), { ok: false, code: 'OPTIONS_INVALID', record: null })
  assert.is([...table.records()].length, 0)
})

test('the command codec round-trips every well-formed command', () => {
  fc.assert(fc.property(commandArb, (c) => {
    const bytes = enc(c)
    assert.equal(decodeLeaseCommand(bytes), { ...c })
  }), { seed: 1019, numRuns: 100 })
})

test('a snapshot restores the same records and tells change listeners about each', async () => {
  const table = new LeaseTable()
  apply(table, { op: 'acquire', name: 'a', holder: 'x', durationMs: 100, expectVersion: 0 }, 1)
  apply(table, { op: 'acquire', name: 'b', holder: 'y', durationMs: 200, expectVersion: 0 }, 2)
  apply(table, { op: 'release', name: 'b', holder: 'y', token: 2 }, 3)
  const copy = new LeaseTable()
  const seen: LeaseRecord[] = []
  copy.onChange((r) => seen.push(r))
  await copy.restore(table.snapshot())
  assert.equal([...copy.records()], [...table.records()])
  assert.equal(seen, [...table.records()])
})

test('the fencing guard admits tokens that do not go backwards, per lease name, and can be persisted', () => {
  const guard = new FencingGuard()
  guard.admit('a', 5)
  guard.admit('a', 5)
  guard.admit('b', 2)
  try {
    guard.admit('a', 4)
    assert.unreachable('a stale token was admitted')
  } catch (err) {
    assert.ok(err instanceof QuorateError && err.code === 'LEASE_FENCED')
    assert.equal(err.info, { name: 'a', token: 4, highest: 5 })
  }
  assert.not.ok(guard.wouldAdmit('a', 3))
  assert.ok(guard.wouldAdmit('a', 6))
  const restored = new FencingGuard(guard.entries())
  assert.is(restored.highest('a'), 5)
  assert.is(restored.highest('b'), 2)
  assert.is(restored.highest('c'), 0)
  assert.throws(() => { restored.admit('b', 1) }, (e: unknown) => e instanceof QuorateError && e.code === 'LEASE_FENCED')
  assert.throws(() => new FencingGuard([['a', -1]]), (e: unknown) => e instanceof QuorateError && e.code === 'OPTIONS_INVALID')
})

test('accepted effects never go backwards in token, whatever order stale holders send them in', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.nat(20))), (effects) => {
    const guard = new FencingGuard()
    const accepted = new Map<string, number[]>()
    for (const [name, token] of effects) {
      try { guard.admit(name, token) } catch { continue }
      accepted.set(name, [...(accepted.get(name) ?? []), token])
    }
    for (const tokens of accepted.values()) {
      for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! >= tokens[i - 1]!)
    }
  }), { seed: 1020, numRuns: 100 })
})

test('the judge counts from when it learned the latest version, stretched by the drift bound, and waits out a restart', () => {
  const clock = new ManualClock(1_000)
  const judge = new ExpiryJudge(clock, 0.1, 400)
  const held: LeaseRecord = { name: 'a', holder: 'x', token: 3, durationMs: 200, version: 3 }
  assert.ok(judge.judge(undefined).grantable, 'a name never granted is free')
  assert.ok(judge.judge({ ...held, holder: null }).grantable, 'a released name is free')
  judge.learn(held)
  clock.advance(219)
  assert.equal(judge.judge(held), { grantable: false, code: 'LEASE_HELD', retryAfterMs: 440 - 219 })
  clock.advance(1)
  assert.equal(judge.judge(held), { grantable: false, code: 'LEASE_NOT_READY', retryAfterMs: 440 - 220 })
  clock.advance(220)
  assert.ok(judge.judge(held).grantable)
  const renewed = { ...held, version: 9 }
  assert.is(judge.judge(renewed).grantable, false, 'an unseen version counts as learned now')
  clock.advance(219)
  assert.is(judge.judge(renewed).grantable, false)
  clock.advance(1)
  assert.ok(judge.judge(renewed).grantable)
})

test.run()

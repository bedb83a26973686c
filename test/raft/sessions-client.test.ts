/**
 * ClientSession against an in-process log: same-seq retries, the GC watermark, retry policy,
 * aborts, refusals and registration.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { QuorateError, isQuorateError } from '../../src/errors.js'
import { ClientSession, decodeEnvelope } from '../../src/sessions/state-machine.js'
import type { ProposeFn, RetryContext } from '../../src/sessions/state-machine.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { LocalLog, enc } from './sessions-helpers.js'

async function rejection (promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

/** Sequence numbers and watermarks of the session commands in the log, in log order. */
function commandsIn (log: LocalLog): Array<{ seq: number, firstUnacknowledged: number }> {
  const out: Array<{ seq: number, firstUnacknowledged: number }> = []
  for (const e of log.entries) {
    const env = decodeEnvelope(e)
    if (env.kind === 2) out.push({ seq: env.seq, firstUnacknowledged: env.firstUnacknowledged })
  }
  return out
}

test('a retry after a lost response carries the same seq, is applied once and returns the original result', async () => {
  const log = new LocalLog()
  let attempts = 0
  const loseFirstResponse: ProposeFn = async (command) => {
    const result = log.append(command)
    if (++attempts === 2) throw new QuorateError('RAFT_TIMEOUT', 'response lost')
    return result
  }
  const session = new ClientSession({ backoffMs: 0 })
  const result = await session.propose(loseFirstResponse, enc('x'))
  assert.is(result, 'x@2#1', 'the result of the first (committed) copy')
  assert.is(log.inner.applied.get('x'), 1)
  assert.equal(commandsIn(log).map((c) => c.seq), [1, 1], 'the log holds the command twice')
})

test('the watermark is the lowest sequence number still in flight', async () => {
  const log = new LocalLog()
  const session = new ClientSession()
  await session.propose(log.propose, enc('a'))
  await session.propose(log.propose, enc('b'))
  const held: Array<() => void> = []
  const slow: ProposeFn = async (command) => await new Promise((resolve) => { held.push(() => { resolve(log.append(command)) }) })
  const c = session.propose(slow, enc('c'))
  await Promise.resolve()
  await session.propose(log.propose, enc('d'))
  assert.is(session.firstUnacknowledged, 3, 'c (seq 3) is still in flight')
  held[0]!()
  await c
  assert.is(session.firstUnacknowledged, 5)
  assert.equal(commandsIn(log), [
    { seq: 1, firstUnacknowledged: 1 },
    { seq: 2, firstUnacknowledged: 2 },
    { seq: 4, firstUnacknowledged: 3 },
    { seq: 3, firstUnacknowledged: 3 }
  ])
  assert.equal(log.machine.session(session.clientId!)?.cachedSequences, [3, 4])
})

test('an attempt with no answer is abandoned after attemptTimeoutMs and retried; the late commit is not applied twice', async () => {
  const log = new LocalLog()
  let attempts = 0
  const stalls: ProposeFn = async (command) => {
    if (++attempts === 2) {
      log.append(command)
      return await new Promise(() => {}) // commits, but the answer never comes and the signal is ignored
    }
    return log.append(command)
  }
  const session = new ClientSession({ attemptTimeoutMs: 5, backoffMs: 0 })
  assert.is(await session.propose(stalls, enc('x')), 'x@2#1')
  assert.is(log.inner.applied.get('x'), 1)
})

test('attemptTimeoutMs Infinity sets no timer per attempt: the target gets the caller\'s own signal and its RAFT_TIMEOUT is retried with the same seq', async () => {
  const log = new LocalLog()
  const clock = new ManualClock()
  const signals: Array<AbortSignal | undefined> = []
  let timersDuringAttempt = -1
  let attempts = 0
  const target: ProposeFn = async (command, { signal }) => {
    signals.push(signal)
    timersDuringAttempt = Math.max(timersDuringAttempt, clock.pendingTimers)
    const result = log.append(command)
    if (++attempts === 2) throw new QuorateError('RAFT_TIMEOUT', 'the connection timed the attempt out')
    return result
  }
  const session = new ClientSession({ attemptTimeoutMs: Infinity, backoffMs: 0, clock })
  const caller = new AbortController()
  assert.is(await session.propose(target, enc('x'), { signal: caller.signal }), 'x@2#1', 'the first copy\'s result')
  assert.is(log.inner.applied.get('x'), 1, 'applied once')
  assert.is(timersDuringAttempt, 0, 'no attempt timer armed')
  assert.ok(signals.slice(1).every((s) => s === caller.signal), 'each attempt gets the caller\'s signal itself, no per-attempt controller')
  assert.equal(commandsIn(log).map((c) => c.seq), [1, 1], 'the retry carries the same seq')
  await session.propose(target, enc('y'))
  assert.is(signals.at(-1), undefined, 'without a caller signal the target gets none')
})

test('RAFT_NOT_LEADER retries go where nextTarget says, with the leader hint, until maxAttempts', async () => {
  const contexts: RetryContext[] = []
  let calls = 0
  const follower: ProposeFn = async () => { calls++; throw new QuorateError('RAFT_NOT_LEADER', 'not leader', { details: { leader: 'n2' } }) }
  const session = new ClientSession({ clientId: 1, maxAttempts: 3, backoffMs: 0, nextTarget: (ctx) => { contexts.push(ctx); return follower } })
  const err = await rejection(session.propose(follower, enc('x')))
  assert.ok(isQuorateError(err, 'RAFT_NOT_LEADER'))
  assert.is(calls, 3)
  assert.equal(contexts.map((c) => [c.attempt, c.leader]), [[1, 'n2'], [2, 'n2']])
  assert.is(session.firstUnacknowledged, 2, 'a command given up on no longer holds the watermark back')
})

test('a non-retryable error fails at once', async () => {
  let calls = 0
  const target: ProposeFn = async () => { calls++; throw new QuorateError('RAFT_PROPOSAL_TOO_LARGE', 'too large') }
  const err = await rejection(new ClientSession({ clientId: 1 }).propose(target, enc('x')))
  assert.ok(isQuorateError(err, 'RAFT_PROPOSAL_TOO_LARGE'))
  assert.is(calls, 1)
})

test('the caller aborting stops the retries with ABORTED', async () => {
  const controller = new AbortController()
  let calls = 0
  const target: ProposeFn = async () => {
    if (++calls === 2) controller.abort()
    throw new QuorateError('RAFT_NOT_LEADER', 'not leader')
  }
  const session = new ClientSession({ clientId: 1, backoffMs: 0, maxAttempts: 100 })
  const err = await rejection(session.propose(target, enc('x'), { signal: controller.signal }))
  assert.ok(isQuorateError(err, 'ABORTED'))
  assert.is(calls, 2)
  assert.ok(isQuorateError(await rejection(session.propose(target, enc('y'), { signal: controller.signal })), 'ABORTED'), 'an aborted signal fails before any attempt')
  assert.is(calls, 2)
})

test('an ABORTED from the target (not from the caller) is retried', async () => {
  const log = new LocalLog()
  let calls = 0
  const target: ProposeFn = async (command) => {
    if (++calls === 2) throw new QuorateError('ABORTED', 'proxy gave up')
    return log.append(command)
  }
  assert.is(await new ClientSession({ backoffMs: 0 }).propose(target, enc('x')), 'x@2#1')
})

test('SESSION_EXPIRED rejects the command and every later one without another attempt', async () => {
  const log = new LocalLog({ sessionTimeoutEntries: 1 })
  const session = new ClientSession()
  await session.propose(log.propose, enc('a'))
  log.append(enc('p'))
  log.append(enc('p'))
  assert.ok(isQuorateError(await rejection(session.propose(log.propose, enc('b'))), 'SESSION_EXPIRED'))
  const before = log.entries.length
  assert.ok(isQuorateError(await rejection(session.propose(log.propose, enc('c'))), 'SESSION_EXPIRED'))
  assert.is(log.entries.length, before)
  assert.is(log.inner.applied.get('b'), undefined)
})

test('concurrent first proposals share one registration', async () => {
  const log = new LocalLog()
  const session = new ClientSession()
  const results = await Promise.all(['a', 'b', 'c'].map(async (s) => await session.propose(log.propose, enc(s))))
  assert.equal(results, ['a@2#1', 'b@3#2', 'c@4#3'])
  assert.is(log.machine.sessionCount, 1)
  assert.is(session.clientId, 1)
})

test('registration against a machine without sessions fails with OPTIONS_INVALID', async () => {
  const plain: ProposeFn = async () => 'not an id'
  const err = await rejection(new ClientSession().propose(plain, enc('x')))
  assert.ok(isQuorateError(err, 'OPTIONS_INVALID') && /SessionStateMachine/.test((err as Error).message))
})

test('close ends the session on the machine and locally', async () => {
  const log = new LocalLog()
  const session = new ClientSession()
  await session.propose(log.propose, enc('a'))
  await session.close(log.propose)
  assert.is(log.machine.sessionCount, 0)
  assert.ok(isQuorateError(await rejection(session.propose(log.propose, enc('b'))), 'SESSION_EXPIRED'))
  await session.close(log.propose)
})

test('a RaftNode-like object with propose() is accepted as a target', async () => {
  const log = new LocalLog()
  const node = { propose: async (command: Uint8Array) => log.append(command) }
  assert.is(await new ClientSession().propose(node, enc('x')), 'x@2#1')
})

test('bad options fail with OPTIONS_INVALID naming the field', async () => {
  for (const [field, options] of [['clientId', { clientId: 0 }], ['nextSequence', { nextSequence: 1.5 }], ['maxAttempts', { maxAttempts: 0 }], ['attemptTimeoutMs', { attemptTimeoutMs: 0 }], ['backoffMs', { backoffMs: -1 }], ['nextTarget', { nextTarget: 3 }], ['clock', { clock: {} }]] as const) {
    assert.throws(() => new ClientSession(options as never), (e: unknown) => isQuorateError(e, 'OPTIONS_INVALID') && (e as Error).message.includes(field))
  }
  const err = await rejection(new ClientSession({ clientId: 1 }).propose(async () => 1, enc('x'), { retry: { maxAttempts: -2 } }))
  assert.ok(isQuorateError(err, 'OPTIONS_INVALID') && (err as Error).message.includes('maxAttempts'))
})

test.run()

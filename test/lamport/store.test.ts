import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  ANY, LamportClock, REST, TupleStore, negative, positive
} from '../../src/lamport/index.js'
import { isQuorateError, type ErrorCode } from '../../src/errors.js'
import { openStore } from './helpers.js'

async function rejects (p: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    assert.ok(isQuorateError(err, code), `expected ${code}, got ${String(err)}`)
    return
  }
  assert.unreachable(`expected ${code}`)
}

test('an asserted tuple is visible with its stamp; cancelling it hides it; re-asserting shows it again', async () => {
  const s = await openStore(1)
  const t1 = await s.transact([positive(['job', 1, 'running'])])
  assert.equal(s.stampOf(['job', 1, 'running']), t1.stamp)
  await s.transact([negative(['job', 1, 'running'])])
  assert.not.ok(s.has(['job', 1, 'running']))
  assert.is(s.size, 0)
  const t3 = await s.transact([positive(['job', 1, 'running'])])
  assert.equal(s.stampOf(['job', 1, 'running']), t3.stamp)
  assert.is(s.size, 1)
})

test('a negative rule cancels every matching tuple stamped before it, including ones arriving later', async () => {
  const s = await openStore(1)
  await s.transact([positive(['job', 1, 'running']), positive(['job', 2, 'running']), positive(['job', 3, 'done'])])
  const late = { stamp: { counter: 1, node: 9 }, updates: [positive(['job', 4, 'running'])] }
  await s.transact([negative(['job', ANY, 'running'])])
  assert.equal(s.query(['job', REST]), [['job', 3, 'done']])
  await s.applyTransaction(late)
  assert.not.ok(s.has(['job', 4, 'running']), 'an older positive arriving after the rule stays cancelled')
  await s.transact([positive(['job', 5, 'running'])])
  assert.ok(s.has(['job', 5, 'running']), 'a newer positive is not cancelled')
})

test('a prefix rule with REST cancels any tail', async () => {
  const s = await openStore(1)
  await s.transact([positive(['a']), positive(['a', 1]), positive(['a', 1, 2]), positive(['b', 1])])
  await s.transact([negative(['a', REST])])
  assert.equal(s.query([REST]), [['b', 1]])
})

test('a rule and an assertion in one transaction replace the old values', async () => {
  const s = await openStore(1)
  await s.transact([positive(['cfg', 'x', 1])])
  await s.transact([negative(['cfg', 'x', ANY]), positive(['cfg', 'x', 2])])
  assert.equal(s.query(['cfg', 'x', ANY]), [['cfg', 'x', 2]])
})

test('a transaction that asserts and exactly cancels the same tuple is refused', async () => {
  const s = await openStore(1)
  await rejects(s.transact([positive(['a']), negative(['a'])]), 'TUPLE_INVALID')
  assert.is(s.version, 0, 'nothing was applied')
})

test('invalid tuples, patterns and updates are refused with TUPLE_INVALID', async () => {
  const s = await openStore(1)
  await rejects(s.transact([positive(['a', null as never])]), 'TUPLE_INVALID')
  await rejects(s.transact([{ kind: 'other' } as never]), 'TUPLE_INVALID')
  await rejects(() => s.query([{}] as never), 'TUPLE_INVALID')
  await rejects(s.applyTransaction({ stamp: { counter: -1, node: 0 }, updates: [] }), 'TUPLE_INVALID')
  await rejects(s.merge({ bogus: true } as never), 'TUPLE_INVALID')
})

test('queries return visible tuples in tuple order, honour limit, and bind leading fields', async () => {
  const s = await openStore(1)
  await s.transact([positive(['user', 'b', 2]), positive(['user', 'a', 1]), positive(['team', 'x']), positive(['user', 'c', 3])])
  await s.transact([negative(['user', 'c', 3])])
  assert.equal(s.query(['user', ANY, ANY]), [['user', 'a', 1], ['user', 'b', 2]])
  assert.equal(s.query(['user', REST], { limit: 1 }), [['user', 'a', 1]])
  assert.equal(s.plan(['user', 'a', ANY]), { fields: null, boundFields: 2 })
  assert.equal(s.plan([ANY, 'a', ANY]), { fields: null, boundFields: 0 })
})

test('a secondary index serves lookups by a non-leading field', async () => {
  const s = await openStore(1, { indexes: [[2, 0]] })
  await s.transact([positive(['job', 1, 'running']), positive(['job', 2, 'done']), positive(['task', 3, 'running']), positive(['x'])])
  assert.equal(s.plan([ANY, ANY, 'running']), { fields: [2, 0], boundFields: 1 })
  assert.equal(s.plan(['job', ANY, 'running']), { fields: [2, 0], boundFields: 2 })
  assert.equal(s.query([ANY, ANY, 'running']), [['job', 1, 'running'], ['task', 3, 'running']])
  await s.transact([negative([ANY, ANY, 'running'])])
  assert.equal(s.query([REST]), [['job', 2, 'done'], ['x']])
})

test('operations before open fail with NODE_NOT_OPEN; open and close are idempotent and race safely', async () => {
  const s = new TupleStore({ clock: new LamportClock({ node: 1 }) })
  await rejects(s.transact([positive(['a'])]), 'NODE_NOT_OPEN')
  await Promise.all([s.open(), s.open(), s.close(), s.open()])
  assert.is(s.status, 'open')
  await s.transact([positive(['a'])])
  await Promise.all([s.close(), s.close()])
  assert.is(s.status, 'closed')
  await rejects(() => s.query([REST]), 'NODE_NOT_OPEN')
})

test('options are validated with OPTIONS_INVALID naming the field', () => {
  const clock = new LamportClock({ node: 1 })
  const cases: Array<[object, string]> = [
    [{}, 'clock'], [{ clock, horizon: 0 }, 'horizon'], [{ clock, indexes: [[]] }, 'indexes'],
    [{ clock, indexes: [[1, 1]] }, 'indexes'], [{ clock, replicas: [''] }, 'replicas'],
    [{ clock, db: {} }, 'db'], [{ clock, sync: 'yes' }, 'sync'], [{ clock, maxQueuedChanges: -1 }, 'maxQueuedChanges']
  ]
  for (const [opts, field] of cases) {
    try {
      // eslint-disable-next-line no-new
      new TupleStore(opts as never)
      assert.unreachable(field)
    } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'))
      assert.ok((err as Error).message.includes(`"${field}"`), (err as Error).message)
    }
  }
})

test('a subscription yields visible changes and releases its watcher when the loop exits', async () => {
  const s = await openStore(1)
  const seen: string[] = []
  const sub = s.subscribe(['job', REST])
  assert.is(s.stats.watchers, 1)
  await s.transact([positive(['job', 1]), positive(['other'])])
  await s.transact([positive(['job', 1])])
  await s.transact([negative(['job', ANY])])
  for await (const c of sub) {
    seen.push(`${c.type} ${String(c.tuple[1])} @${c.stamp.counter}`)
    if (seen.length === 2) break
  }
  assert.equal(seen, ['added 1 @1', 'removed 1 @3'])
  assert.is(s.stats.watchers, 0, 'the loop exit released the watcher')
})

test('aborting a subscription rejects the pending next() with ABORTED and releases it', async () => {
  const s = await openStore(1)
  const ac = new AbortController()
  const sub = s.subscribe([REST], { signal: ac.signal })
  const pending = sub.next()
  ac.abort()
  await rejects(pending, 'ABORTED')
  assert.is(s.stats.watchers, 0)
  await rejects(s.subscribe([REST], { signal: ac.signal }).next(), 'ABORTED')
})

test('closing the store ends its subscriptions', async () => {
  const s = await openStore(1)
  const sub = s.subscribe([REST])
  const pending = sub.next()
  await s.close()
  assert.equal(await pending, { value: undefined, done: true })
})

test('a subscriber that falls too far behind ends with TUPLE_SUBSCRIPTION_OVERFLOW', async () => {
  const s = await openStore(1, { maxQueuedChanges: 2 })
  const sub = s.subscribe([REST])
  for (let i = 0; i < 4; i++) await s.transact([positive([i])])
  await rejects(sub.next(), 'TUPLE_SUBSCRIPTION_OVERFLOW')
  assert.is(s.stats.watchers, 0)
})

test('a throwing watcher is removed, reported to onWatcherError and does not break the store', async () => {
  const reported: Array<{ code: string, cause: unknown, type: string }> = []
  const s = await openStore(1, { onWatcherError: (err, change) => { reported.push({ code: err.code, cause: err.cause, type: change.type }) } })
  const boom = new Error('boom')
  s.watch([REST], () => { throw boom })
  let others = 0
  s.watch([REST], () => { others++ })
  await s.transact([positive(['a'])])
  assert.is(s.stats.watchers, 1)
  assert.is(others, 1, 'the other watcher still ran')
  assert.ok(s.has(['a']))
  assert.equal(reported, [{ code: 'TUPLE_WATCHER_FAILED', cause: boom, type: 'added' }])
})

test('without onWatcherError a throwing watcher becomes a process warning, never silence', async () => {
  const warnings: Error[] = []
  const onWarning = (w: Error): void => { warnings.push(w) }
  process.on('warning', onWarning)
  try {
    const s = await openStore(1)
    s.watch([REST], () => { throw new Error('boom') })
    await s.transact([positive(['a'])])
    // 'warning' is emitted on the next tick.
    await new Promise<void>((resolve) => { process.nextTick(resolve) })
    assert.is(warnings.length, 1)
    assert.ok(isQuorateError(warnings[0], 'TUPLE_WATCHER_FAILED'))
  } finally {
    process.off('warning', onWarning)
  }
})

test('with a logger and no onWatcherError, a throwing watcher is a warn line, not a process warning', async () => {
  const lines: Array<{ obj: Record<string, unknown>, msg: string | undefined }> = []
  const ignore = (): void => {}
  const logger = { trace: ignore, debug: ignore, info: ignore, warn: (obj: Record<string, unknown>, msg?: string) => { lines.push({ obj, msg }) }, error: ignore, fatal: ignore }
  const warnings: Error[] = []
  const onWarning = (w: Error): void => { warnings.push(w) }
  process.on('warning', onWarning)
  try {
    const s = await openStore(1, { logger })
    s.watch([REST], () => { throw new Error('boom') })
    await s.transact([positive(['a'])])
    await new Promise<void>((resolve) => { process.nextTick(resolve) })
  } finally {
    process.off('warning', onWarning)
  }
  assert.is(warnings.length, 0)
  assert.is(lines.length, 1)
  assert.is(lines[0]!.obj.code, 'TUPLE_WATCHER_FAILED')
  assert.ok(isQuorateError(lines[0]!.obj.err, 'TUPLE_WATCHER_FAILED'))
  await rejects(openStore(1, { logger: { info: ignore } as never }), 'OPTIONS_INVALID')
})

test.run()

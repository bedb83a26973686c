/**
 * util/logger.ts: the JSON-lines logger writes pino's layout (numeric level, time, fields,
 * msg), filters by level, serializes errors with their cause, binds fields in children; the
 * wrapper child for loggers without child(); strict options.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { childLogger, jsonLogger, silentLogger } from '../../src/util/logger.js'
import type { Logger } from '../../src/util/logger.js'
import { QuorateError, isQuorateError } from '../../src/errors.js'

function capture (): { stream: { write: (line: string) => void }, lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = []
  return { stream: { write: (line) => { raw.push(line) } }, lines: () => raw.map((l) => { assert.ok(l.endsWith('\n') && !l.slice(0, -1).includes('\n'), 'one line per call'); return JSON.parse(l) as Record<string, unknown> }) }
}

test('jsonLogger writes one pino-layout JSON line per call at or above its level', () => {
  const out = capture()
  const log = jsonLogger({ level: 'info', stream: out.stream, now: () => 1234 })
  log.debug({ hidden: true }, 'not written')
  log.info({ term: 3 }, 'became leader')
  log.warn({}, 'careful')
  log.fatal({ code: 'X' })
  assert.equal(out.lines(), [
    { level: 30, time: 1234, term: 3, msg: 'became leader' },
    { level: 40, time: 1234, msg: 'careful' },
    { level: 60, time: 1234, code: 'X' }
  ])
})

test('errors are serialized with type, message, code, stack and cause', () => {
  const out = capture()
  const log = jsonLogger({ stream: out.stream, now: () => 0 })
  const err = new QuorateError('NODE_FAILED', 'node n1 stopped', { cause: new Error('disk full') })
  log.error({ err }, 'node stopped')
  const [line] = out.lines()
  const e = line!.err as Record<string, unknown>
  assert.is(e.type, 'QuorateError')
  assert.is(e.code, 'NODE_FAILED')
  assert.is(e.message, 'node n1 stopped')
  assert.type(e.stack, 'string')
  assert.is((e.cause as Record<string, unknown>).message, 'disk full')
})

test('child() binds fields into every line of the child, not the parent', () => {
  const out = capture()
  const log = jsonLogger({ stream: out.stream, now: () => 0, bindings: { app: 'x' } })
  const child = log.child!({ node: 'n1' })
  child.info({ term: 1 }, 'hello')
  log.info({}, 'parent')
  assert.equal(out.lines(), [
    { level: 30, time: 0, app: 'x', node: 'n1', term: 1, msg: 'hello' },
    { level: 30, time: 0, app: 'x', msg: 'parent' }
  ])
})

test('childLogger wraps a logger without child(), merging bindings under the call fields', () => {
  const calls: Array<[Record<string, unknown>, string | undefined]> = []
  const at = (obj: Record<string, unknown>, msg?: string): void => { calls.push([obj, msg]) }
  const bare: Logger = { trace: at, debug: at, info: at, warn: at, error: at, fatal: at }
  const child = childLogger(bare, { node: 'n1' })
  child.info({ term: 2 }, 'm')
  childLogger(child, { peer: 'n2' }).warn({ node: 'override' }, 'w')
  assert.equal(calls, [[{ node: 'n1', term: 2 }, 'm'], [{ node: 'override', peer: 'n2' }, 'w']])
  assert.is(childLogger(silentLogger, { a: 1 }), silentLogger)
})

test('jsonLogger refuses unknown options and bad levels by name', () => {
  for (const [options, field] of [[{ levle: 'info' }, 'levle'], [{ level: 'verbose' }, 'level'], [{ stream: {} }, 'stream'], [{ now: 5 }, 'now']] as const) {
    assert.throws(() => jsonLogger(options as never), (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID') && (err as Error).message.includes(`"${field}"`), field)
  }
})

test.run()

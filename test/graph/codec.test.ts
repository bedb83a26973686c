/**
 * The binary codec: every command and result round-trips exactly (field values of every type,
 * fences, expectations, trims, payloads), and any other bytes decode to GRAPH_COMMAND_INVALID,
 * never to another exception.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { decodeCommand, decodeResult, encodeCommand, encodeResult } from '../../src/graph/index.js'
import { readString, writeString } from '../../src/graph/codec.js'
import { ByteReader, ByteWriter } from '../../src/util/bytes.js'
import type { GraphCommand, GraphResult } from '../../src/graph/index.js'
import { opArb } from './helpers.js'

const text = fc.string({ unit: 'grapheme', maxLength: 12 })
const safe = fc.nat({ max: Number.MAX_SAFE_INTEGER })

const commandArb: fc.Arbitrary<GraphCommand> = fc.oneof(
  fc.record({ type: fc.constant('emit' as const), time: safe, id: text, payload: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({
    type: fc.constant('tx' as const),
    time: safe,
    fence: fc.record({ name: text, token: safe }),
    expect: fc.array(fc.record({ id: text, version: safe }), { maxLength: 3 }),
    ops: fc.array(fc.oneof(opArb, fc.record({ op: fc.constant('update' as const), id: text, fields: fc.dictionary(text, fc.oneof(fc.double(), fc.boolean(), text, fc.constant(null)), { maxKeys: 3 }) })), { maxLength: 6 }),
    trim: fc.array(text, { maxLength: 3 })
  }, { requiredKeys: ['type', 'time', 'expect', 'ops', 'trim'] })
)

const resultArb: fc.Arbitrary<GraphResult> = fc.oneof(
  fc.record({ status: fc.constant('ok' as const), index: safe, touched: fc.array(text), removed: fc.array(text), trimmed: fc.array(text) }),
  fc.record({ status: fc.constantFrom('stored' as const, 'duplicate' as const), index: safe, id: text }),
  fc.record({ status: fc.constant('refused' as const), index: safe, code: fc.constantFrom('GRAPH_CONFLICT' as const, 'LEASE_FENCED' as const), message: text, details: fc.dictionary(text, fc.oneof(fc.integer(), text)) }, { requiredKeys: ['status', 'index', 'code', 'message'] })
)

test('every command round-trips exactly', () => {
  fc.assert(fc.property(commandArb, (c) => {
    assert.equal(structuredClone(decodeCommand(encodeCommand(c))), structuredClone(c))
  }), { seed: 1431, numRuns: 1000 })
})

test('every result round-trips exactly', () => {
  fc.assert(fc.property(resultArb, (r) => {
    assert.equal(structuredClone(decodeResult(encodeResult(r))), structuredClone(r))
  }), { seed: 1432, numRuns: 500 })
})

test('a string is written as its varint UTF-8 length and UTF-8 bytes, on the ASCII fast path and off it', () => {
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.uuid()), (s) => {
    const w = new ByteWriter()
    writeString(w, s)
    const utf8 = new TextEncoder().encode(s)
    const expected = new ByteWriter()
    expected.chunk(utf8)
    assert.equal([...w.finish()], [...expected.finish()])
    assert.is(readString(new ByteReader(w.finish(), 'GRAPH_COMMAND_INVALID')), s)
  }), { seed: 14, numRuns: 500 })
})

test('any other bytes (random, truncated, extended) fail with GRAPH_COMMAND_INVALID only', () => {
  const rejects = (bytes: Uint8Array): boolean => {
    try { decodeCommand(bytes); return false } catch (err) {
      if ((err as { code?: string }).code !== 'GRAPH_COMMAND_INVALID') throw err
      return true
    }
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => { rejects(bytes) }), { seed: 1433, numRuns: 2000 })
  fc.assert(fc.property(commandArb, fc.nat(), (c, cut) => {
    const bytes = encodeCommand(c)
    assert.ok(rejects(bytes.subarray(0, cut % bytes.length)), 'a truncated command is refused')
    assert.ok(rejects(new Uint8Array([...bytes, 0])), 'trailing bytes are refused')
  }), { seed: 1434, numRuns: 500 })
})

test('a field named like an Object.prototype member decodes as an own data field', () => {
  const fields = JSON.parse('{"__proto__": 1, "constructor": "a"}') as Record<string, number | string>
  const back = decodeCommand(encodeCommand({ type: 'tx', time: 1, expect: [], ops: [{ op: 'update', id: 'x', fields }], trim: [] }))
  const decoded = (back as unknown as { ops: Array<{ fields: Record<string, unknown> }> }).ops[0]!.fields
  assert.equal(Object.keys(decoded).sort(), ['__proto__', 'constructor'])
  assert.is(Object.getPrototypeOf(decoded), Object.prototype, 'the prototype was not replaced')
})

test.run()

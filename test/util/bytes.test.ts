/** The one byte codec: fixed-width integers, floats and strings round-trip, and every malformed read fails with the caller's code. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ByteReader, ByteWriter, readU64, writeU64 } from '../../src/util/bytes.js'
import { isQuorateError } from '../../src/errors.js'
import fc from 'fast-check'

test('u32, u64, f64 and utf8 round-trip in order, big-endian', () => {
  const w = new ByteWriter(4)
  w.u32(0xdeadbeef)
  w.u64(Number.MAX_SAFE_INTEGER)
  w.f64(-1.5)
  w.utf8('héllo')
  w.varint(300)
  const bytes = w.take()
  assert.equal([...bytes.subarray(0, 4)], [0xde, 0xad, 0xbe, 0xef])
  assert.is(w.length, 0, 'take() starts the writer over')
  const r = new ByteReader(bytes, 'WIRE_MALFORMED')
  assert.is(r.u32(), 0xdeadbeef)
  assert.is(r.u64(), Number.MAX_SAFE_INTEGER)
  assert.is(r.f64(), -1.5)
  assert.is(r.utf8(), 'héllo')
  assert.is(r.varint(), 300)
  r.end()
})

test('string() writes exactly chunk(TextEncoder bytes) for any string (ASCII, non-ASCII, lone surrogates, past 127 chars) and reads it back', () => {
  const utf8 = new TextEncoder()
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 300 })), fc.nat({ max: 70 }), (s, pad) => {
    const fast = new ByteWriter(1)
    const slow = new ByteWriter(1)
    for (let i = 0; i < pad; i++) { fast.byte(i); slow.byte(i) }
    fast.string(s)
    slow.chunk(utf8.encode(s))
    assert.equal(fast.finish(), slow.finish())
    const r = new ByteReader(fast.finish(), 'WIRE_MALFORMED', pad)
    assert.is(r.string(), new TextDecoder().decode(utf8.encode(s)))
    r.end()
  }), { seed: 615, numRuns: 400 })
  // A long non-ASCII string (a two-byte varint length) and invalid UTF-8 on the short path.
  const w = new ByteWriter()
  w.string('é'.repeat(5000))
  assert.is(new ByteReader(w.finish(), 'WIRE_MALFORMED').string(), 'é'.repeat(5000))
  const bad = new ByteReader(Uint8Array.of(2, 0x41, 0xff), 'WIRE_MALFORMED')
  assert.throws(() => bad.string(), (err: unknown) => isQuorateError(err, 'WIRE_MALFORMED'))
})

test('u64 keys sort bytewise like the numbers they hold', () => {
  const key = (n: number): string => { const b = new Uint8Array(8); writeU64(b, n, 0); return Buffer.from(b).toString('hex') }
  const ns = [0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]
  assert.equal(ns.map(key), [...ns.map(key)].sort())
})

test('a truncated read, a u64 above 2^53 and invalid UTF-8 fail with the reader\'s code', () => {
  const cases: Array<[string, (r: ByteReader) => unknown, Uint8Array]> = [
    ['u32', (r) => r.u32(), new Uint8Array(3)],
    ['u64 truncated', (r) => r.u64(), new Uint8Array(7)],
    ['u64 above 2^53', (r) => r.u64(), new Uint8Array(8).fill(0xff)],
    ['f64', (r) => r.f64(), new Uint8Array(5)],
    ['utf8 truncated', (r) => r.utf8(), Uint8Array.of(0, 0, 0, 5, 0x61)],
    ['utf8 invalid', (r) => r.utf8(), Uint8Array.of(0, 0, 0, 1, 0xff)]
  ]
  for (const [name, read, bytes] of cases) {
    assert.throws(() => read(new ByteReader(bytes, 'TUPLE_INVALID')), (err: unknown) => isQuorateError(err, 'TUPLE_INVALID'), name)
  }
  const b = new Uint8Array(8).fill(0xff)
  assert.is(readU64(b, 0), -1)
})

test.run()

/** The one byte codec: fixed-width integers, floats and strings round-trip, and every malformed read fails with the caller's code. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ByteReader, ByteWriter, readU64, writeU64 } from '../../src/util/bytes.js'
import { isQuorateError } from '../../src/errors.js'

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

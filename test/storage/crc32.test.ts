/** The JS CRC-32 of short data equals zlib's, from any starting value, on both sides of the native cut-over. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { crc32 as zlibCrc32 } from 'node:zlib'
import { CRC32_TABLES, crc32, SHORT_BYTES } from '../../src/storage/crc32.js'

test('crc32 equals zlib.crc32 for any data up to past the JS/native cut-over and any continuation value', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: SHORT_BYTES + 64 }), fc.nat({ max: 0xffff_ffff }), (data, value) => {
    assert.is(crc32(data), zlibCrc32(data))
    assert.is(crc32(data, value), zlibCrc32(data, value))
  }), { seed: 2020, numRuns: 500 })
})

test('every length from 0 to 17 and the edges of the cut-over match zlib (the 8-byte loop and the byte tail)', () => {
  const bytes = Uint8Array.from({ length: SHORT_BYTES + 2 }, (_, i) => (i * 131 + 7) & 0xff)
  for (const n of [...Array.from({ length: 18 }, (_, i) => i), SHORT_BYTES - 1, SHORT_BYTES, SHORT_BYTES + 1]) {
    assert.is(crc32(bytes.subarray(0, n), 12345), zlibCrc32(bytes.subarray(0, n), 12345), `length ${n}`)
  }
  // A continued CRC equals the CRC of the concatenation, which entryChecksum relies on.
  assert.is(crc32(bytes.subarray(5, 40), crc32(bytes.subarray(0, 5))), crc32(bytes.subarray(0, 40)))
})

test('the slicing tables are the standard ones: the first is the classic table, a broken table is caught', () => {
  assert.is(CRC32_TABLES[1], 0x77073096)
  assert.is(CRC32_TABLES[255]! >>> 0, 0x2d02ef8d)
  const data = Uint8Array.from({ length: 64 }, (_, i) => i)
  const before = crc32(data)
  // A mutant: one bit flipped in every entry of the table for byte 3 of each 8-byte block.
  const saved = CRC32_TABLES.slice(1024, 1280)
  for (let i = 1024; i < 1280; i++) CRC32_TABLES[i] = CRC32_TABLES[i]! ^ 1
  try {
    assert.is.not(crc32(data), zlibCrc32(data), 'the property above would catch the broken table')
  } finally { CRC32_TABLES.set(saved, 1024) }
  assert.is(crc32(data), before)
})

test.run()

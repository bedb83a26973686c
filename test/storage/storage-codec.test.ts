import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { crc32 } from 'node:zlib'
import { isQuorateError } from '../../src/errors.js'
import {
  decodeEntry, decodeHardState, decodeSnapshotPointer, decodeStagePointer, encodeEntry, encodeHardState, encodeSnapshotPointer, encodeStagePointer,
  entryKey, entryKeyIndex
} from '../../src/storage/codec.js'
import { readU64, writeU64 } from '../../src/util/bytes.js'
import type { Entry, EntryType } from '../../src/raft/types.js'

const entryArb = fc.record({
  index: fc.maxSafeNat(),
  term: fc.maxSafeNat(),
  type: fc.constantFrom<EntryType>('command', 'noop', 'config'),
  data: fc.uint8Array({ maxLength: 300 })
})

function u64 (n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}

test('the stored checksum is zlib crc32 over index, term, type and data', () => {
  fc.assert(fc.property(entryArb, (e) => {
    const value = encodeEntry(e)
    const typeCode = ['command', 'noop', 'config'].indexOf(e.type)
    const expected = crc32(Buffer.concat([u64(e.index), u64(e.term), Buffer.from([typeCode]), e.data]))
    assert.is(value.readUInt32BE(10), expected)
    assert.is(value.readBigUInt64BE(2), BigInt(e.term))
  }), { seed: 1028, numRuns: 100 })
})

test('entries decode to what was encoded', () => {
  fc.assert(fc.property(entryArb, (e) => {
    const d = decodeEntry(e.index, encodeEntry(e as Entry))
    assert.equal({ ...d, data: Array.from(d.data) }, { ...e, data: Array.from(e.data) })
  }), { seed: 1029, numRuns: 100 })
})

test('any single flipped bit in an entry value is detected', () => {
  fc.assert(fc.property(entryArb, fc.nat(), fc.nat(7), (e, at, bit) => {
    const value = encodeEntry(e as Entry)
    value[at % value.length]! ^= 1 << bit
    assert.throws(() => decodeEntry(e.index, value), (err: unknown) => isQuorateError(err, 'STORAGE_CORRUPT'))
  }), { seed: 1030, numRuns: 100 })
})

test('entry keys sort by index and round-trip every safe integer', () => {
  fc.assert(fc.property(fc.maxSafeNat(), fc.maxSafeNat(), (a, b) => {
    assert.is(entryKeyIndex(entryKey(a)), a)
    assert.is(Math.sign(Buffer.compare(entryKey(a), entryKey(b))), Math.sign(a - b))
  }), { seed: 1031, numRuns: 100 })
  const buf = Buffer.alloc(8, 0xff)
  assert.is(readU64(buf, 0), -1, 'values above 2^53 are rejected')
  writeU64(buf, Number.MAX_SAFE_INTEGER, 0)
  assert.is(readU64(buf, 0), Number.MAX_SAFE_INTEGER)
})

test('hard state and snapshot pointer round-trip and reject damage', () => {
  for (const hs of [{ term: 0, vote: null, commit: 0 }, { term: 2 ** 40, vote: 'nöde-1', commit: 7 }]) {
    assert.equal(decodeHardState(encodeHardState(hs)), hs)
    const bad = encodeHardState(hs)
    bad[bad.length - 1]! ^= 1
    assert.throws(() => decodeHardState(bad), (err: unknown) => isQuorateError(err, 'STORAGE_CORRUPT'))
  }
  const meta = { index: 9, term: 2, config: { voters: ['a'], votersOutgoing: ['b'], learners: [] } }
  const pointer = { generation: 3, chunkCount: 2, meta, bytes: 70, digest: Uint8Array.from({ length: 32 }, (_, i) => i * 5) }
  assert.equal(decodeSnapshotPointer(encodeSnapshotPointer(pointer)), pointer)
  const bad = encodeSnapshotPointer(pointer)
  bad[7]! ^= 1
  assert.throws(() => decodeSnapshotPointer(bad), (err: unknown) => isQuorateError(err, 'STORAGE_CORRUPT'))
})

test('a snapshot pointer written before lengths and digests (bare meta JSON) decodes with bytes -1 and a null digest', () => {
  const meta = { index: 9, term: 2, config: { voters: ['a'], votersOutgoing: [], learners: [] } }
  // The older encoding: sealed u32 generation, u32 chunk count, the meta as JSON.
  const modern = encodeSnapshotPointer({ generation: 3, chunkCount: 2, meta, bytes: 0, digest: null })
  const json = Buffer.from(JSON.stringify(meta))
  const body = Buffer.concat([modern.subarray(5, 13), json])
  const old = Buffer.concat([Buffer.from([1, 0, 0, 0, 0]), body])
  old.writeUInt32BE(crc32(body), 1)
  assert.equal(decodeSnapshotPointer(old), { generation: 3, chunkCount: 2, meta, bytes: -1, digest: null })
})

test('a staged snapshot pointer round-trips and rejects damage', () => {
  const stage = { generation: 7, chunkCount: 4, bytes: 4000, meta: { index: 12, term: 3, config: { voters: ['a', 'b'], votersOutgoing: [], learners: ['c'] } }, from: 'n1', digest: new Uint8Array(32).fill(9) }
  assert.equal(decodeStagePointer(encodeStagePointer(stage)), stage)
  const bad = encodeStagePointer(stage)
  bad[bad.length - 2]! ^= 1
  assert.throws(() => decodeStagePointer(bad), (err: unknown) => isQuorateError(err, 'STORAGE_CORRUPT'))
})

test.run()

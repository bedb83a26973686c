import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { isQuorateError, type QuorateError } from '../../src/errors.js'
import { decodeFrame } from '../../src/transport/codec.js'
import { encodeLengthPrefixed, FrameDecoder, FRAME_HEADER_BYTES } from '../../src/transport/framing.js'
import { frameArb, plain } from './codec-arbitraries.js'

/** Cuts `bytes` at the given sorted offsets. */
function cut (bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let start = 0
  for (const p of points) { chunks.push(bytes.subarray(start, p)); start = p }
  chunks.push(bytes.subarray(start))
  return chunks
}

function drain (decoder: FrameDecoder): Uint8Array[] {
  const out: Uint8Array[] = []
  let frame: Uint8Array | null
  while ((frame = decoder.next()) !== null) out.push(frame)
  return out
}

test('frames split across and coalesced within chunks come out whole and in order', () => {
  fc.assert(fc.property(fc.array(frameArb, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, offsets) => {
    const stream = Buffer.concat(frames.map((f) => encodeLengthPrefixed(f)))
    const decoder = new FrameDecoder()
    const out: Uint8Array[] = []
    for (const chunk of cut(stream, offsets)) {
      decoder.push(chunk)
      out.push(...drain(decoder))
    }
    assert.equal(out.map((b) => plain(decodeFrame(b))), frames.map(plain))
    assert.is(decoder.bufferedBytes, 0)
  }), { seed: 1041, numRuns: 500 })
})

test('a frame delivered one byte at a time is reassembled', () => {
  const frame = encodeLengthPrefixed({ kind: 'hello', version: 1, clusterId: 'c', sender: 'n1', to: 'n2' })
  const decoder = new FrameDecoder()
  const out: Uint8Array[] = []
  for (const byte of frame) {
    decoder.push(Uint8Array.of(byte))
    out.push(...drain(decoder))
  }
  assert.is(out.length, 1)
  assert.equal(Array.from(out[0]!), Array.from(frame.subarray(FRAME_HEADER_BYTES)))
})

test('a frame inside one chunk is returned as a view, without a copy', () => {
  const frame = encodeLengthPrefixed({ kind: 'hello', version: 1, clusterId: 'c', sender: 'n1', to: 'n2' })
  const decoder = new FrameDecoder()
  decoder.push(frame)
  const out = decoder.next()
  assert.ok(out !== null)
  assert.is(out.buffer, frame.buffer)
  assert.is(out.byteOffset, frame.byteOffset + FRAME_HEADER_BYTES)
})

test('an announced length above maxFrameBytes fails with WIRE_FRAME_TOO_LARGE from the header alone', () => {
  const decoder = new FrameDecoder(1024)
  decoder.push(Uint8Array.of(0xff, 0xff))
  assert.is(decoder.next(), null)
  decoder.push(Uint8Array.of(0xff, 0xff))
  try {
    decoder.next()
    assert.unreachable('expected WIRE_FRAME_TOO_LARGE')
  } catch (err) {
    assert.ok(isQuorateError(err, 'WIRE_FRAME_TOO_LARGE'))
    assert.is((err as QuorateError).info?.length, 0xffffffff)
  }
  assert.is(decoder.bufferedBytes, 0)
})

test('after a too-large frame the decoder stays failed', () => {
  const decoder = new FrameDecoder(1024)
  decoder.push(Uint8Array.of(0, 0, 0x10, 0))
  assert.throws(() => decoder.next(), (err: unknown) => isQuorateError(err, 'WIRE_FRAME_TOO_LARGE'))
  assert.throws(() => decoder.push(Uint8Array.of(0, 0, 0, 0)), (err: unknown) => isQuorateError(err, 'WIRE_FRAME_TOO_LARGE'))
  assert.throws(() => decoder.next(), (err: unknown) => isQuorateError(err, 'WIRE_FRAME_TOO_LARGE'))
})

test('a frame of exactly maxFrameBytes is accepted', () => {
  const decoder = new FrameDecoder(1024)
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + 1024)
  frame.writeUInt32BE(1024, 0)
  decoder.push(frame)
  assert.is(decoder.next()?.length, 1024)
})

test('a zero-length frame comes out as an empty body', () => {
  const decoder = new FrameDecoder()
  decoder.push(Uint8Array.of(0, 0, 0, 0, 0, 0))
  assert.is(decoder.next()?.length, 0)
  assert.is(decoder.next(), null)
  assert.is(decoder.bufferedBytes, 2)
})

test('lowering maxFrameBytes applies to the next header (a small limit during the handshake)', () => {
  const decoder = new FrameDecoder(16)
  decoder.push(Uint8Array.of(0, 0, 0, 20, ...new Array(20).fill(1)))
  assert.throws(() => decoder.next(), (err: unknown) => isQuorateError(err, 'WIRE_FRAME_TOO_LARGE'))
  const raised = new FrameDecoder(16)
  raised.maxFrameBytes = 32
  raised.push(Uint8Array.of(0, 0, 0, 20, ...new Array(20).fill(1)))
  assert.is(raised.next()?.length, 20)
})

test('many small chunks of one large frame are each copied once (the chunk list is compacted)', () => {
  const size = 200_000
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + size, 3)
  frame.writeUInt32BE(size, 0)
  const decoder = new FrameDecoder()
  let out: Uint8Array | null = null
  for (let i = 0; i < frame.length; i += 7) {
    decoder.push(frame.subarray(i, i + 7))
    out = decoder.next() ?? out
  }
  assert.is(out?.length, size)
  assert.ok(out?.every((b) => b === 3))
})

test.run()

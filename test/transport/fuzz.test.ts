/**
 * Fuzzes the receive path (FrameDecoder + decodeFrame) with 100,000 inputs per run: random
 * bytes, and valid frames mutated by bit flips, truncations, length-field rewrites, byte
 * insertions and splices. The receive path must only ever throw QuorateErrors and never
 * buffer more than one frame limit (plus the chunk being pushed).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { QuorateError } from '../../src/errors.js'
import { decodeFrame } from '../../src/transport/codec.js'
import { encodeLengthPrefixed, FrameDecoder, FRAME_HEADER_BYTES } from '../../src/transport/framing.js'
import { frameArb } from './codec-arbitraries.js'

const MAX_FRAME_BYTES = 4096
const RANDOM_RUNS = 50_000
const MUTATED_RUNS = 50_000

const corpus: Buffer[] = fc.sample(frameArb, { numRuns: 300, seed: 42 }).map((f) => encodeLengthPrefixed(f))

/** Feeds `stream` cut at `cuts` into a decoder and decodes every frame; returns how many decoded. */
function receive (stream: Uint8Array, cuts: readonly number[]): number {
  const decoder = new FrameDecoder(MAX_FRAME_BYTES)
  const points = [...cuts.map((c) => c % (stream.length + 1)), stream.length].sort((a, b) => a - b)
  let start = 0
  let decoded = 0
  try {
    for (const end of points) {
      const chunk = stream.subarray(start, end)
      start = end
      decoder.push(chunk)
      let frame: Uint8Array | null
      while ((frame = decoder.next()) !== null) {
        assert.ok(frame.length <= MAX_FRAME_BYTES, 'a frame above the limit came out')
        decodeFrame(frame)
        decoded++
      }
      assert.ok(decoder.bufferedBytes <= MAX_FRAME_BYTES + FRAME_HEADER_BYTES + chunk.length, `buffered ${decoder.bufferedBytes} bytes`)
    }
  } catch (err) {
    if (!(err instanceof QuorateError)) throw err
    assert.ok(err.code.startsWith('WIRE_'), `unexpected code ${err.code}`)
  }
  return decoded
}

function decodeAlone (body: Uint8Array): void {
  try {
    decodeFrame(body)
  } catch (err) {
    if (!(err instanceof QuorateError)) throw err
  }
}

type Mutation =
  | { kind: 'flip', at: number, bit: number }
  | { kind: 'truncate', at: number }
  | { kind: 'length', value: number }
  | { kind: 'insert', at: number, byte: number }
  | { kind: 'splice', other: number, at: number }

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('length' as const), value: fc.oneof(fc.nat(64), fc.nat(MAX_FRAME_BYTES * 2), fc.constant(0xffffffff)) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.nat(255) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('splice' as const), other: fc.nat(corpus.length - 1), at: fc.nat() }) }
)

function mutate (frame: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(frame)
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : ('at' in m ? m.at % out.length : 0)
    switch (m.kind) {
      case 'flip': if (out.length > 0) out[at]! ^= 1 << m.bit; break
      case 'truncate': out = out.subarray(0, at); break
      case 'length': if (out.length >= FRAME_HEADER_BYTES) out.writeUInt32BE(m.value, 0); break
      case 'insert': out = Buffer.concat([out.subarray(0, at), Buffer.of(m.byte), out.subarray(at)]); break
      case 'splice': out = Buffer.concat([out.subarray(0, at), corpus[m.other]!]); break
    }
  }
  return out
}

test('the unmutated corpus decodes (the fuzzer starts from valid frames)', () => {
  assert.is(receive(Buffer.concat(corpus), []), corpus.length)
})

test(`${RANDOM_RUNS} random byte streams only ever raise QuorateErrors and stay within the frame limit`, () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 4 }), (bytes, cuts) => {
    receive(bytes, cuts)
    decodeAlone(bytes)
    const framed = Buffer.alloc(FRAME_HEADER_BYTES + bytes.length)
    framed.writeUInt32BE(bytes.length, 0)
    framed.set(bytes, FRAME_HEADER_BYTES)
    receive(framed, cuts)
  }), { seed: 1042, numRuns: RANDOM_RUNS })
})

test(`${MUTATED_RUNS} mutated valid frames only ever raise QuorateErrors and stay within the frame limit`, () => {
  fc.assert(fc.property(
    fc.nat(corpus.length - 1), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 4 }),
    (index, mutations, cuts) => {
      const mutated = mutate(corpus[index]!, mutations)
      receive(mutated, cuts)
      decodeAlone(mutated.subarray(Math.min(FRAME_HEADER_BYTES, mutated.length)))
    }
  ), { seed: 1043, numRuns: MUTATED_RUNS })
})

test.run()

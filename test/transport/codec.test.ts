import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import protobuf from 'protobufjs'
import { fileURLToPath } from 'node:url'
import { isQuorateError, type ErrorCode } from '../../src/errors.js'
import { message, MESSAGE_TYPES } from '../../src/raft/types.js'
import { decodeFrame, encodeFrame, encodedFrameSize, WIRE_VERSION, type RaftFrame, type WireFrame } from '../../src/transport/codec.js'
import { appendFrame, fromProtobufObject, frameArb, messageArb, plain, toProtobufObject, TO_OBJECT } from './codec-arbitraries.js'

const root = protobuf.loadSync(fileURLToPath(new URL('../../../proto/quorate.proto', import.meta.url)))
const Frame = root.lookupType('quorate.wire.v1.Frame')

function raft (...messages: RaftFrame['messages']): RaftFrame {
  return { kind: 'raft', version: WIRE_VERSION, clusterId: 'c1', sender: 'n1', messages }
}

function expectCode (code: ErrorCode, fn: () => unknown): void {
  try {
    fn()
  } catch (err) {
    assert.ok(isQuorateError(err), `expected a QuorateError, got ${String(err)}`)
    assert.is((err as { code: string }).code, code)
    return
  }
  assert.unreachable(`expected ${code}`)
}

/** Hand-assembled protobuf bytes: each part is a byte or a list of bytes. */
function bytes (...parts: Array<number | number[]>): Uint8Array {
  return Uint8Array.from(parts.flat())
}

const VERSION_1 = [0x08, 0x01]
/** A raft body holding one message whose fields are `inner`. */
function raftWith (inner: number[]): Uint8Array {
  return bytes(VERSION_1, 0x2a, inner.length + 2, 0x0a, inner.length, inner)
}

test('every message type round-trips through encode and decode', () => {
  for (const type of MESSAGE_TYPES) {
    const m = message({ type, from: 'n1', to: 'n2', term: 3, index: 7, commit: 5, context: 9 })
    const decoded = decodeFrame(encodeFrame(raft(m)))
    assert.equal(plain(decoded), plain(raft(m)), type)
  }
})

test('any frame round-trips with every field intact', () => {
  fc.assert(fc.property(frameArb, (frame) => {
    const encoded = encodeFrame(frame)
    assert.is(encoded.length, encodedFrameSize(frame))
    assert.equal(plain(decodeFrame(encoded)), plain(frame))
  }), { seed: 1036, numRuns: 2000 })
})

test('decoding a view inside a larger buffer reads only the view', () => {
  fc.assert(fc.property(frameArb, fc.uint8Array({ maxLength: 8 }), (frame, junk) => {
    const encoded = encodeFrame(frame, junk.length)
    encoded.set(junk, 0)
    const view = new Uint8Array(encoded.buffer, encoded.byteOffset + junk.length, encoded.length - junk.length)
    assert.equal(plain(decodeFrame(view)), plain(frame))
  }), { seed: 1037, numRuns: 300 })
})

test('headroom is left untouched in front of the encoding', () => {
  const frame = raft(message({ type: 'heartbeat', from: 'n1', to: 'n2', term: 1 }))
  const withRoom = encodeFrame(frame, 4)
  assert.equal(Array.from(withRoom.subarray(4)), Array.from(encodeFrame(frame)))
})

test('what protobufjs reflection encodes from the .proto, the codec decodes identically', () => {
  fc.assert(fc.property(frameArb, (frame) => {
    const pbBytes = Frame.encode(Frame.fromObject(toProtobufObject(frame))).finish()
    assert.equal(plain(decodeFrame(pbBytes)), plain(frame))
  }), { seed: 1038, numRuns: 1000 })
})

test('what the codec encodes, protobufjs reflection decodes identically', () => {
  fc.assert(fc.property(frameArb, (frame) => {
    const decoded = Frame.toObject(Frame.decode(encodeFrame(frame)), TO_OBJECT)
    assert.equal(plain(fromProtobufObject(decoded)), plain(frame))
  }), { seed: 1039, numRuns: 1000 })
})

test('the benchmark AppendEntries frame agrees with protobufjs byte for byte in size', () => {
  const frame = appendFrame(64, 100)
  const pbBytes = Frame.encode(Frame.fromObject(toProtobufObject(frame))).finish()
  assert.equal(plain(decodeFrame(pbBytes)), plain(frame))
  assert.ok(encodeFrame(frame).length <= pbBytes.length)
})

test('decoded numbers are plain JS numbers, not Long objects, up to 2^53 - 1', () => {
  const m = message({ type: 'append', from: 'a', to: 'b', term: Number.MAX_SAFE_INTEGER, index: 2 ** 40, commit: 2 ** 32 })
  const decoded = decodeFrame(encodeFrame(raft(m))) as RaftFrame
  assert.is(typeof decoded.messages[0]!.term, 'number')
  assert.is(decoded.messages[0]!.term, Number.MAX_SAFE_INTEGER)
  assert.is(decoded.messages[0]!.index, 2 ** 40)
  assert.is(decoded.messages[0]!.commit, 2 ** 32)
})

test('decoded bytes alias the input (no copy) and are plain Uint8Arrays', () => {
  const data = Uint8Array.from([1, 2, 3])
  const input = encodeFrame(raft(message({ type: 'append', from: 'a', to: 'b', term: 1, entries: [{ term: 1, index: 1, type: 'command', data }] })))
  const decoded = decodeFrame(input) as RaftFrame
  const out = decoded.messages[0]!.entries[0]!.data
  assert.is(out.constructor, Uint8Array)
  assert.is(out.buffer, input.buffer)
})

test('a counter of 2^53 or more is refused with WIRE_INVALID_NUMBER', () => {
  // term (field 4) = 2^53: varint 80 80 80 80 80 80 80 80 10
  expectCode('WIRE_INVALID_NUMBER', () => decodeFrame(raftWith([0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])))
})

test('a negative counter written by protobufjs is refused with WIRE_INVALID_NUMBER', () => {
  // Frame.encode (not fromObject, which drops the value) writes -1 as the 10-byte varint of 2^64 - 1.
  const pbBytes = Frame.encode({ version: 1, raft: { messages: [{ from: 'a', to: 'b', term: 1, index: -1 }] } }).finish()
  expectCode('WIRE_INVALID_NUMBER', () => decodeFrame(pbBytes))
})

test('every counter field is validated on decode', () => {
  for (const tag of [0x20, 0x28, 0x30, 0x38, 0x50, 0x58]) {
    expectCode('WIRE_INVALID_NUMBER', () => decodeFrame(raftWith([tag, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])))
  }
  // entry.term = 2^64 - 1
  const entry = [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
  expectCode('WIRE_INVALID_NUMBER', () => decodeFrame(raftWith([0x42, entry.length, ...entry])))
})

test('the encoder refuses negative, fractional and unsafe counters', () => {
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 53, Infinity]) {
    expectCode('WIRE_INVALID_NUMBER', () => encodeFrame(raft(message({ type: 'append', from: 'a', to: 'b', term: bad }))))
  }
})

test('an unknown message kind is refused with WIRE_UNKNOWN_TYPE', () => {
  expectCode('WIRE_UNKNOWN_TYPE', () => decodeFrame(raftWith([0x08, MESSAGE_TYPES.length])))
  expectCode('WIRE_UNKNOWN_TYPE', () => decodeFrame(raftWith([0x42, 2, 0x18, 3])))
})

test('a reserved frame body (lease or tuple traffic) is refused with WIRE_UNKNOWN_TYPE', () => {
  for (const field of [6, 10, 11, 15]) {
    expectCode('WIRE_UNKNOWN_TYPE', () => decodeFrame(bytes(VERSION_1, (field << 3) | 2, 0)))
  }
})

test('unknown fields inside a message are skipped for forward compatibility', () => {
  // message { type: heartbeat, field 15 (varint) = 5, field 14 (fixed32), field 13 (fixed64), field 16 (len) }
  const inner = [0x08, 2, 0x78, 5, 0x75, 1, 2, 3, 4, 0x69, 1, 2, 3, 4, 5, 6, 7, 8, 0x82, 0x01, 2, 9, 9]
  const decoded = decodeFrame(raftWith(inner)) as RaftFrame
  assert.is(decoded.messages[0]!.type, 'heartbeat')
})

test('an unsupported or missing version is refused with WIRE_VERSION_UNSUPPORTED', () => {
  expectCode('WIRE_VERSION_UNSUPPORTED', () => decodeFrame(encodeFrame({ ...raft(), version: 2 })))
  expectCode('WIRE_VERSION_UNSUPPORTED', () => decodeFrame(bytes(0x2a, 0)))
  // The version is checked before the body is parsed: a v2 body in any layout gives the version error.
  expectCode('WIRE_VERSION_UNSUPPORTED', () => decodeFrame(bytes(0x08, 2, 0x2a, 3, 0xff, 0xff, 0xff)))
})

test('truncated frames are refused with WIRE_MALFORMED (or a number error), never anything else', () => {
  const frame = raft(message({
    type: 'snapshot', from: 'n1', to: 'n2', term: 300, entries: [{ term: 1, index: 2, type: 'noop', data: Uint8Array.from([1, 2]) }],
    snapshot: { meta: { index: 9, term: 2, config: { voters: ['a'], votersOutgoing: [], learners: ['b'] } }, offset: 5, data: Uint8Array.from([7]), done: true, digest: Uint8Array.from([1, 2, 3]) }
  }))
  const encoded = encodeFrame(frame)
  for (let cut = 0; cut < encoded.length; cut++) {
    try {
      decodeFrame(encoded.subarray(0, cut))
      assert.unreachable(`a frame cut at ${cut} decoded`)
    } catch (err) {
      assert.ok(isQuorateError(err, 'WIRE_MALFORMED') || isQuorateError(err, 'WIRE_VERSION_UNSUPPORTED'), `cut ${cut}: ${String(err)}`)
    }
  }
})

test('structural garbage is refused with WIRE_MALFORMED', () => {
  expectCode('WIRE_MALFORMED', () => decodeFrame(bytes()))
  expectCode('WIRE_MALFORMED', () => decodeFrame(bytes(VERSION_1)))
  expectCode('WIRE_MALFORMED', () => decodeFrame(bytes(VERSION_1, 0x2a, 0x7f)))
  expectCode('WIRE_MALFORMED', () => decodeFrame(bytes(VERSION_1, 0x2a, 0xff, 0xff, 0xff, 0xff, 0x0f)))
  expectCode('WIRE_MALFORMED', () => decodeFrame(bytes(VERSION_1, 0x2b)))
  expectCode('WIRE_MALFORMED', () => decodeFrame(bytes(0x00)))
  expectCode('WIRE_MALFORMED', () => decodeFrame(bytes(VERSION_1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)))
  expectCode('WIRE_MALFORMED', () => decodeFrame(bytes(0x0a, 0x01, 0x00, 0x2a, 0)))
})

test('a length larger than the input is refused before anything is allocated for it', () => {
  // entry data claims 2^31 bytes in a 12-byte frame
  expectCode('WIRE_MALFORMED', () => decodeFrame(raftWith([0x42, 6, 0x22, 0x80, 0x80, 0x80, 0x80, 0x08])))
})

test('a frame without a body is refused', () => {
  expectCode('WIRE_MALFORMED', () => decodeFrame(bytes(VERSION_1, 0x12, 1, 0x41)))
})

test('the snapshot chunk keeps null distinct from an empty chunk', () => {
  const empty = { meta: { index: 0, term: 0, config: { voters: [], votersOutgoing: [], learners: [] } }, offset: 0, data: new Uint8Array(0), done: false, digest: new Uint8Array(0) }
  const withEmpty = decodeFrame(encodeFrame(raft(message({ type: 'snapshot', from: 'a', to: 'b', term: 1, snapshot: empty })))) as RaftFrame
  const withNull = decodeFrame(encodeFrame(raft(message({ type: 'snapshot', from: 'a', to: 'b', term: 1 })))) as RaftFrame
  assert.equal(plain(withEmpty.messages[0]!.snapshot), plain(empty))
  assert.is(withNull.messages[0]!.snapshot, null)
})

test('non-ASCII node ids round-trip', () => {
  const ids = ['nœud-1', '节点', '🦀', 'a\u0000b']
  for (const id of ids) {
    const frame: WireFrame = { kind: 'hello', version: 1, clusterId: id, sender: id, to: id }
    assert.equal(decodeFrame(encodeFrame(frame)), frame)
  }
})

test('decoded messages have the same property order as message(), one shape for all', () => {
  fc.assert(fc.property(messageArb, (m) => {
    const decoded = (decodeFrame(encodeFrame(raft(m))) as RaftFrame).messages[0]
    assert.equal(Object.keys(decoded!), Object.keys(message({ type: 'append', from: '', to: '', term: 0 })))
  }), { seed: 1040, numRuns: 100 })
})

test.run()

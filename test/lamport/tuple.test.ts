import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import {
  ANY, REST, decodePattern, decodeTuple, encodePattern, encodeTuple, matches, validateTuple,
  type Tuple, type Value
} from '../../src/lamport/index.js'
import { isQuorateError } from '../../src/errors.js'
import { anyTuple } from './helpers.js'

/** The intended order, written independently of the encoding. */
function rank (v: Value): number {
  if (typeof v === 'boolean') return v ? 2 : 1
  if (typeof v === 'number') return 3
  if (typeof v === 'bigint') return 4
  if (typeof v === 'string') return 5
  if (v instanceof Uint8Array) return 6
  return 7
}
function compareCodePoints (a: string, b: string): number {
  const ca = [...a].map((c) => c.codePointAt(0) as number)
  const cb = [...b].map((c) => c.codePointAt(0) as number)
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) if (ca[i] !== cb[i]) return (ca[i] as number) - (cb[i] as number)
  return ca.length - cb.length
}
function modelCompare (a: Value, b: Value): number {
  const ra = rank(a)
  const rb = rank(b)
  if (ra !== rb) return ra - rb
  if (typeof a === 'number') return a < (b as number) ? -1 : a > (b as number) ? 1 : 0
  if (typeof a === 'bigint') return a < (b as bigint) ? -1 : a > (b as bigint) ? 1 : 0
  if (typeof a === 'string') return compareCodePoints(a, b as string)
  if (a instanceof Uint8Array) return Buffer.compare(a, b as Uint8Array)
  if (Array.isArray(a)) return compareTupleModel(a, b as Tuple)
  return 0
}
function compareTupleModel (a: Tuple, b: Tuple): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = modelCompare(a[i] as Value, b[i] as Value)
    if (c !== 0) return c
  }
  return a.length - b.length
}
const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0)
const normalize = (t: Tuple): unknown => t.map((v) => (Array.isArray(v) ? normalize(v) : Object.is(v, -0) ? 0 : v))

test('tuple encoding round-trips', () => {
  fc.assert(fc.property(anyTuple, (t) => { assert.equal(decodeTuple(encodeTuple(t)), normalize(t)) }), { seed: 1011, numRuns: 300 })
})

test('bytewise order of encodings is the tuple order (type, then value, shorter prefix first)', () => {
  fc.assert(fc.property(anyTuple, anyTuple, (a, b) => {
    assert.is(sign(Buffer.compare(encodeTuple(a), encodeTuple(b))), sign(compareTupleModel(a, b)))
  }), { seed: 1012, numRuns: 500 })
})

test('bigints and numbers near boundaries keep their order', () => {
  const big = [-(2n ** 64n), -256n, -255n, -1n, 0n, 1n, 255n, 256n, 2n ** 64n]
  for (let i = 1; i < big.length; i++) assert.ok(Buffer.compare(encodeTuple([big[i - 1] as bigint]), encodeTuple([big[i] as bigint])) < 0)
  const nums = [-Infinity, -1e300, -1, -Number.MIN_VALUE, 0, Number.MIN_VALUE, 1, 1e300, Infinity]
  for (let i = 1; i < nums.length; i++) assert.ok(Buffer.compare(encodeTuple([nums[i - 1] as number]), encodeTuple([nums[i] as number])) < 0)
})

test('encoding is canonical: -0 and 0 encode alike, embedded zero bytes stay unambiguous', () => {
  assert.equal(encodeTuple([-0]), encodeTuple([0]))
  assert.not.equal(encodeTuple(['a\u0000', 'b']), encodeTuple(['a', '\u0000b']))
  assert.equal(decodeTuple(encodeTuple([Uint8Array.of(0, 0xff, 0), 'x\u0000'])), [Uint8Array.of(0, 0xff, 0), 'x\u0000'])
})

test('a tuple prefix encodes as a byte prefix', () => {
  fc.assert(fc.property(anyTuple, anyTuple, (a, b) => {
    const whole = Buffer.from(encodeTuple([...a, ...b]))
    assert.ok(whole.subarray(0, encodeTuple(a).length).equals(Buffer.from(encodeTuple(a))))
  }), { seed: 1013, numRuns: 100 })
})

test('unsupported values are refused with TUPLE_INVALID', () => {
  const cyclic: unknown[] = []
  cyclic.push(cyclic)
  const bad: unknown[] = [[null], [undefined], [{}], [new Date(0)], [Symbol('x')], [() => 1], [NaN], ['\ud800'], 'not an array', [cyclic], [2n ** 1100n]]
  for (const t of bad) {
    try { encodeTuple(t as Tuple); assert.unreachable(`accepted ${String(t)}`) } catch (err) {
      assert.ok(isQuorateError(err, 'TUPLE_INVALID'), String(err))
    }
  }
  try { validateTuple(['a', ANY]); assert.unreachable() } catch (err) { assert.ok(isQuorateError(err, 'TUPLE_INVALID')) }
  try { encodePattern([REST, 'a']); assert.unreachable() } catch (err) { assert.ok(isQuorateError(err, 'TUPLE_INVALID')) }
})

test('decoding refuses malformed bytes with TUPLE_INVALID and never crashes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
    try { decodeTuple(bytes) } catch (err) { assert.ok(isQuorateError(err, 'TUPLE_INVALID'), String(err)) }
  }), { seed: 1014, numRuns: 500 })
  try { decodeTuple(encodePattern(['a', ANY])); assert.unreachable() } catch (err) { assert.ok(isQuorateError(err, 'TUPLE_INVALID')) }
})

test('patterns round-trip and match with ANY for one element and REST for any tail', () => {
  const p = ['job', ANY, 'running'] as const
  assert.equal(decodePattern(encodePattern(p)), p)
  assert.ok(matches(p, ['job', 7, 'running']))
  assert.not.ok(matches(p, ['job', 7, 'done']))
  assert.not.ok(matches(p, ['job', 7, 'running', 'extra']))
  assert.ok(matches(['job', REST], ['job']))
  assert.ok(matches(['job', REST], ['job', 1, 2]))
  assert.not.ok(matches(['job', REST], ['jobs']))
  assert.ok(matches([['a', ANY], REST], [['a', 1n], 'x']))
  assert.not.ok(matches([1], [1n]), 'numbers and bigints are different values')
  assert.ok(matches([Uint8Array.of(1)], [Uint8Array.of(1)]))
})

test.run()

import fc from 'fast-check'
import {
  ANY, LamportClock, REST, TupleStore, encodePattern, formatStamp, negative, positive, tupleKey,
  type Pattern, type Tuple, type TupleStoreOptions, type Update, type Value
} from '../../src/lamport/index.js'

export async function openStore (node: number, options: Partial<TupleStoreOptions> = {}): Promise<TupleStore> {
  const store = new TupleStore({ clock: new LamportClock({ node }), ...options })
  await store.open()
  return store
}

/** The visible tuples with their stamps, as sorted strings (order-independent comparison). */
export function visibleSet (store: TupleStore): string[] {
  return store.queryStamped([REST]).map((s) => `${Buffer.from(tupleKey(s.tuple), 'latin1').toString('hex')}@${formatStamp(s.stamp)}`).sort()
}

/** Everything that defines the replicated state: entries (visible or not) and rules. */
export function fingerprint (store: TupleStore): string {
  const snap = store.snapshot()
  const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex')
  const entries = snap.entries.map((e) => `${hex(tupleKey(e.tuple))}+${e.pos === null ? '-' : formatStamp(e.pos)}-${e.neg === null ? '-' : formatStamp(e.neg)}`).sort()
  const rules = snap.rules.map((r) => `${Buffer.from(encodePattern(r.pattern)).toString('hex')}:${formatStamp(r.stamp)}`).sort()
  return JSON.stringify({ entries, rules, visible: visibleSet(store) })
}

/** Small tuples over a small alphabet, so that patterns and cancellations collide often. */
export const smallValue: fc.Arbitrary<Value> = fc.oneof(
  fc.constantFrom('job', 'cfg', 'a', 'b'),
  fc.integer({ min: 0, max: 3 }),
  fc.boolean()
)
export const smallTuple: fc.Arbitrary<Tuple> = fc.array(smallValue, { minLength: 1, maxLength: 3 })
export const smallPattern: fc.Arbitrary<Pattern> = fc.tuple(
  fc.array(fc.oneof({ weight: 3, arbitrary: smallValue }, { weight: 1, arbitrary: fc.constant(ANY) }), { minLength: 0, maxLength: 3 }),
  fc.boolean()
).map(([els, rest]) => (rest || els.length === 0 ? [...els, REST] : els) as Pattern)

/** Any tuple value, nested up to depth 3. */
export const anyTuple: fc.Arbitrary<Tuple> = fc.letrec<{ value: Value, tuple: Tuple }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary' }).filter((s) => (s as unknown as { isWellFormed: () => boolean }).isWellFormed()),
    fc.double({ noNaN: true }),
    fc.integer(),
    fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
    fc.boolean(),
    fc.uint8Array({ maxLength: 8 }),
    tie('tuple')
  ) as fc.Arbitrary<Value>,
  tuple: fc.array(tie('value'), { maxLength: 4 }) as fc.Arbitrary<Tuple>
})).tuple

const isExactPattern = (p: Pattern): boolean => !p.some(function wild (e: unknown): boolean {
  return e === ANY || e === REST || (Array.isArray(e) && e.some(wild))
})

/** 1–4 updates forming a valid transaction (no tuple both asserted and exactly cancelled). */
export const validUpdates: fc.Arbitrary<Update[]> = fc.array(fc.oneof(
  { weight: 3, arbitrary: smallTuple.map(positive) },
  { weight: 1, arbitrary: smallTuple.map(negative) },
  { weight: 1, arbitrary: smallPattern.map(negative) }
), { minLength: 1, maxLength: 4 }).filter((us) => {
  const asserted = new Set(us.filter((u) => u.kind === 'positive').map((u) => tupleKey(u.tuple)))
  return !us.some((u) => u.kind === 'negative' && isExactPattern(u.pattern) && asserted.has(tupleKey(u.pattern as Tuple)))
})

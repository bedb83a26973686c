/** KV histories whose search cost is known: hard, easy and quickly illegal keys, for budget tests. */
import type { Operation } from '../../src/testing/history.js'
import type { KvInput, KvOutput } from '../../src/testing/kv-model.js'

export type KvOp = Operation<KvInput, KvOutput>

export const put = (key: string, value: string, invoke: number, ret: number): KvOp =>
  ({ clientId: `w-${value}`, input: { op: 'put', key, value }, invoke, return: ret, output: { op: 'put' } })
export const get = (key: string, value: string | null, invoke: number, ret: number): KvOp =>
  ({ clientId: 'reader', input: { op: 'get', key }, invoke, return: ret, output: { op: 'get', value } })

/**
 * 30 concurrent puts on `key` and then a get of a value none of them wrote: proving that
 * illegal means trying every subset of the puts, far beyond any budget used here.
 */
export function hardKey (key: string): KvOp[] {
  return [...Array.from({ length: 30 }, (_, i) => put(key, `${key}${i}`, 0, 100)), get(key, 'never written', 200, 201)]
}

/** A key written and then read back stale: illegal after a handful of steps. */
export function staleKey (key: string): KvOp[] {
  return [put(key, 'old', 0, 1), put(key, 'new', 2, 3), get(key, 'old', 4, 5)]
}

/** `n` sequential puts each read back: linearizable, found in a few steps per operation. */
export function easyKey (key: string, n: number): KvOp[] {
  return Array.from({ length: n }, (_, i) => [put(key, `${key}${i}`, 10 * i, 10 * i + 1), get(key, `${key}${i}`, 10 * i + 2, 10 * i + 3)]).flat()
}

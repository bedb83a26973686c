/**
 * History generators for the checker's tests: a correct atomic key-value store driven by
 * concurrent clients with random timing (every history it produces is linearizable by
 * construction), and a way to add a read that is provably stale.
 */
import { SeededRandom, randomInt } from '../../src/util/random.js'
import type { Operation } from '../../src/testing/history.js'
import { kvTransition } from '../../src/testing/kv-model.js'
import type { KvInput, KvOutput } from '../../src/testing/kv-model.js'
import { KvWorkload } from '../../src/testing/kv-workload.js'

export type KvOp = Operation<KvInput, KvOutput>

export interface AtomicRunOptions {
  seed: number
  clients: number
  operations: number
  keys: number
  /** Probability that an operation's outcome is unknown to its client. */
  unknownRate: number
  /** Probability that an operation is slow (up to 40x the usual latency), as during an election. @default 0 */
  slowRate?: number
}

/**
 * Each operation takes effect atomically at a random instant inside [invoke, return]; an
 * unknown-outcome one takes effect at such an instant or, half the time, never.
 */
export function atomicKvHistory (options: AtomicRunOptions): KvOp[] {
  const random = new SeededRandom(options.seed)
  const workload = new KvWorkload(random, { keys: options.keys })
  const clientFree = new Array<number>(options.clients).fill(0)
  interface Planned { client: number, input: KvInput, invoke: number, at: number, ret: number, unknown: boolean, effective: boolean }
  const planned: Planned[] = []
  for (let i = 0; i < options.operations; i++) {
    const client = randomInt(random, 0, options.clients)
    const invoke = clientFree[client]! + randomInt(random, 0, 4)
    const latency = random.next() < (options.slowRate ?? 0) ? 240 : 6
    const at = invoke + randomInt(random, 0, latency)
    const ret = at + randomInt(random, 0, latency)
    clientFree[client] = ret + 1
    const unknown = random.next() < options.unknownRate
    planned.push({ client, input: workload.next(), invoke, at, ret, unknown, effective: !unknown || random.next() < 0.5 })
  }
  const store = new Map<string, string>()
  const outputs = new Map<Planned, KvOutput>()
  const byEffect = planned.filter((p) => p.effective).sort((a, b) => a.at - b.at)
  for (const p of byEffect) {
    const { value, output } = kvTransition(store.get(p.input.key) ?? null, p.input)
    if (value !== null) store.set(p.input.key, value)
    outputs.set(p, output)
  }
  return planned.map((p, id) => p.unknown
    ? { id, clientId: `c${p.client}`, input: p.input, invoke: p.invoke, return: null }
    : { id, clientId: `c${p.client}`, input: p.input, invoke: p.invoke, return: p.ret, output: outputs.get(p) })
}

/**
 * Adds a get that returns the value of put W1 after a later put W2 (W1 returned before W2
 * was invoked, the get is invoked after W2 returned). Put values are unique and no append or
 * cas can produce one, so once W2 took effect the key never holds W1's value again: the
 * history is illegal whatever else it contains. Uses a pair from the history if there is
 * one, else appends W1, W2 and the read after everything.
 */
export function withStaleRead (history: readonly KvOp[]): KvOp[] {
  const puts = history.filter((op) => op.input.op === 'put' && op.return !== null)
  for (const w1 of puts) {
    for (const w2 of puts) {
      if (w2.input.key !== w1.input.key || w2.invoke <= (w1.return as number)) continue
      const invoke = (w2.return as number) + 1
      return [...history, staleGet(w1, invoke)]
    }
  }
  const end = history.reduce((t, op) => Math.max(t, op.return ?? op.invoke), 0) + 1
  const w1: KvOp = { clientId: 'writer', input: { op: 'put', key: 'k0', value: 'p-first' }, invoke: end, return: end + 1, output: { op: 'put' } }
  const w2: KvOp = { clientId: 'writer', input: { op: 'put', key: 'k0', value: 'p-second' }, invoke: end + 2, return: end + 3, output: { op: 'put' } }
  return [...history, w1, w2, staleGet(w1, end + 4)]
}

function staleGet (w1: KvOp, invoke: number): KvOp {
  const { key, value } = w1.input as { key: string, value: string }
  return { clientId: 'stale-reader', input: { op: 'get', key }, invoke, return: invoke + 1, output: { op: 'get', value } }
}

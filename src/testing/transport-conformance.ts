/**
 * The transport conformance suite: every `Transport` (quorate's MemoryNetwork and TCP
 * transports, and third-party ones) registers these tests with its test runner.
 *
 * Tests wait in real time with a bounded deadline (poll until the condition holds, fail after
 * `timeoutMs`), so a transport over real sockets runs the same suite as an in-memory one.
 *
 * @example
 * import { test } from 'uvu'
 * transportConformance(test, {
 *   name: 'MemoryNetwork',
 *   fifo: true,
 *   async createCluster (ids) {
 *     const { network, transports } = createMemoryCluster(ids)
 *     return { transports, close: async () => await network.close() }
 *   }
 * })
 * test.run()
 */
import { QuorateError, isQuorateError } from '../errors.js'
import { message, type Entry, type Message, type NodeId } from '../raft/types.js'
import type { Transport } from '../transport/transport.js'

/** Transports for a set of node ids, created but not opened (the suite opens them with its handlers). */
export interface TransportCluster {
  /** One transport per requested id; each must be able to reach every other. */
  readonly transports: ReadonlyMap<NodeId, Transport>
  /** Releases everything the cluster holds (sockets, ports, timers). Called once per test. */
  close (): Promise<void>
}

export interface TransportConformanceOptions {
  /** Prefix of every test name. */
  name: string
  /** Creates a fresh cluster for one test. Called with 2 or 3 ids. */
  createCluster: (ids: readonly NodeId[]) => Promise<TransportCluster>
  /** The transport promises per-link FIFO delivery: order is then checked too. @default false */
  fifo?: boolean
  /** How long a test waits for a message or counter before failing. @default 5000 (DEFAULT_CONFORMANCE_TIMEOUT_MS) */
  timeoutMs?: number
}

export const DEFAULT_CONFORMANCE_TIMEOUT_MS = 5000
const POLL_INTERVAL_MS = 5
/** Messages per bulk test: enough to span several socket writes and reads. */
const BULK_COUNT = 500

/** The registration function of a test runner; uvu's `test` fits. */
export type RegisterTest = (name: string, fn: () => Promise<void>) => void

/** Registers the conformance tests through `test`. */
export function transportConformance (test: RegisterTest, options: TransportConformanceOptions): void {
  validate(options)
  const fifo = options.fifo ?? false
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONFORMANCE_TIMEOUT_MS
  const waitUntil = async (what: string, condition: () => boolean): Promise<void> => await pollUntil(what, condition, timeoutMs)

  const withCluster = (title: string, ids: readonly NodeId[], body: (c: OpenedCluster) => Promise<void>): void => {
    test(`${options.name}: ${title}`, async () => {
      const cluster = await options.createCluster(ids)
      try {
        await body(new OpenedCluster(cluster))
      } finally {
        await cluster.close()
      }
    })
  }

  withCluster('a message from a to b arrives intact, with every field, and only at b', ['a', 'b', 'c'], async (c) => {
    await c.openAll()
    const sent = fullMessage('a', 'b')
    c.get('a').send([sent])
    c.get('a').send([message({ type: 'heartbeat', from: 'a', to: 'c', term: 1, context: 77 })])
    await waitUntil('b to receive the message', () => c.inbox('b').length > 0)
    await waitUntil('c to receive its marker', () => c.inbox('c').length > 0)
    expectEqual(c.inbox('b').length, 1, 'messages received by b')
    expectSameMessage(c.inbox('b')[0]!, sent)
    expectEqual(c.inbox('c').map((m) => m.context), [77], 'c received only its own marker')
    expectEqual(c.inbox('a').length, 0, 'messages received by the sender')
  })

  withCluster(`many messages in one send() all arrive${fifo ? ', in order' : ''}`, ['a', 'b'], async (c) => {
    await c.openAll()
    c.get('a').send(numbered('a', 'b', 0, BULK_COUNT))
    await waitUntil(`b to receive ${BULK_COUNT} messages`, () => c.inbox('b').length >= BULK_COUNT)
    expectExactlyOnce(c.inbox('b'), BULK_COUNT, fifo)
  })

  withCluster(`messages from many send() calls in one turn all arrive${fifo ? ', in order' : ''}`, ['a', 'b'], async (c) => {
    await c.openAll()
    for (let i = 0; i < BULK_COUNT; i++) c.get('a').send(numbered('a', 'b', i, 1))
    await waitUntil(`b to receive ${BULK_COUNT} messages`, () => c.inbox('b').length >= BULK_COUNT)
    expectExactlyOnce(c.inbox('b'), BULK_COUNT, fifo)
  })

  withCluster('traffic flows both ways at once', ['a', 'b'], async (c) => {
    await c.openAll()
    c.get('a').send(numbered('a', 'b', 0, BULK_COUNT))
    c.get('b').send(numbered('b', 'a', 0, BULK_COUNT))
    await waitUntil('both sides to receive everything', () => c.inbox('a').length >= BULK_COUNT && c.inbox('b').length >= BULK_COUNT)
    expectExactlyOnce(c.inbox('a'), BULK_COUNT, fifo)
    expectExactlyOnce(c.inbox('b'), BULK_COUNT, fifo)
  })

  withCluster('every node reaches every other and each message lands at its addressee', ['a', 'b', 'c'], async (c) => {
    await c.openAll()
    for (const from of c.ids) {
      c.get(from).send(c.ids.filter((to) => to !== from).map((to) => message({ type: 'vote', from, to, term: 3 })))
    }
    await waitUntil('every node to receive one message from each other node', () => c.ids.every((id) => c.inbox(id).length >= 2))
    for (const id of c.ids) {
      expectEqual(c.inbox(id).map((m) => m.to), [id, id], `addressees of messages received by ${id}`)
      expectEqual(c.inbox(id).map((m) => m.from).sort(), c.ids.filter((other) => other !== id), `senders seen by ${id}`)
    }
  })

  withCluster('open() is idempotent: concurrent and repeated calls deliver each message once', ['a', 'b'], async (c) => {
    const b = c.get('b')
    const handler = c.handler('b')
    await Promise.all([b.open(handler), b.open(handler)])
    await b.open(handler)
    await c.open('a')
    expectEqual(b.status, 'open', 'status after open')
    c.get('a').send(numbered('a', 'b', 0, 3))
    await waitUntil('b to receive 3 messages', () => c.inbox('b').length >= 3)
    c.get('a').send([message({ type: 'heartbeat', from: 'a', to: 'b', term: 1, context: 99 })])
    await waitUntil('b to receive the last message', () => c.inbox('b').some((m) => m.context === 99))
    expectEqual(c.inbox('b').length, 4, 'messages received (none twice)')
  })

  withCluster('close() is idempotent and safe to call concurrently', ['a', 'b'], async (c) => {
    await c.openAll()
    const a = c.get('a')
    await Promise.all([a.close(), a.close()])
    await a.close()
    expectEqual(a.status, 'closed', 'status after close')
  })

  withCluster('open() racing close() settles both and ends closed', ['a', 'b'], async (c) => {
    const a = c.get('a')
    const opening = a.open(c.handler('a'))
    const closing = a.close()
    const [opened, closed] = await Promise.allSettled([opening, closing])
    expectEqual(closed.status, 'fulfilled', 'close() outcome')
    if (opened.status === 'rejected' && !isQuorateError(opened.reason)) {
      throw new Error(`open() racing close() rejected with a non-QuorateError: ${String(opened.reason)}`)
    }
    expectEqual(a.status, 'closed', 'status after the race')
    a.send([message({ type: 'heartbeat', from: 'a', to: 'b', term: 1 })])
  })

  withCluster('send() after close() does not throw and counts the messages as dropped', ['a', 'b'], async (c) => {
    await c.openAll()
    const a = c.get('a')
    await a.close()
    const before = a.stats().dropped
    a.send(numbered('a', 'b', 0, 3))
    await waitUntil('dropped to count 3 more', () => a.stats().dropped >= before + 3)
    expectEqual(c.inbox('b').length, 0, 'messages b received from a closed sender')
  })

  withCluster('messages for a closed peer are dropped and other peers still get theirs', ['a', 'b', 'c'], async (c) => {
    await c.openAll()
    await c.get('b').close()
    c.get('a').send(numbered('a', 'b', 0, 5))
    c.get('a').send([message({ type: 'heartbeat', from: 'a', to: 'c', term: 1, context: 5 })])
    await waitUntil('c to receive its message', () => c.inbox('c').length > 0)
    expectEqual(c.inbox('b').length, 0, 'messages delivered to a closed transport')
  })

  withCluster('messages for an unknown node are dropped and counted without throwing', ['a', 'b'], async (c) => {
    await c.openAll()
    const a = c.get('a')
    const before = a.stats().dropped
    a.send([message({ type: 'heartbeat', from: 'a', to: 'nobody', term: 1 })])
    await waitUntil('dropped to count the message', () => a.stats().dropped > before)
  })

  withCluster('stats count messages sent and received', ['a', 'b'], async (c) => {
    await c.openAll()
    const sentBefore = c.get('a').stats().sent
    const receivedBefore = c.get('b').stats().received
    c.get('a').send(numbered('a', 'b', 0, 10))
    await waitUntil('b to receive 10 messages', () => c.inbox('b').length >= 10)
    await waitUntil('b.stats().received to count them', () => c.get('b').stats().received >= receivedBefore + 10)
    if (c.get('a').stats().sent < sentBefore + 10) throw new Error('a.stats().sent did not count 10 sent messages')
  })

  withCluster('a handler that throws does not stop later deliveries', ['a', 'b'], async (c) => {
    await c.open('a')
    const received: Message[] = []
    await c.get('b').open((m) => {
      received.push(m)
      if (m.context === 0) throw new Error('handler failure injected by the conformance suite')
    })
    c.get('a').send(numbered('a', 'b', 0, 1))
    await waitUntil('the throwing handler to be called', () => received.length >= 1)
    c.get('a').send(numbered('a', 'b', 1, 1))
    await waitUntil('a message after the throw to arrive', () => received.some((m) => m.context === 1))
  })

  withCluster('send([]) is a no-op', ['a', 'b'], async (c) => {
    await c.openAll()
    c.get('a').send([])
    c.get('a').send(numbered('a', 'b', 0, 1))
    await waitUntil('b to receive the message', () => c.inbox('b').length >= 1)
  })
}

/** A cluster plus one recording handler per node. */
class OpenedCluster {
  readonly ids: NodeId[]
  readonly #cluster: TransportCluster
  readonly #inboxes = new Map<NodeId, Message[]>()

  constructor (cluster: TransportCluster) {
    this.#cluster = cluster
    this.ids = [...cluster.transports.keys()]
    for (const id of this.ids) this.#inboxes.set(id, [])
  }

  get (id: NodeId): Transport {
    const transport = this.#cluster.transports.get(id)
    if (transport === undefined) throw new Error(`createCluster() returned no transport for ${id}`)
    return transport
  }

  inbox (id: NodeId): Message[] { return this.#inboxes.get(id)! }

  handler (id: NodeId): (m: Message) => void {
    const inbox = this.inbox(id)
    return (m) => { inbox.push(m) }
  }

  async open (id: NodeId): Promise<void> { await this.get(id).open(this.handler(id)) }

  async openAll (): Promise<void> { await Promise.all(this.ids.map(async (id) => await this.open(id))) }
}

function validate (options: TransportConformanceOptions): void {
  if (typeof options !== 'object' || options === null) fail('options', 'must be an object')
  if (typeof options.name !== 'string' || options.name.length === 0) fail('name', 'must be a non-empty string')
  if (typeof options.createCluster !== 'function') fail('createCluster', 'must be a function')
  if (options.fifo !== undefined && typeof options.fifo !== 'boolean') fail('fifo', 'must be a boolean')
  const t = options.timeoutMs
  if (t !== undefined && (typeof t !== 'number' || !(t > 0) || !Number.isFinite(t))) fail('timeoutMs', 'must be a positive number')
}

function fail (field: string, rule: string): never {
  throw new QuorateError('OPTIONS_INVALID', `transportConformance: ${field} ${rule}`)
}

async function pollUntil (what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))
  }
}

/** `count` heartbeats from → to whose `context` numbers them from `first`. */
function numbered (from: NodeId, to: NodeId, first: number, count: number): Message[] {
  return Array.from({ length: count }, (_, i) => message({ type: 'heartbeat', from, to, term: 1, commit: first + i, context: first + i }))
}

function bytes (length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

/** A message with every field set to a non-default value, binary entries and a snapshot chunk. */
function fullMessage (from: NodeId, to: NodeId): Message {
  const entries: Entry[] = [
    { term: 7, index: 41, type: 'command', data: bytes(64 * 1024, 1) },
    { term: 7, index: 42, type: 'noop', data: new Uint8Array(0) },
    { term: 8, index: 43, type: 'config', data: Uint8Array.of(0, 255, 128, 1) }
  ]
  return message({
    type: 'snapshot',
    from,
    to,
    term: 8,
    logTerm: 7,
    index: 40,
    commit: 39,
    entries,
    reject: true,
    rejectHint: 38,
    context: 2 ** 40 + 5,
    snapshot: {
      meta: { index: 40, term: 7, config: { voters: ['a', 'b', 'c'], votersOutgoing: ['a', 'd'], learners: ['e'] } },
      offset: 1 << 20,
      data: bytes(1000, 9),
      done: true,
      digest: bytes(32, 3)
    }
  })
}

/** Every field in a fixed order, byte arrays as plain arrays: comparable whatever class or key order a decoder produced. */
function canonical (m: Message): unknown {
  const s = m.snapshot
  return [
    m.type, m.from, m.to, m.term, m.logTerm, m.index, m.commit, m.reject, m.rejectHint, m.context,
    m.entries.map((e) => [e.term, e.index, e.type, Array.from(e.data)]),
    s === null
      ? null
      : [s.meta.index, s.meta.term, s.meta.config.voters, s.meta.config.votersOutgoing, s.meta.config.learners, s.offset, s.done, Array.from(s.data)]
  ]
}

function expectSameMessage (got: Message, sent: Message): void {
  expectEqual(canonical(got), canonical(sent), 'received message')
}

function expectExactlyOnce (received: readonly Message[], count: number, fifo: boolean): void {
  const contexts = received.map((m) => m.context)
  if (!fifo) contexts.sort((x, y) => x - y)
  expectEqual(contexts, Array.from({ length: count }, (_, i) => i), fifo ? 'contexts in arrival order' : 'contexts received (sorted)')
}

function expectEqual (actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  if (a !== e) throw new Error(`${what}: expected ${clip(e)} but got ${clip(a)}`)
}

function clip (s: string): string {
  return s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s
}

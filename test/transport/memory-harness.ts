/** Shared set-up for MemoryNetwork tests: a virtual clock, a seeded Random and recording handlers. */
import { ManualClock } from '../../src/testing/manual-clock.js'
import { MemoryNetwork, type MemoryNetworkOptions, type MemoryTransport } from '../../src/transport/memory.js'
import { message, type Message, type NodeId } from '../../src/raft/types.js'
import { SeededRandom } from '../../src/util/random.js'

export interface Delivery {
  readonly at: number
  readonly from: NodeId
  readonly to: NodeId
  readonly context: number
}

export interface Harness {
  readonly clock: ManualClock
  readonly net: MemoryNetwork
  readonly transports: Map<NodeId, MemoryTransport>
  /** Every delivery, in delivery order. */
  readonly log: Delivery[]
  /** Sends heartbeats from → to whose `context` fields are `contexts`. */
  send: (from: NodeId, to: NodeId, ...contexts: number[]) => void
  /** Contexts delivered to `to` (from `from`, if given), in delivery order. */
  received: (to: NodeId, from?: NodeId) => number[]
}

export async function harness (ids: readonly NodeId[], options: MemoryNetworkOptions & { seed?: number } = {}): Promise<Harness> {
  const clock = new ManualClock()
  const { seed, ...network } = options
  const net = new MemoryNetwork({ clock, random: new SeededRandom(seed ?? 1), ...network })
  const transports = new Map<NodeId, MemoryTransport>()
  const log: Delivery[] = []
  for (const id of ids) {
    const t = net.transport(id)
    transports.set(id, t)
    await t.open((m) => { log.push({ at: clock.now(), from: m.from, to: m.to, context: m.context }) })
  }
  return {
    clock,
    net,
    transports,
    log,
    send: (from, to, ...contexts) => { transports.get(from)!.send(heartbeats(from, to, contexts)) },
    received: (to, from) => log.filter((d) => d.to === to && (from === undefined || d.from === from)).map((d) => d.context)
  }
}

export function heartbeats (from: NodeId, to: NodeId, contexts: readonly number[]): Message[] {
  return contexts.map((context) => message({ type: 'heartbeat', from, to, term: 1, context }))
}

export function range (n: number): number[] {
  return Array.from({ length: n }, (_, i) => i)
}

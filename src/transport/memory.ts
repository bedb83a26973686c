/**
 * `MemoryNetwork`: many nodes' transports in one process, with fault knobs (latency, loss,
 * duplication, reordering, partitions, one-way cuts, clogged links, paused nodes).
 *
 * Determinism: every delivery is scheduled through the injected `Clock` and every random
 * choice comes from the injected `Random`, so a virtual clock (`ManualClock`) and a seeded
 * Random (`SeededRandom`) reproduce a run exactly.
 *
 * Messages are passed by reference, never copied: they are immutable by contract (every
 * field of `Message` is readonly) and neither sender nor receiver may mutate one after
 * `send()`. A duplicated message is the same object delivered twice.
 *
 * Hot path: at zero latency a message costs two array pushes; one `clock.setTimeout(flush, 0)`
 * per turn delivers everything queued in that turn. With latency, messages wait in one
 * time-ordered heap with a single timer armed for the earliest.
 */
import { QuorateError, throwIfAborted } from '../errors.js'
import type { Message, NodeId } from '../raft/types.js'
import type { ComponentStatus } from '../util/lifecycle.js'
import { systemClock, type Clock, type Timer } from '../util/clock.js'
import { randomInt, systemRandom, type Random } from '../util/random.js'
import type { MessageHandler, Transport, TransportStats } from './transport.js'
import {
  DEFAULT_FAULTS, FAULT_OPTION_KEYS, invalid, reachable, requireNodeId, resolveFaults,
  type FaultLink, type FaultNode, type MemoryFaultOptions, type ResolvedFaults
} from './memory-faults.js'
import { DueQueue } from './memory-queue.js'

export {
  DEFAULT_DUPLICATION, DEFAULT_LATENCY, DEFAULT_LOSS, DEFAULT_REORDER,
  type LatencyRange, type MemoryFaultOptions, type ResolvedFaults
} from './memory-faults.js'

/** Called with the error when a message handler throws (the message is still counted as received). */
export type HandlerErrorListener = (error: unknown, message: Message, to: NodeId) => void

export interface MemoryNetworkOptions extends MemoryFaultOptions {
  /** Schedules every delivery. @default systemClock */
  clock?: Clock
  /** Source of every random choice (loss, duplication, latency, reordering). @default systemRandom */
  random?: Random
  /** Told about every exception a message handler throws. @default undefined (only counted) */
  onHandlerError?: HandlerErrorListener
}

const NETWORK_OPTION_KEYS: readonly string[] = [...FAULT_OPTION_KEYS, ...Object.keys({
  clock: true, random: true, onHandlerError: true
} satisfies Record<Exclude<keyof MemoryNetworkOptions, keyof MemoryFaultOptions>, true>)]

/** Per-transport counters. `dropped` counts messages this transport sent that were not delivered. */
export interface MemoryTransportStats extends TransportStats {
  readonly sent: number
  readonly received: number
  readonly dropped: number
  readonly duplicated: number
  /** Messages whose handler threw (they are also counted in `received`). */
  readonly handlerErrors: number
}

/**
 * Network-wide counters. Invariant: `sent + duplicated === received + dropped + pending`.
 * `dropped` is the sum of the `dropped*` reasons.
 */
export interface MemoryNetworkStats extends MemoryTransportStats {
  /** Lost to the `loss` knob. */
  readonly droppedLoss: number
  /** Blocked by a partition, one-way cut or isolation (at send or at delivery time). */
  readonly droppedUnreachable: number
  /** The destination is unknown, not open or closed (or closed with messages in its inbox). */
  readonly droppedNoPeer: number
  /** Sent by a transport that was not open, or still in flight when the network closed. */
  readonly droppedClosed: number
  /** Not a message object, or `from` is not the sending transport's id. */
  readonly droppedInvalid: number
  /** In flight, queued for delivery, held on a clogged link or held for a paused node. */
  readonly pending: number
}

type DropReason = 'droppedLoss' | 'droppedUnreachable' | 'droppedNoPeer' | 'droppedClosed' | 'droppedInvalid'

interface Counters { sent: number, received: number, dropped: number, duplicated: number, handlerErrors: number }

function newCounters (): Counters {
  return { sent: 0, received: 0, dropped: 0, duplicated: 0, handlerErrors: 0 }
}

class Node implements FaultNode {
  group = 0
  isolated = false
  paused = false
  /** Set while the node is in the network's ready list. */
  scheduled = false
  /** The transport for this id that is not closed yet (open or not yet opened), or null. */
  transport: MemoryTransport | null = null
  /** Non-null exactly while a transport for this id is open. */
  handler: MessageHandler | null = null
  counters: Counters = newCounters()
  /** Outbound links by destination id, created on first send. */
  readonly links = new Map<NodeId, Link>()
  /** Messages arrived and not yet handed to the handler, with the link each came on (parallel arrays). */
  inbox: Message[] = []
  inboxLinks: Link[] = []
  spareInbox: Message[] = []
  spareInboxLinks: Link[] = []

  constructor (readonly id: NodeId) {}
}

class Link implements FaultLink {
  cut = false
  clogged = false
  /** Messages that arrived while clogged, in arrival order. */
  held: Message[] = []
  /** Messages of this link in the latency heap. */
  inFlight = 0
  /** Due time of the last message queued in the heap (FIFO links never deliver before it). */
  lastDue = 0

  constructor (readonly from: Node, readonly to: Node) {}
}

/** The network's state and delivery machinery; shared by `MemoryNetwork` and its transports. */
class Core {
  readonly clock: Clock
  readonly random: Random
  readonly onHandlerError: HandlerErrorListener | undefined
  faults: ResolvedFaults
  closed = false
  readonly nodes = new Map<NodeId, Node>()
  readonly stats = {
    sent: 0, received: 0, dropped: 0, duplicated: 0, handlerErrors: 0, pending: 0,
    droppedLoss: 0, droppedUnreachable: 0, droppedNoPeer: 0, droppedClosed: 0, droppedInvalid: 0
  }

  #ready: Node[] = []
  #spareReady: Node[] = []
  #flushTimer: Timer | null = null
  readonly #heap = new DueQueue<Message>()
  #heapTimer: Timer | null = null
  #heapTimerDue = Infinity

  constructor (options: MemoryNetworkOptions) {
    if (typeof options !== 'object' || options === null) invalid('options', 'must be an object', options)
    const clock = options.clock ?? systemClock
    if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
      invalid('clock', 'must implement Clock (now, setTimeout, clearTimeout)', clock)
    }
    const random = options.random ?? systemRandom
    if (typeof random.next !== 'function') invalid('random', 'must implement Random (next)', random)
    if (options.onHandlerError !== undefined && typeof options.onHandlerError !== 'function') {
      invalid('onHandlerError', 'must be a function', options.onHandlerError)
    }
    this.clock = clock
    this.random = random
    this.onHandlerError = options.onHandlerError
    this.faults = resolveFaults(DEFAULT_FAULTS, options, 'MemoryNetworkOptions', NETWORK_OPTION_KEYS)
  }

  node (id: NodeId): Node {
    let node = this.nodes.get(id)
    if (node === undefined) {
      node = new Node(id)
      this.nodes.set(id, node)
    }
    return node
  }

  link (from: Node, to: NodeId): Link | undefined {
    let link = from.links.get(to)
    if (link === undefined) {
      const dest = this.nodes.get(to)
      if (dest === undefined) return undefined
      link = new Link(from, dest)
      from.links.set(to, link)
    }
    return link
  }

  send (node: Node, messages: readonly Message[]): void {
    const counters = node.counters
    const stats = this.stats
    const { loss, duplication } = this.faults
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!
      counters.sent++
      stats.sent++
      if (typeof m !== 'object' || m === null || m.from !== node.id) {
        this.drop(counters, 'droppedInvalid')
        continue
      }
      const link = this.link(node, m.to)
      if (link === undefined || link.to.handler === null) {
        this.drop(counters, 'droppedNoPeer')
      } else if (!reachable(link)) {
        this.drop(counters, 'droppedUnreachable')
      } else if (loss > 0 && this.random.next() < loss) {
        this.drop(counters, 'droppedLoss')
      } else {
        this.#transmit(link, m)
        if (duplication > 0 && this.random.next() < duplication) {
          counters.duplicated++
          stats.duplicated++
          this.#transmit(link, m)
        }
      }
    }
  }

  /** Counts a message that will never be delivered (not counting `pending`). */
  drop (counters: Counters, reason: DropReason): void {
    counters.dropped++
    this.stats.dropped++
    this.stats[reason]++
  }

  #transmit (link: Link, m: Message): void {
    this.stats.pending++
    const { latency, reorder } = this.faults
    const delay = latency.max === latency.min ? latency.min : latency.min + (latency.max - latency.min) * this.random.next()
    // A FIFO link with messages still in flight must queue behind them even at zero delay.
    if (delay === 0 && (reorder || link.inFlight === 0)) {
      this.arrive(link, m)
      return
    }
    let due = this.clock.now() + delay
    if (!reorder) {
      if (due < link.lastDue) due = link.lastDue
      link.lastDue = due
    }
    link.inFlight++
    this.#heap.push(due, m)
    if (due < this.#heapTimerDue) this.#armHeapTimer(due)
  }

  /** A message reaches its destination's inbox (or is held, if its link is clogged). */
  arrive (link: Link, m: Message): void {
    if (link.clogged) {
      link.held.push(m)
      return
    }
    const dest = link.to
    dest.inbox.push(m)
    dest.inboxLinks.push(link)
    this.schedule(dest)
  }

  /** Puts `node` in the ready list and arms the flush, unless paused or already there. */
  schedule (node: Node): void {
    if (node.scheduled || node.paused || node.inbox.length === 0) return
    node.scheduled = true
    this.#ready.push(node)
    if (this.#flushTimer === null) this.#flushTimer = this.clock.setTimeout(this.#flush, 0)
  }

  readonly #flush = (): void => {
    this.#flushTimer = null
    const ready = this.#ready
    this.#ready = this.#spareReady
    for (let i = 0; i < ready.length; i++) {
      const node = ready[i]!
      node.scheduled = false
      if (!node.paused) this.#drain(node)
    }
    ready.length = 0
    this.#spareReady = ready
  }

  /** Delivers what is in `node`'s inbox now; messages sent meanwhile wait for the next turn. */
  #drain (node: Node): void {
    const messages = node.inbox
    const links = node.inboxLinks
    node.inbox = node.spareInbox
    node.inboxLinks = node.spareInboxLinks
    if (this.faults.reorder) this.#shuffle(messages, links)
    for (let i = 0; i < messages.length; i++) {
      if (node.paused) {
        // Paused by a handler mid-batch: the rest stays ahead of anything that arrived since.
        node.inbox = messages.slice(i).concat(node.inbox)
        node.inboxLinks = links.slice(i).concat(node.inboxLinks)
        break
      }
      this.#deliver(messages[i]!, links[i]!)
    }
    messages.length = 0
    links.length = 0
    node.spareInbox = messages
    node.spareInboxLinks = links
  }

  #deliver (m: Message, link: Link): void {
    this.stats.pending--
    if (!reachable(link)) {
      this.drop(link.from.counters, 'droppedUnreachable')
      return
    }
    const dest = link.to
    const handler = dest.handler
    if (handler === null) {
      this.drop(link.from.counters, 'droppedNoPeer')
      return
    }
    dest.counters.received++
    this.stats.received++
    try {
      handler(m)
    } catch (err) {
      dest.counters.handlerErrors++
      this.stats.handlerErrors++
      this.#reportHandlerError(err, m, dest.id)
    }
  }

  #reportHandlerError (err: unknown, m: Message, to: NodeId): void {
    if (this.onHandlerError === undefined) return
    try {
      this.onHandlerError(err, m, to)
    } catch {
      // A failing listener must not break delivery to the rest of the batch.
    }
  }

  #shuffle (messages: Message[], links: Link[]): void {
    for (let i = messages.length - 1; i > 0; i--) {
      const j = randomInt(this.random, 0, i + 1)
      const m = messages[i]!; messages[i] = messages[j]!; messages[j] = m
      const l = links[i]!; links[i] = links[j]!; links[j] = l
    }
  }

  #armHeapTimer (due: number): void {
    if (this.#heapTimer !== null) this.clock.clearTimeout(this.#heapTimer)
    this.#heapTimerDue = due
    this.#heapTimer = this.clock.setTimeout(this.#onHeapTimer, due - this.clock.now())
  }

  readonly #onHeapTimer = (): void => {
    this.#heapTimer = null
    this.#heapTimerDue = Infinity
    const now = this.clock.now()
    while (this.#heap.peekDue() <= now) {
      const m = this.#heap.pop()!
      const link = this.nodes.get(m.from)?.links.get(m.to)
      if (link === undefined) {
        // Only possible if someone mutated the message after send(), breaking the contract.
        this.stats.pending--
        this.stats.dropped++
        this.stats.droppedInvalid++
        continue
      }
      link.inFlight--
      this.arrive(link, m)
    }
    if (this.#heap.size > 0) this.#armHeapTimer(this.#heap.peekDue())
  }

  /** Moves a clogged link's held messages on, in order. */
  release (link: Link): void {
    const held = link.held
    link.held = []
    for (const m of held) this.arrive(link, m)
  }

  /** The node's process is gone: its inbox is lost. */
  discardInbox (node: Node): void {
    for (let i = 0; i < node.inbox.length; i++) {
      this.stats.pending--
      this.drop(node.inboxLinks[i]!.from.counters, 'droppedNoPeer')
    }
    node.inbox.length = 0
    node.inboxLinks.length = 0
  }

  /** Stops every timer and drops everything in flight or held. */
  shutdown (): void {
    this.closed = true
    if (this.#flushTimer !== null) this.clock.clearTimeout(this.#flushTimer)
    if (this.#heapTimer !== null) this.clock.clearTimeout(this.#heapTimer)
    this.#flushTimer = null
    this.#heapTimer = null
    this.#heapTimerDue = Infinity
    let lost = this.#heap.clear()
    for (const node of this.nodes.values()) {
      for (const link of node.links.values()) {
        lost += link.held.length
        link.held = []
        link.inFlight = 0
      }
    }
    this.stats.pending -= lost
    this.stats.dropped += lost
    this.stats.droppedClosed += lost
    for (const node of this.#ready) node.scheduled = false
    this.#ready.length = 0
  }
}

/** One node's view of a `MemoryNetwork`. Get one with `network.transport(id)`. */
export class MemoryTransport implements Transport {
  readonly id: NodeId
  readonly #core: Core
  readonly #node: Node
  readonly #counters = newCounters()
  #state: 'new' | 'open' | 'closed' = 'new'

  /** @internal Use `MemoryNetwork.transport(id)`. */
  constructor (core: Core, node: Node) {
    this.#core = core
    this.#node = node
    this.id = node.id
    node.counters = this.#counters
  }

  /** 'closed' before `open()` and after `close()`. */
  get status (): ComponentStatus { return this.#state === 'open' ? 'open' : 'closed' }

  /**
   * Starts delivering messages for this id to `handler`. Idempotent (a second call keeps the
   * first handler). Rejects with TRANSPORT_CLOSED after `close()` or once the network closed.
   */
  async open (handler: MessageHandler, options: { signal?: AbortSignal } = {}): Promise<void> {
    throwIfAborted(options.signal)
    if (this.#state === 'open') return
    if (this.#state === 'closed' || this.#core.closed) {
      throw new QuorateError('TRANSPORT_CLOSED', `MemoryTransport ${this.id} is closed and cannot be reopened; get a new one from network.transport(id)`)
    }
    if (typeof handler !== 'function') invalid('handler', 'must be a function', handler)
    this.#state = 'open'
    this.#node.handler = handler
  }

  /**
   * Queues messages; returns at once and never throws. Undeliverable messages (unknown or
   * closed destination, partition, loss, transport not open) are dropped and counted.
   */
  send (messages: readonly Message[]): void {
    if (this.#state === 'open') {
      this.#core.send(this.#node, messages)
      return
    }
    for (let i = 0; i < messages.length; i++) {
      this.#counters.sent++
      this.#core.stats.sent++
      this.#core.drop(this.#counters, 'droppedClosed')
    }
  }

  /** Stops delivery to this transport; messages waiting in its inbox are dropped. Idempotent. */
  async close (): Promise<void> {
    if (this.#state === 'closed') return
    const wasOpen = this.#state === 'open'
    this.#state = 'closed'
    if (this.#node.transport === this) this.#node.transport = null
    if (wasOpen) {
      this.#node.handler = null
      this.#core.discardInbox(this.#node)
    }
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  stats (): MemoryTransportStats {
    return { ...this.#counters }
  }
}

/**
 * Many nodes in one process. Fault knobs change at run time; see docs/transport-memory.md.
 *
 * @example
 * const net = new MemoryNetwork({ clock: new ManualClock(), random: new SeededRandom(1), latency: { min: 1, max: 5 } })
 * const a = net.transport('a'); const b = net.transport('b')
 * await b.open((m) => console.log('b got', m.type)); await a.open(() => {})
 * a.send([message({ type: 'heartbeat', from: 'a', to: 'b', term: 1 })])
 */
export class MemoryNetwork {
  readonly #core: Core

  constructor (options: MemoryNetworkOptions = {}) {
    this.#core = new Core(options)
  }

  /** The current fault knobs, with defaults filled in. */
  get faults (): ResolvedFaults { return this.#core.faults }

  /** Changes fault knobs at run time (fields left out keep their value). Throws OPTIONS_INVALID. */
  configure (changes: MemoryFaultOptions): void {
    this.#core.faults = resolveFaults(this.#core.faults, changes, 'MemoryNetwork.configure')
  }

  /**
   * The transport for node `id`: the same instance until it is closed, then a new one (a
   * restarted process at the same address). Throws TRANSPORT_CLOSED once the network is closed.
   */
  transport (id: NodeId): MemoryTransport {
    requireNodeId('id', id)
    if (this.#core.closed) throw new QuorateError('TRANSPORT_CLOSED', 'MemoryNetwork is closed')
    const node = this.#core.node(id)
    node.transport ??= new MemoryTransport(this.#core, node)
    return node.transport
  }

  /**
   * Splits nodes into groups: nodes in different groups cannot talk; nodes named in no group
   * are unaffected. Replaces any earlier partition (cuts and isolation stay).
   */
  partition (...groups: ReadonlyArray<readonly NodeId[]>): void {
    const seen = new Set<NodeId>()
    groups.forEach((group, g) => {
      if (!Array.isArray(group)) invalid(`groups[${g}]`, 'must be an array of node ids', group)
      for (const id of group) {
        requireNodeId(`groups[${g}] member`, id)
        if (seen.has(id)) invalid(`groups[${g}]`, 'names a node already in another group', id)
        seen.add(id)
      }
    })
    for (const node of this.#core.nodes.values()) node.group = 0
    groups.forEach((group, g) => { for (const id of group) this.#core.node(id).group = g + 1 })
  }

  /** One-way cut: messages from `from` to `to` are dropped; the other direction still works. */
  cut (from: NodeId, to: NodeId): void {
    this.#link(from, to).cut = true
  }

  /** `id` can neither send to nor receive from any other node. */
  isolate (id: NodeId): void {
    requireNodeId('id', id)
    this.#core.node(id).isolated = true
  }

  /** Removes every partition, cut and isolation. Clogs and pauses are left as they are. */
  heal (): void {
    for (const node of this.#core.nodes.values()) {
      node.group = 0
      node.isolated = false
      for (const link of node.links.values()) link.cut = false
    }
  }

  /** Holds messages on the link `from` → `to` (nothing is lost) until `unclog(from, to)`. */
  clog (from: NodeId, to: NodeId): void {
    this.#link(from, to).clogged = true
  }

  /** Releases a clogged link: held messages are delivered in order, as soon as possible. */
  unclog (from: NodeId, to: NodeId): void {
    const link = this.#link(from, to)
    if (!link.clogged) return
    link.clogged = false
    this.#core.release(link)
  }

  /** Holds every message arriving for `id` (a stopped process) until `resume(id)`. */
  pause (id: NodeId): void {
    requireNodeId('id', id)
    this.#core.node(id).paused = true
  }

  /** Delivers what a paused node missed, as soon as possible, in arrival order. */
  resume (id: NodeId): void {
    requireNodeId('id', id)
    const node = this.#core.node(id)
    if (!node.paused) return
    node.paused = false
    this.#core.schedule(node)
  }

  stats (): MemoryNetworkStats {
    return { ...this.#core.stats }
  }

  /** Closes every transport, stops all timers and drops everything in flight. Idempotent. */
  async close (): Promise<void> {
    if (this.#core.closed) return
    const transports: MemoryTransport[] = []
    for (const node of this.#core.nodes.values()) if (node.transport !== null) transports.push(node.transport)
    this.#core.shutdown()
    await Promise.all(transports.map(async (t) => await t.close()))
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  #link (from: NodeId, to: NodeId): Link {
    requireNodeId('from', from)
    requireNodeId('to', to)
    const core = this.#core
    core.node(to)
    return core.link(core.node(from), to)!
  }
}

export interface MemoryCluster {
  readonly network: MemoryNetwork
  /** One unopened transport per id, in the order given. */
  readonly transports: Map<NodeId, MemoryTransport>
}

/** A network and one transport per id: `createMemoryCluster(['n1', 'n2', 'n3'], { random: new SeededRandom(7) })`. */
export function createMemoryCluster (ids: readonly NodeId[], options: MemoryNetworkOptions = {}): MemoryCluster {
  const network = new MemoryNetwork(options)
  const transports = new Map<NodeId, MemoryTransport>()
  for (const id of ids) transports.set(id, network.transport(id))
  return { network, transports }
}

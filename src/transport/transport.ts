/**
 * The transport plugin interface. A transport moves Raft `Message`s between nodes; it is
 * allowed to lose, duplicate, delay and reorder them (Raft tolerates all of these) but must
 * never corrupt one or deliver a message to the wrong node.
 *
 * quorate ships `MemoryNetwork` (one process, with fault knobs) and `tcpTransport` (TCP with
 * mutual TLS and protobuf frames). A third-party transport runs `transportConformance` from
 * `quorate/testing`.
 */
import type { Message, NodeId } from '../raft/types.js'
import type { ComponentStatus } from '../util/lifecycle.js'

/** Receives every message addressed to this node. Must not throw; must not block. */
export type MessageHandler = (message: Message) => void

export interface Transport {
  readonly id: NodeId
  readonly status: ComponentStatus
  /** Starts receiving; `handler` is called for every message addressed to `id`. Idempotent. */
  open (handler: MessageHandler, options?: { signal?: AbortSignal }): Promise<void>
  /**
   * Queues messages for delivery and returns at once (never blocks, never throws for a
   * network problem: undeliverable messages are dropped and counted). Implementations batch
   * messages queued in the same turn of the event loop into as few writes as possible.
   */
  send (messages: readonly Message[]): void
  /** Stops sending and receiving; idempotent. */
  close (): Promise<void>
  /** Counters for observability (messages sent, received, dropped, bytes, ...). */
  stats (): TransportStats
}

export interface TransportStats {
  readonly sent: number
  readonly received: number
  readonly dropped: number
  readonly [key: string]: number
}

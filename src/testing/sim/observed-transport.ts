/**
 * A transport wrapper that lets the simulator watch every message a node sends (for the
 * wire-level checkers) and every message it receives (for the trace), cut a crashed process
 * off at once, and isolate single nodes independently of the network's own partitions.
 */
import type { Message } from '../../raft/types.js'
import type { ComponentStatus } from '../../util/lifecycle.js'
import type { MessageHandler, Transport, TransportStats } from '../../transport/transport.js'

export interface TransportObserver {
  /** Called for each message before it reaches the network. */
  sent: (m: Message) => void
  /** Called for each message before the node's handler sees it. */
  delivered: (m: Message) => void
  /** Messages for which this returns true are dropped, on send and on delivery. @default none */
  blocked?: (m: Message) => boolean
}

export class ObservedTransport implements Transport {
  readonly #inner: Transport
  readonly #observer: TransportObserver
  #dead = false

  constructor (inner: Transport, observer: TransportObserver) {
    this.#inner = inner
    this.#observer = observer
  }

  get id (): string { return this.#inner.id }
  get status (): ComponentStatus { return this.#dead ? 'closed' : this.#inner.status }

  async open (handler: MessageHandler, options?: { signal?: AbortSignal }): Promise<void> {
    const blocked = this.#observer.blocked
    await this.#inner.open((m) => {
      if (this.#dead || blocked?.(m) === true) return
      this.#observer.delivered(m)
      handler(m)
    }, options)
  }

  send (messages: readonly Message[]): void {
    if (this.#dead) return
    for (let i = 0; i < messages.length; i++) this.#observer.sent(messages[i]!)
    const blocked = this.#observer.blocked
    this.#inner.send(blocked === undefined ? messages : messages.filter((m) => !blocked(m)))
  }

  /** The process died: nothing more is sent or received, whatever the node still tries. */
  kill (): void {
    this.#dead = true
    void this.#inner.close()
  }

  async close (): Promise<void> { await this.#inner.close() }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  stats (): TransportStats { return this.#inner.stats() }
}

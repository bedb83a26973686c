/**
 * A CommandChannel (quorate/agent's contract) that reaches agents through transponders: each
 * command is sealed for its one target (id and fence inside the signed bytes), routed to the
 * transponder the station last saw the agent through, and answered by the agent's signed
 * reply, verified here. `sendMany` is the batch fan-out: one downward batch per transponder.
 *
 * An undeliverable command rejects AGENT_UNREACHABLE (cause: the transponder's reason): it may
 * or may not have run, so the caller resends with the same id — through whichever transponder
 * the agent has re-homed to — and the agent's CommandInbox answers the first reply again.
 */
import { QuorateError, isQuorateError } from '../errors.js'
import type { AgentCommand, AgentReply, CommandChannel } from '../agent/protocol.js'
import type { Clock } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import { check, checkFunction, checkInt, checkKnownKeys, checkMethods, checkObject } from '../util/validate.js'
import { openReply, sealCommand } from './envelope.js'
import { KeyRing } from './keys.js'
import type { Signer } from './keys.js'
import type { DeliveryResult } from './relay.js'
import { boundedAttempt } from './deadline.js'

/** Delivers a downward batch through one transponder (Transponder.deliver, over whatever carries it). */
export type TransponderDeliver = (commands: readonly Uint8Array[], options: { signal?: AbortSignal }) => Promise<DeliveryResult[]>

export interface RelayedCommandChannelOptions {
  /** The coordinator's signing identity; agents seal their replies for `signer.id`. */
  signer: Signer
  keys: KeyRing
  /** The transponder that reaches an agent now (TrackingStation.routeOf), or undefined. */
  route: (agent: string) => string | undefined
  /** The delivery function of a transponder, or undefined if it is unknown. */
  transponder: (id: string) => TransponderDeliver | undefined
  /** Timers for the batch timeout. @default systemClock */
  clock?: Clock
  /** A transponder's answer to a batch is awaited this long, then its commands are unreachable, ms. @default 3000 */
  timeoutMs?: number
}

export const RELAYED_COMMAND_CHANNEL_DEFAULTS = { timeoutMs: 3000 } as const

export class RelayedCommandChannel implements CommandChannel {
  readonly #o: RelayedCommandChannelOptions
  readonly #clock: Clock
  readonly #timeoutMs: number

  constructor (options: RelayedCommandChannelOptions) {
    checkObject(options, 'RelayedCommandChannel', '(options)')
    checkKnownKeys(options, 'RelayedCommandChannel', ['signer', 'keys', 'route', 'transponder', 'clock', 'timeoutMs'])
    if (options.clock !== undefined) checkMethods(options.clock, 'RelayedCommandChannel', 'clock', 'a Clock', ['now', 'setTimeout', 'clearTimeout'])
    if (options.timeoutMs !== undefined) checkInt(options.timeoutMs, 'RelayedCommandChannel', 'timeoutMs', 1)
    check(typeof options.signer === 'object' && options.signer !== null && typeof options.signer.id === 'string', 'RelayedCommandChannel', 'signer', 'a Signer', options.signer)
    check(options.keys instanceof KeyRing, 'RelayedCommandChannel', 'keys', 'a KeyRing', options.keys)
    checkFunction(options.route, 'RelayedCommandChannel', 'route')
    checkFunction(options.transponder, 'RelayedCommandChannel', 'transponder')
    this.#o = options
    this.#clock = options.clock ?? systemClock
    this.#timeoutMs = options.timeoutMs ?? RELAYED_COMMAND_CHANNEL_DEFAULTS.timeoutMs
  }

  async send (node: string, command: AgentCommand, options: { signal?: AbortSignal } = {}): Promise<AgentReply> {
    const [result] = await this.sendMany([{ node, command }], options)
    if (result instanceof QuorateError) throw result
    return result!
  }

  /**
   * Fans commands out: grouped by transponder, one deliver per transponder, all concurrently.
   * Answers per item, in order: the agent's verified reply, or an AGENT_UNREACHABLE error
   * (a refused reply — bad signature, another signer — is unreachable too: its cause says why).
   */
  async sendMany (items: ReadonlyArray<{ readonly node: string, readonly command: AgentCommand }>, options: { signal?: AbortSignal } = {}): Promise<Array<AgentReply | QuorateError>> {
    const out: Array<AgentReply | QuorateError> = new Array(items.length)
    const groups = new Map<string, number[]>()
    items.forEach(({ node }, i) => {
      const via = this.#o.route(node)
      if (via === undefined || this.#o.transponder(via) === undefined) {
        out[i] = unreachable(node, new QuorateError('TRANSPONDER_NO_TRANSPONDER', `No live transponder is known to reach "${node}"`))
        return
      }
      let g = groups.get(via)
      if (g === undefined) { g = []; groups.set(via, g) }
      g.push(i)
    })
    await Promise.all([...groups].map(async ([via, indexes]) => {
      const envelopes = indexes.map((i) => sealCommand(this.#o.signer, items[i]!.node, items[i]!.command))
      let results: DeliveryResult[]
      try {
        results = await this.#bounded(via, envelopes, options.signal)
      } catch (err) {
        for (const i of indexes) out[i] = unreachable(items[i]!.node, err)
        return
      }
      indexes.forEach((i, k) => {
        const node = items[i]!.node
        const r = results[k]
        if (r === undefined || !r.ok) {
          out[i] = unreachable(node, new QuorateError('TRANSPONDER_UNDELIVERABLE', r?.message ?? 'no result', { details: { code: r?.code } }))
          return
        }
        try {
          const { reply } = openReply(r.reply, this.#o.keys, this.#o.signer.id, node)
          out[i] = reply.id === items[i]!.command.id ? reply : unreachable(node, new QuorateError('TRANSPONDER_ENVELOPE_MALFORMED', `The reply names command ${reply.id}`))
        } catch (err) {
          if (!isQuorateError(err)) throw err
          out[i] = unreachable(node, err)
        }
      })
    }))
    return out
  }

  /** One transponder's batch, abandoned after timeoutMs or when `signal` fires (the transport may never answer). */
  async #bounded (via: string, envelopes: Uint8Array[], signal: AbortSignal | undefined): Promise<DeliveryResult[]> {
    return await boundedAttempt(this.#clock, this.#timeoutMs, [signal],
      () => new QuorateError('TRANSPONDER_UNDELIVERABLE', `Transponder ${via} did not answer within ${this.#timeoutMs} ms`),
      async (s) => await this.#o.transponder(via)!(envelopes, { signal: s }))
  }
}

function unreachable (node: string, cause: unknown): QuorateError {
  return new QuorateError('AGENT_UNREACHABLE', `The command to "${node}" was not answered through its transponder`, { cause, details: { node } })
}

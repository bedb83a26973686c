/**
 * The agent's side of the transponders: it heartbeats its home transponder, sends its events
 * through it until acknowledged, re-homes when the home is unreachable, and answers relayed
 * commands exactly once per command id.
 *
 * Home: the first of the agent's rendezvous ranking (assignment.ts) not marked down. A failed
 * heartbeat or an event not acknowledged within ackTimeoutMs marks the home down for
 * downForMs and moves to the next-ranked transponder, so the re-home bound is one heartbeat
 * period (for a transponder whose connection fails) or ackTimeoutMs (for one that hangs).
 *
 * Invariants: an event stays in the outbox (and is resent through each new home, with the
 * same id, so the events queue stores it once) until a transponder acknowledged it, which a
 * transponder does only after the station committed it; `emit` resolves only then. A
 * command runs once per id (CommandInbox), however many transponders deliver it.
 */
import { sharedAbortController } from '../util/abort.js'
import { QuorateError } from '../errors.js'
import type { AgentCommand, AgentReply } from '../agent/protocol.js'
import type { GraphEvent } from '../graph/events-client.js'
import type { Clock, Timer } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import { Lifecycle } from '../util/lifecycle.js'
import type { ComponentStatus } from '../util/lifecycle.js'
import { check, checkFunction, checkInt, checkKnownKeys, checkMethods, checkObject } from '../util/validate.js'
import { rankTransponders } from './assignment.js'
import { boundedAttempt } from './deadline.js'
import { CommandInbox } from './command-inbox.js'
import { openCommand, sealEvent, sealReply } from './envelope.js'
import { KeyRing } from './keys.js'
import type { Signer } from './keys.js'

/** How an agent reaches transponders (a socket per transponder, or the simulator's links). */
export interface AgentLinks {
  /** Sends a heartbeat; false if the transponder cannot be reached (connection refused or closed). */
  heartbeat: (transponder: string) => boolean
  /** Submits a signed event envelope; resolves when the transponder acknowledged it. */
  submit: (transponder: string, envelope: Uint8Array, options: { signal: AbortSignal }) => Promise<'acknowledged' | 'filtered'>
}

export interface AgentRelayClientOptions {
  signer: Signer
  /** Verifies commands (the coordinators' public keys). */
  keys: KeyRing
  /** The station id events are sealed for. */
  station: string
  /** Every transponder the agent may use; its ranking picks the home. */
  transponders: readonly string[]
  links: AgentLinks
  /** Runs a verified, fresh command (the node agent's executor). */
  execute: (command: AgentCommand) => Promise<AgentReply>
  /** @default systemClock */
  clock?: Clock
  /** @default 1000 */
  heartbeatMs?: number
  /** An event not acknowledged within this long is resent through the next transponder, ms. @default 2000 */
  ackTimeoutMs?: number
  /** A transponder that failed is avoided for this long, ms. @default 10000 */
  downForMs?: number
  /** The dedupe helper (pass one restored from persisted records). @default new CommandInbox() */
  inbox?: CommandInbox
}

export const AGENT_RELAY_CLIENT_DEFAULTS = { heartbeatMs: 1000, ackTimeoutMs: 2000, downForMs: 10_000 } as const

export class AgentRelayClient {
  readonly id: string
  readonly inbox: CommandInbox
  readonly #o: AgentRelayClientOptions
  readonly #clock: Clock
  readonly #t: { heartbeatMs: number, ackTimeoutMs: number, downForMs: number }
  readonly #ranking: string[]
  readonly #downUntil = new Map<string, number>()
  readonly #life = new Lifecycle('agent relay client')
  #timer: Timer | undefined
  #home: string | undefined
  #rehomes = 0
  #closing = new AbortController()

  constructor (options: AgentRelayClientOptions) {
    checkObject(options, 'AgentRelayClient', '(options)')
    checkKnownKeys(options, 'AgentRelayClient', ['signer', 'keys', 'station', 'transponders', 'links', 'execute', 'clock', 'inbox', ...Object.keys(AGENT_RELAY_CLIENT_DEFAULTS)])
    check(typeof options.signer === 'object' && options.signer !== null && typeof options.signer.id === 'string', 'AgentRelayClient', 'signer', 'a Signer', options.signer)
    check(options.keys instanceof KeyRing, 'AgentRelayClient', 'keys', 'a KeyRing', options.keys)
    check(typeof options.station === 'string' && options.station.length > 0, 'AgentRelayClient', 'station', 'a non-empty string', options.station)
    check(Array.isArray(options.transponders) && options.transponders.length > 0 && options.transponders.every((t) => typeof t === 'string' && t.length > 0),
      'AgentRelayClient', 'transponders', 'a non-empty array of transponder ids', options.transponders)
    checkMethods(options.links, 'AgentRelayClient', 'links', 'AgentLinks', ['heartbeat', 'submit'])
    checkFunction(options.execute, 'AgentRelayClient', 'execute')
    if (options.clock !== undefined) checkMethods(options.clock, 'AgentRelayClient', 'clock', 'a Clock', ['now', 'setTimeout', 'clearTimeout'])
    check(options.inbox === undefined || options.inbox instanceof CommandInbox, 'AgentRelayClient', 'inbox', 'a CommandInbox', options.inbox)
    const t = { ...AGENT_RELAY_CLIENT_DEFAULTS } as { heartbeatMs: number, ackTimeoutMs: number, downForMs: number }
    for (const k of Object.keys(AGENT_RELAY_CLIENT_DEFAULTS) as Array<keyof typeof t>) {
      if (options[k] !== undefined) { checkInt(options[k], 'AgentRelayClient', k, 1); t[k] = options[k] }
    }
    this.id = options.signer.id
    this.#o = options
    this.#t = t
    this.#clock = options.clock ?? systemClock
    this.#ranking = rankTransponders(this.id, options.transponders)
    this.inbox = options.inbox ?? new CommandInbox()
  }

  get status (): ComponentStatus { return this.#life.status }

  /** The transponder the agent currently uses. */
  get home (): string { return this.#home ?? this.#pickHome() }

  /** How many times the agent moved to another transponder. */
  get rehomes (): number { return this.#rehomes }

  async open (options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#life.open(async () => {}, options.signal, () => {
      // Every concurrent delivery or submit listens on it: no leak, just many waiters.
      this.#closing = sharedAbortController()
      this.#beat()
    })
  }

  async close (): Promise<void> {
    await this.#life.close(async () => {
      this.#closing.abort()
      if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
      this.#timer = undefined
    })
  }

  /**
   * Sends an event until a transponder acknowledged it (the station committed it), re-homing
   * on the way as needed. Rejects only ABORTED (its signal or close) or NODE_NOT_OPEN.
   */
  async emit (event: GraphEvent, options: { signal?: AbortSignal } = {}): Promise<'acknowledged' | 'filtered'> {
    this.#life.assertOpen()
    const envelope = sealEvent(this.#o.signer, this.#o.station, event)
    const signal = options.signal
    const stopped = (): boolean => signal?.aborted === true || this.#closing.signal.aborted
    for (;;) {
      if (stopped()) {
        throw new QuorateError('ABORTED', `Agent ${this.id}: emit of ${event.id} aborted before acknowledgement`)
      }
      const home = this.home
      try {
        return await boundedAttempt(this.#clock, this.#t.ackTimeoutMs, [signal, this.#closing.signal],
          () => new QuorateError('ABORTED', 'no acknowledgement in time'),
          async (s) => await this.#o.links.submit(home, envelope, { signal: s }))
      } catch {
        if (!stopped()) this.#markDown(home)
      }
    }
  }

  /**
   * A command envelope from a transponder: verified (signature, target = this agent), run once
   * per id, answered with a reply sealed for the command's signer. Throws the verification
   * error (the transponder reports the command undeliverable with its code).
   */
  async handleCommand (bytes: Uint8Array): Promise<Uint8Array> {
    const { sender, command } = openCommand(bytes, this.#o.keys, this.id)
    const reply = await this.inbox.execute(command, this.#o.execute)
    return sealReply(this.#o.signer, sender, reply, command.fence)
  }

  #beat (): void {
    if (!this.#life.isOpen) return
    // Walk down the ranking past every transponder known unreachable now, so a second dead
    // one in the ranking costs no extra heartbeat period.
    for (let tried = 0; tried < this.#ranking.length; tried++) {
      const home = this.home
      if (this.#o.links.heartbeat(home)) break
      this.#markDown(home)
    }
    this.#timer = this.#clock.setTimeout(() => { this.#timer = undefined; this.#beat() }, this.#t.heartbeatMs)
  }

  #markDown (transponder: string): void {
    this.#downUntil.set(transponder, this.#clock.now() + this.#t.downForMs)
    if (this.#home === transponder) this.#home = undefined
  }

  #pickHome (): string {
    const now = this.#clock.now()
    let pick = this.#ranking.find((t) => (this.#downUntil.get(t) ?? 0) <= now)
    // Every transponder marked down: try the best-ranked one again rather than none.
    pick ??= this.#ranking[0]!
    if (this.#home !== undefined && pick !== this.#home) this.#rehomes++
    else if (this.#home === undefined && this.#everHomed) this.#rehomes++
    this.#everHomed = true
    this.#home = pick
    return pick
  }

  #everHomed = false
}

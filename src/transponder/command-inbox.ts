/**
 * The agent side of relayed commands: at-most-once execution by command id, and fencing.
 *
 * A command can reach an agent twice: a transponder died after delivering it and the
 * coordinator resent it through another one, or a coordinator resumed a rule after failover.
 * `CommandInbox.execute` runs a command id once; a repeat (concurrent or later) answers the
 * first reply. A command whose fence token is older than the highest seen for its lease is
 * answered LEASE_FENCED without running.
 *
 * Invariants: a reply is recorded (and `persist` has resolved) before `execute` returns it,
 * so an agent that replies and then restarts (restoring the records) answers a replay with the
 * same reply; the highest token per lease never decreases; at most `capacity` finished ids
 * are remembered (oldest forgotten first) — a replay older than that runs again, so size it
 * above the number of commands a coordinator can have outstanding for one node.
 */
import { QuorateError } from '../errors.js'
import type { AgentCommand, AgentReply } from '../agent/protocol.js'
import { checkFunction, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'

export interface CommandInboxOptions {
  /** Finished command ids remembered with their replies. @default 10000 */
  capacity?: number
  /**
   * Makes a record durable before the reply leaves the agent (persist before acknowledging).
   * @default undefined (memory only: a restarted agent may run a replayed command again)
   */
  persist?: (record: InboxRecord) => Promise<void> | void
}

/** What an inbox persists: one finished command and the fence it ran under. */
export interface InboxRecord {
  readonly id: string
  readonly reply: AgentReply
  readonly lease: string
  readonly token: number
}

export const COMMAND_INBOX_DEFAULTS = { capacity: 10_000 } as const

export class CommandInbox {
  readonly #capacity: number
  readonly #persist: CommandInboxOptions['persist']
  readonly #replies = new Map<string, Promise<AgentReply>>()
  readonly #finished: string[] = []
  #finishedHead = 0
  readonly #fences = new Map<string, number>()
  #executed = 0

  constructor (options: CommandInboxOptions = {}) {
    checkObject(options, 'CommandInbox', '(options)')
    checkKnownKeys(options, 'CommandInbox', ['capacity', 'persist'])
    if (options.capacity !== undefined) checkInt(options.capacity, 'CommandInbox', 'capacity', 1)
    checkFunction(options.persist, 'CommandInbox', 'persist', true)
    this.#capacity = options.capacity ?? COMMAND_INBOX_DEFAULTS.capacity
    this.#persist = options.persist
  }

  /** How many commands `run` was called for (not counting replays). */
  get executed (): number { return this.#executed }

  /** The highest fencing token seen for `lease` (0 if none). */
  highestToken (lease: string): number { return this.#fences.get(lease) ?? 0 }

  /** Restores persisted records (on agent start, before the first execute). */
  restore (records: Iterable<InboxRecord>): void {
    for (const r of records) {
      this.#raiseFence(r.lease, r.token)
      if (!this.#replies.has(r.id)) this.#remember(r.id, Promise.resolve(r.reply))
    }
  }

  /**
   * Runs `command` once per id: a repeat answers the first reply. An older fence than seen
   * answers `{ ok: false, code: 'LEASE_FENCED' }` without running. If `run` rejects, the id is
   * forgotten (nothing was recorded) and the rejection passes through, so a resend runs it again.
   */
  execute (command: AgentCommand, run: (command: AgentCommand) => Promise<AgentReply>): Promise<AgentReply> {
    const known = this.#replies.get(command.id)
    if (known !== undefined) return known
    const { lease, token } = command.fence
    if (token < this.highestToken(lease)) {
      return Promise.resolve({
        id: command.id,
        ok: false,
        code: 'LEASE_FENCED',
        message: `Command ${command.id} carries token ${token} of lease ${lease}; ${this.highestToken(lease)} was already seen`
      })
    }
    this.#raiseFence(lease, token)
    this.#executed++
    const reply = (async () => {
      const r = await run(command)
      if (r.id !== command.id) throw new QuorateError('AGENT_COMMAND_INVALID', `CommandInbox: the reply to ${command.id} names ${r.id}`)
      await this.#persist?.({ id: command.id, reply: r, lease, token })
      return r
    })()
    this.#replies.set(command.id, reply)
    reply.then(() => { this.#finish(command.id) }, () => { this.#replies.delete(command.id) })
    return reply
  }

  #raiseFence (lease: string, token: number): void {
    if (token > this.highestToken(lease)) this.#fences.set(lease, token)
  }

  #remember (id: string, reply: Promise<AgentReply>): void {
    this.#replies.set(id, reply)
    this.#finish(id)
  }

  /** Appends a finished id and forgets the oldest beyond capacity (a ring of ids, compacted now and then). */
  #finish (id: string): void {
    this.#finished.push(id)
    while (this.#finished.length - this.#finishedHead > this.#capacity) {
      this.#replies.delete(this.#finished[this.#finishedHead++]!)
    }
    if (this.#finishedHead > 1024 && this.#finishedHead * 2 > this.#finished.length) {
      this.#finished.splice(0, this.#finishedHead)
      this.#finishedHead = 0
    }
  }
}

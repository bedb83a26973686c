/**
 * The agent's durable memory of who may command it: the highest fencing token admitted per
 * lease name (a persisted FencingGuard) and the replies to the most recent command ids, so a
 * coordinator that resends a command after a failover or a lost reply gets the first reply
 * again instead of a second execution.
 *
 * Invariants: a token is written to disk (fsync'd) before any command carrying it acts, so an
 * agent that crashes and restarts never admits an older token than one it acted on; a reply
 * is written before it is returned (persist before acknowledge). The file holds at most
 * `rememberedReplies` replies, oldest dropped first.
 */
import { QuorateError } from '../errors.js'
import { FencingGuard } from '../lease/fencing.js'
import type { AgentReply } from './protocol.js'
import { readIfExists, writeFileDurably } from './durable-file.js'

interface FenceFile {
  readonly version: 1
  readonly fences: Array<[string, number]>
  readonly replies: Array<[string, AgentReply]>
}

export class FenceStore {
  readonly #path: string
  readonly #capacity: number
  #guard: FencingGuard
  readonly #replies = new Map<string, AgentReply>()
  /** Writes run one at a time, in call order, so the file never goes back to older contents. */
  #writing: Promise<void> = Promise.resolve()

  private constructor (path: string, capacity: number, guard: FencingGuard, replies: Iterable<[string, AgentReply]>) {
    this.#path = path
    this.#capacity = capacity
    this.#guard = guard
    for (const [id, reply] of replies) this.#replies.set(id, reply)
  }

  /** Loads the file at `path` (absent: nothing admitted yet). AGENT_STATE_INVALID if it is damaged. */
  static async open (path: string, capacity: number): Promise<FenceStore> {
    const text = await readIfExists(path)
    if (text === undefined) return new FenceStore(path, capacity, new FencingGuard(), [])
    let parsed: FenceFile
    try {
      parsed = JSON.parse(text) as FenceFile
      if (parsed.version !== 1 || !Array.isArray(parsed.fences) || !Array.isArray(parsed.replies)) throw new Error('not a version 1 fence file')
      return new FenceStore(path, capacity, new FencingGuard(parsed.fences), parsed.replies)
    } catch (cause) {
      throw new QuorateError('AGENT_STATE_INVALID', `The agent's fence file ${path} is damaged; refusing to guess which coordinator is current`, { cause })
    }
  }

  /** The first reply to command `id`, if it is remembered. */
  reply (id: string): AgentReply | undefined { return this.#replies.get(id) }

  /** The highest token admitted for `lease` (0 if none). */
  highest (lease: string): number { return this.#guard.highest(lease) }

  /**
   * Admits `token` for `lease` or throws LEASE_FENCED; a newer token is on disk before this
   * resolves. Returns true if the token was newer than any before (the epoch changed).
   */
  async admit (lease: string, token: number): Promise<boolean> {
    const before = this.#guard.highest(lease)
    this.#guard.admit(lease, token)
    if (token === before) return false
    try {
      await this.#persist()
    } catch (err) {
      // Not on disk, so not admitted: forget it (unless a newer token was admitted meanwhile),
      // or a resend would find it "already admitted" and act before it is durable.
      if (this.#guard.highest(lease) === token) {
        this.#guard = new FencingGuard([...this.#guard.entries()].map(([name, t]) => [name, name === lease ? before : t] as [string, number]))
      }
      throw err
    }
    return true
  }

  /** Remembers the reply to `id` durably (dropping the oldest beyond capacity). */
  async remember (id: string, reply: AgentReply): Promise<void> {
    this.#replies.delete(id)
    this.#replies.set(id, reply)
    while (this.#replies.size > this.#capacity) this.#replies.delete(this.#replies.keys().next().value as string)
    await this.#persist()
  }

  #persist (): Promise<void> {
    const write = this.#writing.then(async () => {
      const file: FenceFile = { version: 1, fences: [...this.#guard.entries()], replies: [...this.#replies] }
      await writeFileDurably(this.#path, JSON.stringify(file))
    })
    this.#writing = write.catch(() => {})
    return write
  }
}

/**
 * Exactly-once commands through client sessions (Raft thesis §6.3). A client that retries a
 * proposal after a timeout or a leader change may get its command into the log twice; the
 * SessionStateMachine applies each (client, sequence number) once and answers the
 * duplicates with the cached result of the first.
 *
 * Sessions are registered explicitly, as in the thesis: a register command's log index
 * becomes the client id. Client-chosen random ids would save that round trip, but an
 * unknown id could then mean either "new" or "expired", and silently re-creating an expired
 * session would apply a retried command a second time. With log-index ids, an unknown id is
 * always an expired (or never registered) session and is refused with SESSION_EXPIRED.
 *
 * Everything here is a function of the log alone, so every replica keeps the same table:
 * expiry counts log indexes of inactivity (never a clock), eviction picks the least recently
 * active session, and all replicas must use the same options.
 *
 * Refusals (SESSION_EXPIRED, SESSION_SEQUENCE_TOO_OLD, SESSION_ENVELOPE_INVALID) are
 * returned as QuorateError *values*, not thrown: a throwing state machine stops the node.
 */
import { QuorateError } from '../errors.js'
import type { StateMachine } from '../node/state-machine.js'
import { isThenable } from '../node/state-machine.js'
import { check, checkInt, checkKnownKeys } from '../util/validate.js'
import { ByteReader, ByteWriter, readU32, readU64, writeU32, writeU64 } from '../util/bytes.js'
import { ChunkStreamReader } from '../util/chunk-reader.js'
import {
  KIND_CLOSE, KIND_COMMAND, KIND_REGISTER, decodeEnvelope, jsonResultCodec, readPositive
} from './codec.js'
import type { SessionResultCodec } from './codec.js'

export { ClientSession, CLIENT_SESSION_DEFAULTS, isRetryableProposalError, validateClientSessionOptions } from './client.js'
export type { ClientSessionOptions, ProposeFn, ProposeTarget, Proposer, RetryContext, RetryPolicy, SessionProposeOptions } from './client.js'
export { encodeClose, encodeRegister, encodeSessionCommand, decodeEnvelope, jsonResultCodec } from './codec.js'
export type { SessionEnvelope, SessionResultCodec } from './codec.js'

export const SESSION_DEFAULTS = {
  maxSessions: 10_000,
  sessionTimeoutEntries: 1_000_000,
  maxResultsPerSession: 1024
} as const

export interface SessionStateMachineOptions<Result = unknown> {
  /** Most live sessions; registering one more evicts the least recently active. @default 10 000 */
  maxSessions?: number
  /**
   * A session expires once the log has advanced this many indexes past its last command (or
   * registration). Logical time, so every replica expires it at the same entry. @default 1 000 000
   */
  sessionTimeoutEntries?: number
  /**
   * Most results one session caches. Past it the lowest sequence number is forgotten as if
   * acknowledged (a retry of it then gets SESSION_SEQUENCE_TOO_OLD, never a second apply). @default 1024
   */
  maxResultsPerSession?: number
  /** Serializes cached results into snapshots. @default jsonResultCodec (undefined, Uint8Array, JSON values) */
  resultCodec?: SessionResultCodec<Result>
}

export function validateSessionStateMachineOptions (options: SessionStateMachineOptions<never>): void {
  const C = 'SessionStateMachineOptions'
  check(typeof options === 'object' && options !== null, C, '(options)', 'an object', options)
  checkKnownKeys(options, C, Object.keys({
    maxSessions: true, sessionTimeoutEntries: true, maxResultsPerSession: true, resultCodec: true
  } satisfies Record<keyof SessionStateMachineOptions<never>, true>))
  if (options.maxSessions !== undefined) checkInt(options.maxSessions, C, 'maxSessions', 1)
  if (options.sessionTimeoutEntries !== undefined) checkInt(options.sessionTimeoutEntries, C, 'sessionTimeoutEntries', 1)
  if (options.maxResultsPerSession !== undefined) checkInt(options.maxResultsPerSession, C, 'maxResultsPerSession', 1)
  if (options.resultCodec !== undefined) {
    const codec = options.resultCodec as Partial<SessionResultCodec> | null
    check(typeof codec?.encode === 'function' && typeof codec.decode === 'function', C, 'resultCodec', 'an object with encode() and decode()', typeof codec)
  }
}

/** What a session remembers, for monitoring and tests. */
export interface SessionInfo {
  readonly clientId: number
  /** Log index of the session's last command or its registration. */
  readonly lastActiveIndex: number
  /** Lowest sequence number still answerable; anything below is SESSION_SEQUENCE_TOO_OLD. */
  readonly retainedFrom: number
  /** Sequence numbers whose results are cached, ascending. */
  readonly cachedSequences: readonly number[]
}

interface Session {
  readonly clientId: number
  lastActive: number
  retainedFrom: number
  readonly results: Map<number, unknown>
}

/** "QSS1": starts a SessionStateMachine snapshot; a u64 table length follows. */
const SNAPSHOT_MAGIC = 0x51535331
const SNAPSHOT_HEADER_BYTES = 12

/**
 * Wraps `inner` so its commands are applied at most once per (client, seq). Every command is
 * an envelope. To give exactly-once to some commands of a shared log and not others, mount
 * this machine on a StateMachineRouter with `router.dispatcher()` as `inner`: an envelope's
 * payload is then a routed command for any other member, and plain commands go to their
 * members directly.
 *
 * Apply results: register → the new client id (number); command → the inner result (the
 * cached one for a duplicate); close → true; refusals → a QuorateError value.
 *
 * Snapshot stream: "QSS1", u64 big-endian table length, the session table, then the inner
 * machine's own snapshot stream unchanged (nothing when `inner` has no snapshot(), as a
 * router's dispatcher: the router snapshots its members itself).
 */
export class SessionStateMachine<Result = unknown> implements StateMachine<Result | number | boolean | QuorateError> {
  readonly inner: StateMachine<Result>
  readonly #maxSessions: number
  readonly #timeoutEntries: number
  readonly #maxResults: number
  readonly #codec: SessionResultCodec<Result>
  /** Ordered by last activity, least recent first: a touch re-inserts at the end. */
  #sessions = new Map<number, Session>()

  constructor (inner: StateMachine<Result>, options: SessionStateMachineOptions<Result> = {}) {
    check(typeof inner?.apply === 'function', 'SessionStateMachine', 'inner', 'a StateMachine', typeof inner)
    validateSessionStateMachineOptions(options as SessionStateMachineOptions<never>)
    this.inner = inner
    this.#maxSessions = options.maxSessions ?? SESSION_DEFAULTS.maxSessions
    this.#timeoutEntries = options.sessionTimeoutEntries ?? SESSION_DEFAULTS.sessionTimeoutEntries
    this.#maxResults = options.maxResultsPerSession ?? SESSION_DEFAULTS.maxResultsPerSession
    this.#codec = options.resultCodec ?? (jsonResultCodec as SessionResultCodec<Result>)
  }

  /** Number of live sessions. */
  get sessionCount (): number { return this.#sessions.size }

  /** A live session's state, or null if it is unknown (expired, evicted, closed). */
  session (clientId: number): SessionInfo | null {
    const s = this.#sessions.get(clientId)
    if (s === undefined) return null
    return { clientId, lastActiveIndex: s.lastActive, retainedFrom: s.retainedFrom, cachedSequences: [...s.results.keys()].sort((a, b) => a - b) }
  }

  apply (command: Uint8Array, index: number): Result | number | boolean | QuorateError | Promise<Result> {
    this.#expire(index)
    let env
    try {
      env = decodeEnvelope(command)
    } catch (err) {
      return err as QuorateError
    }
    switch (env.kind) {
      case KIND_REGISTER: return this.#register(index)
      case KIND_CLOSE: return this.#sessions.delete(env.clientId) ? true : this.#unknown(env.clientId, index)
      case KIND_COMMAND: {
        const s = this.#sessions.get(env.clientId)
        if (s === undefined) return this.#unknown(env.clientId, index)
        this.#touch(s, index)
        this.#forgetBelow(s, env.firstUnacknowledged)
        const { seq } = env
        if (seq < s.retainedFrom) {
          return new QuorateError('SESSION_SEQUENCE_TOO_OLD', `client ${s.clientId} seq ${seq} at index ${index}: results below seq ${s.retainedFrom} are discarded`, { details: { clientId: s.clientId, seq, retainedFrom: s.retainedFrom, index } })
        }
        if (s.results.has(seq)) return s.results.get(seq) as Result
        const result = this.inner.apply(env.payload, index)
        if (isThenable(result)) {
          // The node awaits this before the next apply, so `s` cannot change meanwhile.
          return Promise.resolve(result).then((value) => { this.#remember(s, seq, value); return value })
        }
        this.#remember(s, seq, result)
        return result
      }
    }
  }

  #unknown (clientId: number, index: number): QuorateError {
    return new QuorateError('SESSION_EXPIRED', `client ${clientId} has no session at index ${index} (expired, evicted, closed or never registered)`, { details: { clientId, index } })
  }

  #register (index: number): number {
    if (this.#sessions.size >= this.#maxSessions) {
      const oldest = this.#sessions.keys().next().value!
      this.#sessions.delete(oldest)
    }
    this.#sessions.set(index, { clientId: index, lastActive: index, retainedFrom: 1, results: new Map() })
    return index
  }

  #touch (s: Session, index: number): void {
    s.lastActive = index
    this.#sessions.delete(s.clientId)
    this.#sessions.set(s.clientId, s)
  }

  /** Expires sessions idle for more than the timeout. Map order is last-activity order. */
  #expire (index: number): void {
    const horizon = index - this.#timeoutEntries
    for (const s of this.#sessions.values()) {
      if (s.lastActive >= horizon) return
      this.#sessions.delete(s.clientId)
    }
  }

  /** Drops cached results below `seq` (the client acknowledged them). */
  #forgetBelow (s: Session, seq: number): void {
    if (seq <= s.retainedFrom) return
    // Cost min(gap, cached): a client jumping its watermark far ahead cannot stall apply.
    if (seq - s.retainedFrom <= s.results.size) {
      for (let q = s.retainedFrom; q < seq; q++) s.results.delete(q)
    } else {
      for (const q of s.results.keys()) if (q < seq) s.results.delete(q)
    }
    s.retainedFrom = seq
  }

  #remember (s: Session, seq: number, result: Result): void {
    s.results.set(seq, result)
    if (s.results.size <= this.#maxResults) return
    let lowest = seq
    for (const q of s.results.keys()) if (q < lowest) lowest = q
    this.#forgetBelow(s, lowest + 1)
  }

  // ---------------------------------------------------------------- snapshots

  /** The session table is encoded now, so later applies do not change this snapshot. */
  snapshot (): AsyncIterable<Uint8Array> {
    const table = this.#encodeTable()
    const head = new Uint8Array(SNAPSHOT_HEADER_BYTES)
    writeU32(head, SNAPSHOT_MAGIC, 0)
    writeU64(head, table.length, 4)
    const innerStream = this.inner.snapshot?.()
    return (async function * () {
      yield head
      yield table
      if (innerStream !== undefined) yield * innerStream
    })()
  }

  #encodeTable (): Uint8Array {
    const out = new ByteWriter(256)
    out.varint(this.#sessions.size)
    for (const s of this.#sessions.values()) {
      out.varint(s.clientId)
      out.varint(s.lastActive)
      out.varint(s.retainedFrom)
      out.varint(s.results.size)
      for (const [seq, result] of s.results) {
        out.varint(seq)
        let bytes: Uint8Array
        try {
          bytes = this.#codec.encode(result as Result)
        } catch (err) {
          throw new QuorateError('OPTIONS_INVALID', `SessionStateMachineOptions: option "resultCodec" cannot encode the result of client ${s.clientId} seq ${seq}: ${(err as Error)?.message}`, { cause: err })
        }
        out.chunk(bytes)
      }
    }
    return out.finish()
  }

  /** Replaces the session table and then the inner state; throws STORAGE_CORRUPT on a bad stream. */
  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const reader = new ChunkStreamReader(chunks, 'STORAGE_CORRUPT', 'session snapshot')
    const head = await reader.take(SNAPSHOT_HEADER_BYTES)
    if (readU32(head, 0) !== SNAPSHOT_MAGIC) throw new QuorateError('STORAGE_CORRUPT', 'session snapshot: missing the QSS1 header')
    const tableLength = readU64(head, 4)
    if (tableLength < 0) throw new QuorateError('STORAGE_CORRUPT', 'session snapshot: table length out of range')
    const sessions = this.#decodeTable(await reader.take(tableLength))
    const rest = reader.remainder()
    if (this.inner.restore !== undefined) {
      await this.inner.restore(rest)
    } else {
      for await (const c of rest) if (c.length > 0) throw new QuorateError('STORAGE_CORRUPT', 'session snapshot: inner state present but the inner machine has no restore()')
    }
    this.#sessions = sessions
  }

  #decodeTable (bytes: Uint8Array): Map<number, Session> {
    const r = new ByteReader(bytes, 'STORAGE_CORRUPT')
    const sessions = new Map<number, Session>()
    const count = r.varint()
    for (let i = 0; i < count; i++) {
      const clientId = readPositive(r, 'clientId')
      const lastActive = r.varint()
      const retainedFrom = readPositive(r, 'retainedFrom')
      const resultCount = r.varint()
      const results = new Map<number, unknown>()
      for (let j = 0; j < resultCount; j++) {
        const seq = readPositive(r, 'seq')
        const encoded = r.chunk()
        let result: Result
        try {
          result = this.#codec.decode(encoded)
        } catch (err) {
          throw new QuorateError('STORAGE_CORRUPT', `session snapshot: result of client ${clientId} seq ${seq} does not decode: ${(err as Error)?.message}`, { cause: err })
        }
        results.set(seq, result)
      }
      sessions.set(clientId, { clientId, lastActive, retainedFrom, results })
    }
    r.end()
    return sessions
  }
}

/** Convenience for `new SessionStateMachine(inner, options)`. */
export function withSessions<Result> (inner: StateMachine<Result>, options: SessionStateMachineOptions<Result> = {}): SessionStateMachine<Result> {
  return new SessionStateMachine(inner, options)
}

/**
 * The replicated lease table: a deterministic Raft state machine. It never reads a clock:
 * whether a holder may still be live is judged before proposing (see ExpiryJudge), and the
 * acquire command carries the record version that judgment saw, so a judgment made on stale
 * state fails here, identically on every replica (compare-and-set on the version).
 *
 * Invariants: a grant's token is its log index, so tokens of one name only grow; `version`
 * is the index of the last entry that changed the record (grant, renewal or release).
 */
import type { StateMachine } from '../node/state-machine.js'
import { QuorateError } from '../errors.js'
import { concatBytes } from '../util/bytes.js'
import { decodeLeaseCommand } from './command.js'
import { DIAGNOSTICS_CHANNELS, publishIfObserved, quorateChannel } from '../util/diagnostics.js'

/** 'quorate:lease:grant': every replica publishes each grant it applies (util/diagnostics.ts). */
const leaseGrantChannel = quorateChannel(DIAGNOSTICS_CHANNELS.leaseGrant)

export interface LeaseRecord {
  readonly name: string
  /** Who holds the latest grant, or null once it was released. */
  readonly holder: string | null
  /** Fencing token of the latest grant: the log index of its acquire entry. */
  readonly token: number
  /** Duration of the latest grant in milliseconds. */
  readonly durationMs: number
  /** Log index of the last change to this record. */
  readonly version: number
}

export type LeaseRefusal = 'LEASE_HELD' | 'LEASE_NOT_HOLDER' | 'OPTIONS_INVALID'

/** What applying a lease command returns (and so what `RaftNode.propose` resolves with). */
export type LeaseOutcome =
  | { readonly ok: true, readonly record: LeaseRecord }
  | { readonly ok: false, readonly code: LeaseRefusal, readonly record: LeaseRecord | null }

export type LeaseChangeListener = (record: LeaseRecord) => void

const MALFORMED: LeaseOutcome = Object.freeze({ ok: false, code: 'OPTIONS_INVALID', record: null })

export class LeaseTable implements StateMachine<LeaseOutcome> {
  readonly #records = new Map<string, LeaseRecord>()
  readonly #listeners = new Set<LeaseChangeListener>()

  /** The applied record of `name`, if it was ever granted. */
  get (name: string): LeaseRecord | undefined { return this.#records.get(name) }

  records (): IterableIterator<LeaseRecord> { return this.#records.values() }

  /**
   * Calls `listener` with every record this replica applies or restores, synchronously
   * inside apply. Listeners observe; they must not change replicated state. Returns the
   * function that removes the listener.
   */
  onChange (listener: LeaseChangeListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  apply (command: Uint8Array, index: number): LeaseOutcome {
    const c = decodeLeaseCommand(command)
    if (c === null) return MALFORMED
    const current = this.#records.get(c.name)
    if (c.op === 'acquire') {
      // A free name may be granted whatever the proposer saw: its last holder released it.
      const free = current === undefined || current.holder === null
      if (!free && current.version !== c.expectVersion) return { ok: false, code: 'LEASE_HELD', record: current }
      const granted = this.#set({ name: c.name, holder: c.holder, token: index, durationMs: c.durationMs, version: index })
      publishIfObserved(leaseGrantChannel, () => ({ name: c.name, holder: c.holder, token: index, durationMs: c.durationMs }))
      return granted
    }
    if (current === undefined || current.holder !== c.holder || current.token !== c.token) {
      return { ok: false, code: 'LEASE_NOT_HOLDER', record: current ?? null }
    }
    return this.#set({ ...current, holder: c.op === 'renew' ? current.holder : null, version: index })
  }

  /** The table as of this call (encoded now), as JSON text: leases are few and small. */
  snapshot (): AsyncIterable<Uint8Array> {
    const bytes = new TextEncoder().encode(JSON.stringify([...this.#records.values()]))
    return (async function * () { yield bytes })()
  }

  /** Replaces the table; rejects STORAGE_CORRUPT (table unchanged) if the stream is not a lease table. */
  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = []
    for await (const chunk of chunks) parts.push(chunk)
    const records = parseRecords(concatBytes(parts))
    this.#records.clear()
    for (const r of records) this.#set(r)
  }

  #set (record: LeaseRecord): LeaseOutcome {
    Object.freeze(record)
    this.#records.set(record.name, record)
    for (const listener of this.#listeners) listener(record)
    return { ok: true, record }
  }
}

function isCount (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

/** The records of a snapshot, each checked field by field (a bad one names itself). */
function parseRecords (bytes: Uint8Array): LeaseRecord[] {
  const corrupt = (why: string, cause?: unknown): QuorateError => new QuorateError('STORAGE_CORRUPT', `lease table snapshot: ${why}`, cause === undefined ? {} : { cause })
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    throw corrupt('not JSON text', err)
  }
  if (!Array.isArray(value)) throw corrupt('not a list of records')
  return value.map((r: Partial<Record<keyof LeaseRecord, unknown>>, i) => {
    if (typeof r !== 'object' || r === null || typeof r.name !== 'string' || (r.holder !== null && typeof r.holder !== 'string') ||
      !isCount(r.token) || !isCount(r.durationMs) || !isCount(r.version)) throw corrupt(`record ${i} is malformed`)
    return { name: r.name, holder: r.holder, token: r.token, durationMs: r.durationMs, version: r.version }
  })
}

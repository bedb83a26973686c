/**
 * TupleStateMachine: a TupleStore driven by a Raft log. Proposers encode transactions
 * with `command()` (stamped by the proposer's clock); every replica applies committed
 * commands in log order. The result depends only on the log: stamps travel inside the
 * commands, and expiry is measured in Lamport counters of applied stamps, not time.
 *
 * A command that cannot apply (malformed, or older than the horizon) yields an
 * `{ ok: false }` result rather than throwing, because a throwing state machine stops the
 * node and every replica would stop on the same entry.
 */
import { isQuorateError, QuorateError, type ErrorCode } from '../errors.js'
import type { StateMachine } from '../node/state-machine.js'
import { concatBytes } from '../util/bytes.js'
import { decodeDelta, encodeDelta, type TupleSnapshot } from './delta.js'
import type { Stamp } from './stamp.js'
import type { TupleStore } from './store.js'
import { decodeTransaction, encodeTransaction, validateUpdates, type Update } from './update.js'

export type TupleApplyResult =
  | { readonly ok: true, readonly stamp: Stamp, readonly index: number }
  | { readonly ok: false, readonly code: ErrorCode, readonly message: string, readonly index: number }

/** Snapshot streams are cut into chunks of this many bytes. */
export const SNAPSHOT_CHUNK_BYTES = 64 * 1024

export class TupleStateMachine implements StateMachine<TupleApplyResult> {
  readonly store: TupleStore

  /** `store` must be open; only this adapter should write to it. */
  constructor (store: TupleStore) {
    this.store = store
  }

  /** Encodes updates as a command for `RaftNode.propose`, stamped by this store's clock. */
  command (updates: readonly Update[]): Uint8Array {
    validateUpdates(updates)
    return encodeTransaction({ stamp: this.store.clock.tick(), updates })
  }

  async apply (command: Uint8Array, index: number): Promise<TupleApplyResult> {
    try {
      const txn = decodeTransaction(command)
      await this.store.applyTransaction(txn)
      return { ok: true, stamp: txn.stamp, index }
    } catch (err) {
      if (isQuorateError(err, 'TUPLE_INVALID') || isQuorateError(err, 'TUPLE_HORIZON_EXCEEDED')) {
        return { ok: false, code: err.code, message: err.message, index }
      }
      throw err
    }
  }

  /**
   * The store as of this call (encoded now, so later applies do not change it), in chunks.
   * The store's `version` is this replica's local change counter (a cursor for delta sync
   * between mirrors), not replicated state: a replica that restored a snapshot counts from
   * another place than one that applied the log. It is written as 0 so that replicas at one
   * index produce the same bytes.
   */
  snapshot (): AsyncIterable<Uint8Array> {
    const bytes = encodeDelta({ ...this.store.snapshot(), version: 0 })
    return (async function * () {
      for (let at = 0; at < bytes.length; at += SNAPSHOT_CHUNK_BYTES) {
        yield bytes.subarray(at, Math.min(bytes.length, at + SNAPSHOT_CHUNK_BYTES))
      }
    })()
  }

  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = []
    for await (const c of chunks) parts.push(c)
    const snapshot = decodeDelta(concatBytes(parts))
    if (!snapshot.full) throw new QuorateError('TUPLE_INVALID', 'The Raft snapshot does not hold a full tuple snapshot')
    await this.store.restoreSnapshot(snapshot as TupleSnapshot)
  }
}

/**
 * Reusable key and value buffers for appending log entries to a classic-level chained batch.
 *
 * Why it is safe: classic-level's `batch_put` / `batch_del` (binding.cc) copy the key and the
 * value into LevelDB's native WriteBatch before they return, so the JS buffers may be
 * overwritten for the next entry at once. abstract-level keeps a reference to them only when
 * the database has 'write' listeners or prewrite hooks (to publish the operations), so
 * `reusable(db)` refuses such a database; LevelStorage also uses scratch buffers only on the
 * classic-level it creates itself, never on a database the application passed in (memory-level,
 * for one, stores the buffers it is given).
 *
 * Why it matters: a 100-byte append was measured at about a tenth of its JS time in the two
 * per-entry allocations and the garbage they leave (bench/storage-append.ts, 1,024 entries).
 */
import type { Entry } from '../raft/types.js'
import { writeU64 } from '../util/bytes.js'
import { ENTRY_KEY_BYTES, ENTRY_TAG, entryValueBytes, fillEntryValue } from './codec.js'

/** What `reusable` needs to know of an abstract-level database. */
interface Observable {
  listenerCount: (event: string) => number
  readonly hooks?: unknown
}

/** True if a chained batch of `db` keeps no reference to what it is given (abstract-level's `noop` is untyped). */
export function reusable (db: Observable): boolean {
  const prewrite = (db.hooks as { readonly prewrite?: { readonly noop?: boolean } } | undefined)?.prewrite
  return db.listenerCount('write') === 0 && prewrite?.noop !== false
}

export class EntryScratch {
  readonly #key: Buffer
  readonly #at: number
  /** The last value buffer; replaced when an entry's value has another length. */
  #value: Buffer = Buffer.allocUnsafeSlow(0)

  /** `prefix`: the sublevel's key prefix on the root database. */
  constructor (prefix: Uint8Array) {
    this.#at = prefix.byteLength
    this.#key = Buffer.allocUnsafeSlow(this.#at + ENTRY_KEY_BYTES)
    this.#key.set(prefix, 0)
    this.#key[this.#at] = ENTRY_TAG
  }

  /** The root key of entry `index`, valid until the next call. */
  key (index: number): Buffer {
    writeU64(this.#key, index, this.#at + 1)
    return this.#key
  }

  /** The stored value of `entry`, valid until the next call. */
  value (entry: Entry): Buffer {
    const bytes = entryValueBytes(entry)
    if (this.#value.byteLength !== bytes) this.#value = Buffer.allocUnsafeSlow(bytes)
    return fillEntryValue(this.#value, entry)
  }
}

/**
 * ReplicatedIterator: a ReplicatedLevel iterator. It reads the local database through one
 * local iterator, created once the read barrier passed (or at once, for readMode 'local'),
 * so it sees a consistent local snapshot that includes every write committed before the
 * iterator was created. abstract-level's own busy, limit and closed checks run around it.
 *
 * Invariant: `#inner` is null exactly until `#ready` settled; a seek asked for before that
 * is remembered (the last one wins, as consecutive seeks would) and applied on creation.
 */
import { AbstractIterator } from 'abstract-level'
import type { LocalLevel } from './machine.js'
import { VIEW } from './machine.js'

/** What the local iterator is built from: abstract-level's iterator options, bounds as bytes. */
export interface RangeIteratorOptions {
  readonly gt?: Uint8Array
  readonly gte?: Uint8Array
  readonly lt?: Uint8Array
  readonly lte?: Uint8Array
  readonly reverse?: boolean
  readonly limit?: number
  readonly keys?: boolean
  readonly values?: boolean
}

type Entry = [Uint8Array, Uint8Array]
type LocalIterator = AbstractIterator<LocalLevel, Uint8Array, Uint8Array>

const SEEK_VIEW = { keyEncoding: 'view' } as const

function noop (): void {}

/** The bounds and flags of `options` the local database needs (encodings are always view). */
export function localRange (options: RangeIteratorOptions): RangeIteratorOptions {
  const out: Record<string, unknown> = {}
  for (const k of ['gt', 'gte', 'lt', 'lte'] as const) if (options[k] instanceof Uint8Array) out[k] = options[k]
  if (options.reverse !== undefined) out.reverse = options.reverse
  if (options.limit !== undefined) out.limit = options.limit
  return out
}

export class ReplicatedIterator<TDatabase> extends AbstractIterator<TDatabase, Uint8Array, Uint8Array> {
  #inner: LocalIterator | null = null
  readonly #ready: Promise<void> | null
  #seekTo: Uint8Array | null = null

  /** `barrier` null: read the local database now; else create the local iterator once it resolved. */
  constructor (db: TDatabase, options: RangeIteratorOptions, local: LocalLevel, barrier: Promise<unknown> | null) {
    super(db, options as never)
    const create = (): LocalIterator => local.iterator({
      ...localRange(options), keys: options.keys !== false, values: options.values !== false, ...VIEW
    }) as unknown as LocalIterator
    if (barrier === null) {
      this.#inner = create()
      this.#ready = null
    } else {
      this.#ready = barrier.then(() => {
        this.#inner = create()
        if (this.#seekTo !== null) this.#inner.seek(this.#seekTo, SEEK_VIEW)
        this.#seekTo = null
      })
      // A barrier that fails is reported by the next read; unread, it must not crash the process.
      this.#ready.catch(noop)
    }
  }

  /** Settles once the local iterator exists (or the barrier failed): writes wait on it. */
  get settled (): Promise<void> { return (this.#ready ?? Promise.resolve()).catch(noop) }

  async #local (): Promise<LocalIterator> {
    if (this.#ready !== null) await this.#ready
    return this.#inner!
  }

  async _next (): Promise<Entry | undefined> {
    return await (await this.#local()).next() as Entry | undefined
  }

  async _nextv (size: number): Promise<Entry[]> {
    return await (await this.#local()).nextv(size) as Entry[]
  }

  async _all (): Promise<Entry[]> {
    return await (await this.#local()).all() as Entry[]
  }

  _seek (target: Uint8Array): void {
    if (this.#inner !== null) this.#inner.seek(target, SEEK_VIEW)
    else this.#seekTo = target
  }

  async _close (): Promise<void> {
    if (this.#ready !== null) await this.#ready.catch(noop)
    await this.#inner?.close()
  }
}

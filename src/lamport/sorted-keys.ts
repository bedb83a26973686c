/**
 * A sorted set of byte-string keys: a one-level B-tree (sorted chunks of at most
 * `CHUNK_MAX` keys). Lookup is a binary search over chunk ends then within one chunk,
 * so finding a range start is O(log n) and scanning k keys from it is O(k); insert and
 * delete move at most one chunk's worth of keys.
 */
const CHUNK_MAX = 512

function lowerBoundIn (keys: readonly string[], key: string): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((keys[mid] as string) < key) lo = mid + 1
    else hi = mid
  }
  return lo
}

export class SortedKeys {
  /** Non-empty chunks, each sorted, and every key of chunk i below every key of chunk i+1. */
  #chunks: string[][] = []
  #size = 0

  get size (): number { return this.#size }

  /** Index of the first chunk whose last key is >= key (or the last chunk). */
  #chunkFor (key: string): number {
    const chunks = this.#chunks
    let lo = 0
    let hi = chunks.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const c = chunks[mid] as string[]
      if ((c[c.length - 1] as string) < key) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Adds `key`; returns false if it was already present. */
  insert (key: string): boolean {
    if (this.#chunks.length === 0) {
      this.#chunks.push([key])
      this.#size = 1
      return true
    }
    const ci = this.#chunkFor(key)
    const chunk = this.#chunks[ci] as string[]
    const at = lowerBoundIn(chunk, key)
    if (chunk[at] === key) return false
    chunk.splice(at, 0, key)
    this.#size++
    if (chunk.length > CHUNK_MAX) this.#chunks.splice(ci + 1, 0, chunk.splice(CHUNK_MAX >>> 1))
    return true
  }

  /** Removes `key`; returns false if it was absent. */
  delete (key: string): boolean {
    if (this.#chunks.length === 0) return false
    const ci = this.#chunkFor(key)
    const chunk = this.#chunks[ci] as string[]
    const at = lowerBoundIn(chunk, key)
    if (chunk[at] !== key) return false
    chunk.splice(at, 1)
    this.#size--
    if (chunk.length === 0) this.#chunks.splice(ci, 1)
    return true
  }

  has (key: string): boolean {
    if (this.#chunks.length === 0) return false
    const chunk = this.#chunks[this.#chunkFor(key)] as string[]
    return chunk[lowerBoundIn(chunk, key)] === key
  }

  /**
   * Calls `visit` for each key starting with `prefix`, in order, until it returns false.
   * The set must not be modified during the scan.
   */
  scanPrefix (prefix: string, visit: (key: string) => boolean | void): void {
    const chunks = this.#chunks
    if (chunks.length === 0) return
    let ci = this.#chunkFor(prefix)
    let i = lowerBoundIn(chunks[ci] as string[], prefix)
    for (; ci < chunks.length; ci++, i = 0) {
      const chunk = chunks[ci] as string[]
      for (; i < chunk.length; i++) {
        const key = chunk[i] as string
        if (!key.startsWith(prefix)) return
        if (visit(key) === false) return
      }
    }
  }

  clear (): void {
    this.#chunks = []
    this.#size = 0
  }
}

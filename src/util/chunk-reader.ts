/**
 * Reads exact byte counts off a stream of chunks whose boundaries mean nothing: snapshot
 * streams are re-cut by the transfer (snapshotChunkBytes) and by storage, so a reader must
 * never assume it sees the chunks the writer yielded.
 *
 * Invariant: `#pending` holds the unread tail of the last chunk pulled; bytes are returned
 * as views of the source chunks when a read fits in one, and copied only across boundaries.
 */
import { QuorateError, type ErrorCode } from '../errors.js'

const EMPTY = new Uint8Array(0)

export class ChunkStreamReader {
  readonly #it: AsyncIterator<Uint8Array>
  readonly #code: ErrorCode
  readonly #what: string
  #pending: Uint8Array = EMPTY
  #offset = 0

  /** `code` and `what` name the failure when the stream ends early ("<what>: stream ended ..."). */
  constructor (chunks: AsyncIterable<Uint8Array>, code: ErrorCode, what: string) {
    this.#it = chunks[Symbol.asyncIterator]()
    this.#code = code
    this.#what = what
  }

  /** Bytes consumed so far. */
  get offset (): number { return this.#offset }

  fail (message: string): never {
    throw new QuorateError(this.#code, `${this.#what}: ${message} at byte ${this.#offset}`)
  }

  /** Pulls the next non-empty chunk into `#pending`; false at the end of the stream. */
  async #fill (): Promise<boolean> {
    while (this.#pending.length === 0) {
      const next = await this.#it.next()
      if (next.done === true) return false
      this.#pending = next.value
    }
    return true
  }

  /** Exactly `n` bytes; fails if the stream ends first. */
  async take (n: number): Promise<Uint8Array> {
    if (n === 0) return EMPTY
    if (this.#pending.length >= n || (this.#pending.length === 0 && await this.#fill() && this.#pending.length >= n)) {
      const out = this.#pending.subarray(0, n)
      this.#pending = this.#pending.subarray(n)
      this.#offset += n
      return out
    }
    const out = new Uint8Array(n)
    let have = 0
    while (have < n) {
      if (!await this.#fill()) this.fail(`stream ended after ${have} of ${n} bytes`)
      const used = Math.min(this.#pending.length, n - have)
      out.set(this.#pending.subarray(0, used), have)
      this.#pending = this.#pending.subarray(used)
      have += used
      this.#offset += used
    }
    return out
  }

  async u8 (): Promise<number> { return (await this.take(1))[0]! }

  /** Big-endian unsigned 32-bit integer. */
  async u32 (): Promise<number> {
    const b = await this.take(4)
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0
  }

  /** True once every byte was consumed and the source has no more (non-empty) chunks. */
  async atEnd (): Promise<boolean> { return !await this.#fill() }

  /** The unread bytes as a stream, handing the source's chunks on as they come. */
  remainder (): AsyncIterable<Uint8Array> {
    const self = this
    return (async function * () {
      while (await self.#fill()) {
        const chunk = self.#pending
        self.#pending = EMPTY
        self.#offset += chunk.length
        yield chunk
      }
    })()
  }
}

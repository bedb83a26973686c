/**
 * The router's composite snapshot: one stream holding every stateful member's own stream.
 *
 *   "QSR1" | count: u8 | count × (idLength: u8, id)          header, ids sorted
 *   per member, in header order:
 *     idLength: u8, id | (length: u32 > 0, bytes)* | u32 0    section
 *
 * All integers big-endian. The header comes first so a restore can refuse a snapshot whose
 * members differ from the mounted ones before it changes any state. Members' chunks are kept
 * as they were yielded (split only above maxChunkBytes), so a member restores from the
 * chunks it wrote, while the composite stream itself may be re-cut anywhere in transit.
 */
import { ChunkStreamReader } from '../util/chunk-reader.js'
import { routePrefix } from './route-id.js'

export const SNAPSHOT_MAGIC = 0x51535231 // "QSR1"

/** The stream's header: magic, member count and every member id. */
export function encodeHeader (ids: readonly string[]): Uint8Array {
  const parts = ids.map(routePrefix)
  const out = new Uint8Array(5 + parts.reduce((n, p) => n + p.length, 0))
  new DataView(out.buffer).setUint32(0, SNAPSHOT_MAGIC)
  out[4] = ids.length
  let at = 5
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

export function u32 (n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

const END = u32(0)

/** One member's section: its id, its chunks length-prefixed (split above `maxChunkBytes`), the end mark. */
export async function * encodeSection (id: string, stream: AsyncIterable<Uint8Array>, maxChunkBytes: number): AsyncGenerator<Uint8Array> {
  yield routePrefix(id)
  for await (const chunk of stream) {
    for (let at = 0; at < chunk.length; at += maxChunkBytes) {
      const piece = chunk.subarray(at, Math.min(chunk.length, at + maxChunkBytes))
      yield u32(piece.length)
      yield piece
    }
  }
  yield END
}

async function readId (reader: ChunkStreamReader): Promise<string> {
  const length = await reader.u8()
  if (length === 0 || length > 64) reader.fail(`member id length ${length}`)
  return Buffer.from(await reader.take(length)).toString('latin1')
}

export async function decodeHeader (reader: ChunkStreamReader): Promise<string[]> {
  if (await reader.u32() !== SNAPSHOT_MAGIC) reader.fail('not a router snapshot (no QSR1 header)')
  const count = await reader.u8()
  const ids: string[] = []
  for (let i = 0; i < count; i++) ids.push(await readId(reader))
  return ids
}

/**
 * One member's section as the stream its restore() reads. The router drains whatever the
 * member leaves unread (`drain()`), so the next section starts where it should whatever the
 * member did.
 */
export class SectionReader {
  readonly #reader: ChunkStreamReader
  readonly #maxChunkBytes: number
  #ended = false

  private constructor (reader: ChunkStreamReader, maxChunkBytes: number) {
    this.#reader = reader
    this.#maxChunkBytes = maxChunkBytes
  }

  /** Reads the section's id and checks it is `expected`. */
  static async open (reader: ChunkStreamReader, expected: string, maxChunkBytes: number): Promise<SectionReader> {
    const id = await readId(reader)
    if (id !== expected) reader.fail(`section of ${JSON.stringify(id)} where ${JSON.stringify(expected)} was announced`)
    return new SectionReader(reader, maxChunkBytes)
  }

  async #next (): Promise<Uint8Array | null> {
    if (this.#ended) return null
    const length = await this.#reader.u32()
    if (length === 0) { this.#ended = true; return null }
    if (length > this.#maxChunkBytes) this.#reader.fail(`chunk of ${length} bytes is above maxChunkBytes ${this.#maxChunkBytes}`)
    return await this.#reader.take(length)
  }

  async * chunks (): AsyncGenerator<Uint8Array> {
    for (let c = await this.#next(); c !== null; c = await this.#next()) yield c
  }

  async drain (): Promise<void> {
    while (await this.#next() !== null);
  }
}


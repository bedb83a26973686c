/**
 * The level member's snapshot stream: the local database read through one iterator, in key
 * order, cut into chunks of about `chunkBytes`, so a snapshot of any size holds one chunk
 * (plus one iterator batch) in memory at a time, when written and when restored.
 *
 * Layout: `[version: u8 = 1] [u32 high, u32 low: the last applied level index]`, then per entry `[1: u8] [u32 key length] key [u32 value
 * length] value`, then `[0: u8]` to end. The end marker makes a truncated stream an error
 * instead of a silently smaller database. Lengths are fixed-width so the restore side can
 * read them off a stream cut at any byte (ChunkStreamReader) without varint backtracking.
 */
import { ChunkStreamReader } from '../util/chunk-reader.js'

const VERSION = 1
const ENTRY = 1
const END = 0

/** What the stream reads from: abstract-level's iterator, raw bytes in both positions. */
export interface EntrySource {
  nextv (size: number): Promise<Array<[Uint8Array, Uint8Array]>>
  close (): Promise<void>
}

/** What the restore writes to: abstract-level's batch, raw bytes. */
export type EntrySink = (entries: Array<[Uint8Array, Uint8Array]>) => Promise<void>

function u32 (out: Uint8Array, at: number, n: number): void {
  out[at] = n >>> 24; out[at + 1] = (n >>> 16) & 255; out[at + 2] = (n >>> 8) & 255; out[at + 3] = n & 255
}

/** Encodes entries into one chunk. */
function encodeEntries (entries: ReadonlyArray<readonly [Uint8Array, Uint8Array]>, head: number[], tail: number[]): Uint8Array {
  let size = head.length + tail.length
  for (const [k, v] of entries) size += 9 + k.length + v.length
  const out = new Uint8Array(size)
  out.set(head, 0)
  let at = head.length
  for (const [k, v] of entries) {
    out[at++] = ENTRY
    u32(out, at, k.length); out.set(k, at + 4); at += 4 + k.length
    u32(out, at, v.length); out.set(v, at + 4); at += 4 + v.length
  }
  out.set(tail, at)
  return out
}

/**
 * The stream of `source`'s entries. The source is an iterator the caller created
 * synchronously in snapshot() (it pins the database's state as of that call); it is closed
 * when the stream ends or its reader stops early.
 */
export async function * snapshotStream (source: EntrySource, lastIndex: number, chunkBytes: number, batchEntries: number): AsyncGenerator<Uint8Array> {
  try {
    const index = new Uint8Array(8)
    u32(index, 0, Math.floor(lastIndex / 0x100000000))
    u32(index, 4, lastIndex >>> 0)
    let head = [VERSION, ...index]
    let pending: Array<[Uint8Array, Uint8Array]> = []
    let pendingBytes = 0
    for (;;) {
      const batch = await source.nextv(batchEntries)
      for (const e of batch) {
        pending.push(e)
        pendingBytes += 9 + e[0].length + e[1].length
        if (pendingBytes >= chunkBytes) {
          yield encodeEntries(pending, head, [])
          head = []
          pending = []
          pendingBytes = 0
        }
      }
      if (batch.length === 0) break
    }
    yield encodeEntries(pending, head, [END])
  } finally {
    await source.close()
  }
}

/** Reads the stream's version and the last applied index it records (LEVEL_SNAPSHOT_INVALID if damaged). */
export async function readSnapshotHeader (reader: ChunkStreamReader): Promise<number> {
  const version = await reader.u8()
  if (version !== VERSION) reader.fail(`unknown version ${version}`)
  const lastIndex = (await reader.u32()) * 0x100000000 + (await reader.u32())
  if (!Number.isSafeInteger(lastIndex)) reader.fail('index above 2^53')
  return lastIndex
}

/**
 * Reads the entries after the header, handing them to `sink` in batches of about
 * `batchBytes`. Fails LEVEL_SNAPSHOT_INVALID on a bad tag, truncation or trailing bytes;
 * entries before the failure may already have been written.
 */
export async function restoreEntries (reader: ChunkStreamReader, sink: EntrySink, batchBytes: number): Promise<void> {
  let batch: Array<[Uint8Array, Uint8Array]> = []
  let bytes = 0
  for (;;) {
    const tag = await reader.u8()
    if (tag === END) break
    if (tag !== ENTRY) reader.fail(`unknown record tag ${tag}`)
    // take() may return a view of the source chunk: copy, since the batch outlives it.
    const key = (await reader.take(await reader.u32())).slice()
    const value = (await reader.take(await reader.u32())).slice()
    batch.push([key, value])
    bytes += key.length + value.length
    if (bytes >= batchBytes) {
      await sink(batch)
      batch = []
      bytes = 0
    }
  }
  if (batch.length > 0) await sink(batch)
  if (!await reader.atEnd()) reader.fail('bytes after the end marker')
}

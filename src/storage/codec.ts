/**
 * Binary keys and values LevelStorage writes. Every value carries a crc32 so that a flipped
 * bit on disk surfaces as STORAGE_CORRUPT instead of a wrong term or a wrong command.
 *
 * Keys (inside the storage's sublevel), chosen so that one range scan reads a log range:
 *   0x01 ‖ u64be index            → entry
 *   0x02                          → hard state
 *   0x03                          → snapshot pointer (generation, chunk count, meta, bytes, digest)
 *   0x04 ‖ u32be gen ‖ u32be seq   → snapshot chunk (stored and staged snapshots alike)
 *   0x05                          → staged snapshot (generation, chunk count, bytes, identity)
 *
 * Entry value: format(1) ‖ type(1) ‖ u64be term ‖ u32be crc ‖ data, where
 * crc = crc32(u64be index ‖ u64be term ‖ type ‖ data). The index lives only in the key; the
 * checksum still covers it, so a value copied under the wrong key is detected too.
 */
import { QuorateError } from '../errors.js'
import type { Entry, EntryType, HardState, SnapshotMeta } from '../raft/types.js'
import { ENTRY_TYPES } from '../raft/types.js'
import { readU32, readU64, writeU32, writeU64 } from '../util/bytes.js'
import { CRC32_TABLES as CRC_TABLE, crc32 } from './crc32.js'

export const ENTRY_TAG = 0x01
export const HARD_STATE_TAG = 0x02
export const SNAPSHOT_META_TAG = 0x03
export const SNAPSHOT_CHUNK_TAG = 0x04
export const SNAPSHOT_STAGE_TAG = 0x05

const FORMAT_VERSION = 1
const ENTRY_HEADER_BYTES = 14
const ENTRY_CRC_OFFSET = 10
const TWO_POW_32 = 0x1_0000_0000

export const ENTRY_KEY_BYTES = 9
export const HARD_STATE_KEY: Buffer = Buffer.from([HARD_STATE_TAG])
export const SNAPSHOT_META_KEY: Buffer = Buffer.from([SNAPSHOT_META_TAG])
export const SNAPSHOT_STAGE_KEY: Buffer = Buffer.from([SNAPSHOT_STAGE_TAG])

/** An entry kind's storage code is its position in ENTRY_TYPES (raft/types.ts). */
const ENTRY_TYPE_CODES = Object.fromEntries(ENTRY_TYPES.map((t, i) => [t, i])) as Readonly<Record<EntryType, number>>

function entryTypeCode (type: EntryType): number {
  return ENTRY_TYPE_CODES[type]
}

/** Writes the key of entry `index` into `key` (ENTRY_KEY_BYTES long) and returns it. */
export function fillEntryKey (key: Buffer, index: number): Buffer {
  key[0] = ENTRY_TAG
  writeU64(key, index, 1)
  return key
}

export function entryKey (index: number): Buffer {
  return fillEntryKey(Buffer.allocUnsafe(ENTRY_KEY_BYTES), index)
}

/** Index of an entry key, or -1 if the key is not a well-formed entry key. */
export function entryKeyIndex (key: Uint8Array): number {
  if (key.byteLength !== ENTRY_KEY_BYTES || key[0] !== ENTRY_TAG) return -1
  return readU64(key, 1)
}

export function corrupt (what: string, details: Record<string, unknown>, cause?: unknown): QuorateError {
  return new QuorateError('STORAGE_CORRUPT', `Stored ${what} is corrupt`, { details, cause })
}

/** Feeds the 4 bytes of `word` (big-endian) into a running (non-finalised) CRC. */
function crcWord (crc: number, word: number): number {
  crc = CRC_TABLE[(crc ^ (word >>> 24)) & 0xff]! ^ (crc >>> 8)
  crc = CRC_TABLE[(crc ^ (word >>> 16)) & 0xff]! ^ (crc >>> 8)
  crc = CRC_TABLE[(crc ^ (word >>> 8)) & 0xff]! ^ (crc >>> 8)
  return CRC_TABLE[(crc ^ word) & 0xff]! ^ (crc >>> 8)
}

/**
 * crc32(u64be index ‖ u64be term ‖ type ‖ data). The 17 header bytes go through a JS table
 * (cheaper than a second call); crc32 (crc32.ts: JS for short data, zlib for long) continues
 * the same CRC over the data.
 */
function entryChecksum (index: number, term: number, typeCode: number, data: Uint8Array): number {
  let crc = -1
  crc = crcWord(crc, Math.floor(index / TWO_POW_32))
  crc = crcWord(crc, index >>> 0)
  crc = crcWord(crc, Math.floor(term / TWO_POW_32))
  crc = crcWord(crc, term >>> 0)
  crc = CRC_TABLE[(crc ^ typeCode) & 0xff]! ^ (crc >>> 8)
  return crc32(data, (crc ^ -1) >>> 0)
}

/** Length of an entry's stored value. */
export function entryValueBytes (entry: Entry): number {
  return ENTRY_HEADER_BYTES + entry.data.byteLength
}

/** The stored value of an entry, in a fresh buffer. */
export function encodeEntry (entry: Entry): Buffer {
  return fillEntryValue(Buffer.allocUnsafe(entryValueBytes(entry)), entry)
}

/** Writes the stored value of `entry` into `value` (exactly entryValueBytes(entry) long) and returns it. */
export function fillEntryValue (value: Buffer, entry: Entry): Buffer {
  const data = entry.data
  const typeCode = entryTypeCode(entry.type)
  value[0] = FORMAT_VERSION
  value[1] = typeCode
  writeU64(value, entry.term, 2)
  writeU32(value, entryChecksum(entry.index, entry.term, typeCode, data), ENTRY_CRC_OFFSET)
  value.set(data, ENTRY_HEADER_BYTES)
  return value
}

/**
 * Decodes the value stored under entry `index`. `data` is a view into `value` (no copy);
 * throws STORAGE_CORRUPT (details.index) if the value is malformed or fails its checksum.
 */
export function decodeEntry (index: number, value: Uint8Array): Entry {
  if (value.byteLength < ENTRY_HEADER_BYTES || value[0] !== FORMAT_VERSION) {
    throw corrupt('log entry', { index, reason: 'malformed value' })
  }
  const typeCode = value[1] as number
  const type = ENTRY_TYPES[typeCode]
  const term = readU64(value, 2)
  if (type === undefined || term < 0) throw corrupt('log entry', { index, reason: 'malformed value' })
  const data = value.subarray(ENTRY_HEADER_BYTES)
  if (readU32(value, ENTRY_CRC_OFFSET) !== entryChecksum(index, term, typeCode, data)) {
    throw corrupt('log entry', { index, reason: 'checksum mismatch' })
  }
  return { term, index, type, data }
}

/** format(1) ‖ u32be crc(of the rest) ‖ body. Used for the small single-key records. */
function sealRecord (body: Buffer): Buffer {
  const value = Buffer.allocUnsafe(5 + body.byteLength)
  value[0] = FORMAT_VERSION
  writeU32(value, crc32(body), 1)
  body.copy(value, 5)
  return value
}

/** The checked body of a sealed record, or null if the header or checksum is wrong. */
function openRecord (value: Uint8Array): Buffer | null {
  if (value.byteLength < 5 || value[0] !== FORMAT_VERSION) return null
  const body = Buffer.from(value.buffer, value.byteOffset + 5, value.byteLength - 5)
  return readU32(value, 1) === crc32(body) ? body : null
}

/** hasVote(1) ‖ u64be term ‖ u64be commit ‖ vote utf8 */
export function encodeHardState (hs: HardState): Buffer {
  const vote = hs.vote === null ? null : Buffer.from(hs.vote, 'utf8')
  const body = Buffer.alloc(17 + (vote?.byteLength ?? 0))
  body[0] = vote === null ? 0 : 1
  writeU64(body, hs.term, 1)
  writeU64(body, hs.commit, 9)
  vote?.copy(body, 17)
  return sealRecord(body)
}

export function decodeHardState (value: Uint8Array): HardState {
  const body = openRecord(value)
  if (body === null || body.byteLength < 17 || body[0]! > 1) throw corrupt('hard state', { key: 'hardState' })
  const term = readU64(body, 1)
  const commit = readU64(body, 9)
  if (term < 0 || commit < 0) throw corrupt('hard state', { key: 'hardState' })
  const vote = body[0] === 1 ? body.toString('utf8', 17) : null
  return { term, vote, commit }
}

/** Where the current snapshot's chunks live, plus its meta, length and digest. */
export interface SnapshotPointer {
  readonly generation: number
  readonly chunkCount: number
  readonly meta: SnapshotMeta
  /** Bytes of the whole stream (-1 when stored by a version that did not record it). */
  readonly bytes: number
  /** SHA-256 of the whole stream; null when stored by a version that did not record it. */
  readonly digest: Uint8Array | null
}

/**
 * u32be generation ‖ u32be chunkCount ‖ JSON (small and rare: not worth a binary form). The
 * JSON is `{ meta, bytes, digest }` (digest in hex); a bare meta is the older form, without
 * length and digest, and still decodes.
 */
export function encodeSnapshotPointer (pointer: SnapshotPointer): Buffer {
  const digest = pointer.digest === null ? null : Buffer.from(pointer.digest).toString('hex')
  return sealCounted(pointer.generation, pointer.chunkCount, { meta: pointer.meta, bytes: pointer.bytes, digest })
}

export function decodeSnapshotPointer (value: Uint8Array): SnapshotPointer {
  const { generation, chunkCount, json } = openCounted(value, 'snapshot meta', 'snapshotMeta')
  if (isSnapshotMeta(json)) return { generation, chunkCount, meta: json, bytes: -1, digest: null }
  const j = json as Record<string, unknown> | null
  if (typeof j !== 'object' || j === null || !isSnapshotMeta(j.meta) || !Number.isSafeInteger(j.bytes) ||
      !(j.digest === null || isHex(j.digest))) {
    throw corrupt('snapshot meta', { key: 'snapshotMeta' })
  }
  return { generation, chunkCount, meta: j.meta, bytes: j.bytes as number, digest: j.digest === null ? null : fromHex(j.digest as string) }
}

/** The staged (incoming) snapshot: where its chunks live, how many bytes, and its identity. */
export interface StagePointer {
  readonly generation: number
  readonly chunkCount: number
  readonly bytes: number
  readonly meta: SnapshotMeta
  readonly from: string
  readonly digest: Uint8Array
}

/** u32be generation ‖ u32be chunkCount ‖ JSON { bytes, meta, from, digest (hex) }. */
export function encodeStagePointer (p: StagePointer): Buffer {
  return sealCounted(p.generation, p.chunkCount, { bytes: p.bytes, meta: p.meta, from: p.from, digest: Buffer.from(p.digest).toString('hex') })
}

export function decodeStagePointer (value: Uint8Array): StagePointer {
  const { generation, chunkCount, json } = openCounted(value, 'staged snapshot', 'snapshotStage')
  const j = json as Record<string, unknown> | null
  if (typeof j !== 'object' || j === null || !isSnapshotMeta(j.meta) || !Number.isSafeInteger(j.bytes) || (j.bytes as number) < 0 ||
      typeof j.from !== 'string' || !isHex(j.digest)) {
    throw corrupt('staged snapshot', { key: 'snapshotStage' })
  }
  return { generation, chunkCount, bytes: j.bytes as number, meta: j.meta, from: j.from, digest: fromHex(j.digest as string) }
}

function fromHex (hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

function isHex (v: unknown): v is string {
  return typeof v === 'string' && /^(?:[0-9a-f]{2})*$/.test(v)
}

function sealCounted (generation: number, chunkCount: number, json: unknown): Buffer {
  const text = Buffer.from(JSON.stringify(json), 'utf8')
  const body = Buffer.allocUnsafe(8 + text.byteLength)
  writeU32(body, generation, 0)
  writeU32(body, chunkCount, 4)
  text.copy(body, 8)
  return sealRecord(body)
}

function openCounted (value: Uint8Array, what: string, key: string): { generation: number, chunkCount: number, json: unknown } {
  const body = openRecord(value)
  if (body === null || body.byteLength < 8) throw corrupt(what, { key })
  let json: unknown
  try {
    json = JSON.parse(body.toString('utf8', 8))
  } catch (err) {
    throw corrupt(what, { key }, err)
  }
  return { generation: readU32(body, 0), chunkCount: readU32(body, 4), json }
}

function isNodeIdList (v: unknown): v is string[] {
  return Array.isArray(v) && v.every((id) => typeof id === 'string')
}

function isSnapshotMeta (v: unknown): v is SnapshotMeta {
  if (typeof v !== 'object' || v === null) return false
  const m = v as Record<string, unknown>
  const c = m.config as Record<string, unknown> | null | undefined
  return Number.isSafeInteger(m.index) && (m.index as number) >= 0 &&
    Number.isSafeInteger(m.term) && (m.term as number) >= 0 &&
    typeof c === 'object' && c !== null &&
    isNodeIdList(c.voters) && isNodeIdList(c.votersOutgoing) && isNodeIdList(c.learners)
}

export function snapshotChunkKey (generation: number, seq: number): Buffer {
  const key = Buffer.allocUnsafe(9)
  key[0] = SNAPSHOT_CHUNK_TAG
  writeU32(key, generation, 1)
  writeU32(key, seq, 5)
  return key
}

/** u32be crc(key ‖ data) ‖ data: the key is covered so a chunk cannot silently move. */
export function encodeSnapshotChunk (key: Buffer, data: Uint8Array): Buffer {
  const value = Buffer.allocUnsafe(4 + data.byteLength)
  writeU32(value, crc32(data, crc32(key)), 0)
  value.set(data, 4)
  return value
}

export function decodeSnapshotChunk (key: Buffer, value: Uint8Array): Uint8Array {
  if (value.byteLength < 4) throw corrupt('snapshot chunk', { key: key.toString('hex') })
  const data = value.subarray(4)
  if (readU32(value, 0) !== crc32(data, crc32(key))) {
    throw corrupt('snapshot chunk', { key: key.toString('hex') })
  }
  return data
}

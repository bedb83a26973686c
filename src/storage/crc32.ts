/**
 * CRC-32 as zlib computes it (reflected, polynomial 0xEDB88320), with zlib.crc32's calling
 * convention. Log entries are short (a typical command is ~100 bytes) and for them the native
 * call costs more than the checksum: measured on the storage append path, zlib.crc32 over 100
 * bytes took ~160 ns and this slicing-by-8 loop ~70 ns; above SHORT_BYTES the native code
 * (several bytes per cycle) wins, so longer data goes there.
 */
import * as zlib from 'node:zlib'

/**
 * zlib.crc32 came with Node 20.15: read off the namespace (a named import of a missing export
 * would fail to link on an older Node 20), with the table loop for all lengths without it.
 */
const nativeCrc32: ((data: Uint8Array, value?: number) => number) | undefined =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (zlib as { crc32: (data: Uint8Array, value?: number) => number }).crc32 : undefined

/** Inputs up to this length are checksummed in JS; longer ones by zlib. */
export const SHORT_BYTES = 256

/**
 * Eight 256-entry tables: TABLES[k * 256 + b] is the CRC contribution of byte b followed by k
 * zero bytes, so eight input bytes are folded with eight lookups. TABLES[0..255] is the
 * classic byte-at-a-time table.
 */
export const CRC32_TABLES: Int32Array = (() => {
  const t = new Int32Array(256 * 8)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = t[(k - 1) * 256 + n]!
      t[k * 256 + n] = t[prev & 0xff]! ^ (prev >>> 8)
    }
  }
  return t
})()

/** The CRC-32 of `data` continuing from `value` (a previous result, 0 to start), as zlib.crc32. */
export function crc32 (data: Uint8Array, value = 0): number {
  if (data.byteLength > SHORT_BYTES && nativeCrc32 !== undefined) return nativeCrc32(data, value)
  const t = CRC32_TABLES
  let crc = ~value
  const end = data.byteLength
  let i = 0
  for (; i + 8 <= end; i += 8) {
    const low = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) ^ crc
    crc = t[1792 + (low & 0xff)]! ^ t[1536 + ((low >>> 8) & 0xff)]! ^ t[1280 + ((low >>> 16) & 0xff)]! ^ t[1024 + (low >>> 24)]! ^
      t[768 + data[i + 4]!]! ^ t[512 + data[i + 5]!]! ^ t[256 + data[i + 6]!]! ^ t[data[i + 7]!]!
  }
  for (; i < end; i++) crc = t[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8)
  return ~crc >>> 0
}

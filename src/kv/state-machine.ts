/**
 * The deterministic key-value store the simulator replicates with Raft. Its `apply` results
 * are `KvOutput`s, exactly what `kvModel` expects, so a simulated client can record them
 * straight into a history for `checkLinearizability(kvModel, ...)`.
 *
 * `apply` never throws: a command that does not decode, or an index that does not increase,
 * returns `{ op: 'error' }` (which the model rejects, so the checker reports it).
 *
 * Snapshot layout: magic "QKV1", applied index (f64), entry count (u32), then per entry in
 * key order the key and the value (u32 byte length + UTF-8 each), split into chunks of about
 * `snapshotChunkBytes`.
 */
import { QuorateError, isQuorateError } from '../errors.js'
import type { StateMachine } from '../node/state-machine.js'
import { checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { decodeKvCommand } from './command.js'
import { ByteReader, ByteWriter } from '../util/bytes.js'
import { kvTransition } from './semantics.js'
import type { KvInput, KvOutput } from './semantics.js'

export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 64 * 1024

export interface KvStateMachineOptions {
  /** Target size of one snapshot chunk (a chunk may be larger by one entry). @default DEFAULT_SNAPSHOT_CHUNK_BYTES (65 536) */
  snapshotChunkBytes?: number
}

export function validateKvStateMachineOptions (options: KvStateMachineOptions): void {
  checkObject(options, 'KvStateMachine', '(options)')
  checkKnownKeys(options, 'KvStateMachine', ['snapshotChunkBytes'] satisfies Array<keyof KvStateMachineOptions>)
  if (options.snapshotChunkBytes !== undefined) {
    checkInt(options.snapshotChunkBytes, 'KvStateMachine', 'snapshotChunkBytes', 1)
  }
}

const MAGIC = 0x514b5631 // "QKV1"

export class KvStateMachine implements StateMachine<KvOutput> {
  #data = new Map<string, string>()
  #appliedIndex = 0
  readonly #chunkBytes: number

  constructor (options: KvStateMachineOptions = {}) {
    validateKvStateMachineOptions(options)
    this.#chunkBytes = options.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES
  }

  /** Index of the last applied command (or of the restored snapshot); 0 before any. */
  get appliedIndex (): number { return this.#appliedIndex }

  /** Number of keys with a value. */
  get size (): number { return this.#data.size }

  /** A key's value, or null. For inspection; reads in a workload go through `apply`. */
  get (key: string): string | null { return this.#data.get(key) ?? null }

  /** Every key and value, sorted by key (so two replicas can be compared). */
  entries (): Array<[string, string]> {
    return [...this.#data.entries()].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
  }

  apply (command: Uint8Array, index: number): KvOutput {
    if (!Number.isSafeInteger(index) || index <= this.#appliedIndex) {
      return { op: 'error', message: `index ${String(index)} applied after index ${this.#appliedIndex}` }
    }
    this.#appliedIndex = index
    let input: KvInput
    try {
      input = decodeKvCommand(command)
    } catch (err) {
      return { op: 'error', message: (err as Error).message }
    }
    const current = this.#data.get(input.key) ?? null
    const { value, output } = kvTransition(current, input)
    if (value !== current) {
      if (value === null) this.#data.delete(input.key)
      else this.#data.set(input.key, value)
    }
    return output
  }

  /** The state as of this call: later applies do not change a snapshot being read. */
  snapshot (): AsyncIterable<Uint8Array> {
    return encodeSnapshot(this.entries(), this.#appliedIndex, this.#chunkBytes)
  }

  /** Replaces the state; rejects with STORAGE_CORRUPT (state unchanged) if the chunks do not decode. */
  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = []
    let total = 0
    for await (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array)) throw new QuorateError('STORAGE_CORRUPT', 'KvStateMachine snapshot chunk is not a Uint8Array')
      parts.push(chunk)
      total += chunk.length
    }
    const bytes = new Uint8Array(total)
    let offset = 0
    for (const part of parts) { bytes.set(part, offset); offset += part.length }
    const { data, appliedIndex } = decodeSnapshot(bytes)
    this.#data = data
    this.#appliedIndex = appliedIndex
  }
}

async function * encodeSnapshot (entries: Array<[string, string]>, appliedIndex: number, chunkBytes: number): AsyncGenerator<Uint8Array> {
  const w = new ByteWriter()
  w.u32(MAGIC)
  w.f64(appliedIndex)
  w.u32(entries.length)
  for (const [key, value] of entries) {
    w.utf8(key)
    w.utf8(value)
    if (w.length >= chunkBytes) yield w.take()
  }
  if (w.length > 0) yield w.take()
}

function decodeSnapshot (bytes: Uint8Array): { data: Map<string, string>, appliedIndex: number } {
  const corrupt = (message: string, cause?: unknown): QuorateError =>
    new QuorateError('STORAGE_CORRUPT', `KvStateMachine snapshot: ${message}`, cause === undefined ? {} : { cause })
  try {
    // Truncation and bad UTF-8 surface as WIRE_MALFORMED, reworded below.
    const r = new ByteReader(bytes, 'WIRE_MALFORMED')
    if (r.u32() !== MAGIC) throw corrupt('bad magic')
    const appliedIndex = r.f64()
    if (!Number.isSafeInteger(appliedIndex) || appliedIndex < 0) throw corrupt(`bad applied index ${appliedIndex}`)
    const count = r.u32()
    const data = new Map<string, string>()
    for (let i = 0; i < count; i++) {
      const key = r.utf8()
      if (data.has(key)) throw corrupt(`duplicate key ${JSON.stringify(key)}`)
      data.set(key, r.utf8())
    }
    if (r.remaining !== 0) throw corrupt(`${r.remaining} trailing bytes`)
    return { data, appliedIndex }
  } catch (err) {
    if (!isQuorateError(err, 'WIRE_MALFORMED')) throw err
    throw corrupt(err.message, err)
  }
}

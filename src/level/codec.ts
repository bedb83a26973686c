/**
 * The level member's command codec: every write a ReplicatedLevel makes (put, del, an atomic
 * batch, a range clear) is one command, so one Raft entry, applied whole or not at all on
 * every replica. Keys and values are raw bytes (the database's encodings run before this).
 *
 * Layout: `[op: u8]` then, per op,
 *   put   `chunk(key) chunk(value)`
 *   del   `chunk(key)`
 *   batch `varint(n)` then n times `[put|del: u8] chunk(key) [chunk(value)]`
 *   clear `[flags: u8] varint(limit + 1)` then `chunk(bound)` for each flag set, in the
 *         order gt, gte, lt, lte (flag bits 1, 2, 4, 8; bit 16 = reverse)
 * where chunk is a varint length and the bytes (src/util/bytes.ts).
 */
import { QuorateError } from '../errors.js'
import { ByteReader, ByteWriter } from '../util/bytes.js'

const OP_PUT = 1
const OP_DEL = 2
const OP_BATCH = 3
const OP_CLEAR = 4

const BOUNDS = ['gt', 'gte', 'lt', 'lte'] as const
const REVERSE = 16

export type LevelBatchOp =
  | { readonly type: 'put', readonly key: Uint8Array, readonly value: Uint8Array }
  | { readonly type: 'del', readonly key: Uint8Array }

/** A range as abstract-level's clear() takes it, bounds already encoded; limit -1 = no limit. */
export interface LevelRange {
  readonly gt?: Uint8Array
  readonly gte?: Uint8Array
  readonly lt?: Uint8Array
  readonly lte?: Uint8Array
  readonly reverse: boolean
  readonly limit: number
}

export type LevelCommand =
  | { readonly op: 'put', readonly key: Uint8Array, readonly value: Uint8Array }
  | { readonly op: 'del', readonly key: Uint8Array }
  | { readonly op: 'batch', readonly ops: readonly LevelBatchOp[] }
  | { readonly op: 'clear', readonly range: LevelRange }

function invalid (message: string): QuorateError {
  return new QuorateError('LEVEL_COMMAND_INVALID', `level command: ${message}`)
}

function bytes (value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalid(`${what} must be a Uint8Array`)
  return value
}

export function encodeLevelCommand (command: LevelCommand): Uint8Array {
  const w = new ByteWriter(64)
  switch (command.op) {
    case 'put':
      w.byte(OP_PUT)
      w.chunk(bytes(command.key, 'put key'))
      w.chunk(bytes(command.value, 'put value'))
      break
    case 'del':
      w.byte(OP_DEL)
      w.chunk(bytes(command.key, 'del key'))
      break
    case 'batch':
      w.byte(OP_BATCH)
      w.varint(command.ops.length)
      for (const op of command.ops) {
        if (op.type === 'put') {
          w.byte(OP_PUT)
          w.chunk(bytes(op.key, 'batch put key'))
          w.chunk(bytes(op.value, 'batch put value'))
        } else if (op.type === 'del') {
          w.byte(OP_DEL)
          w.chunk(bytes(op.key, 'batch del key'))
        } else {
          throw invalid(`unknown batch operation type ${JSON.stringify((op as { type: unknown }).type)}`)
        }
      }
      break
    case 'clear': {
      const r = command.range
      if (!Number.isSafeInteger(r.limit) || r.limit < -1) throw invalid(`clear limit must be an integer >= -1 (got ${String(r.limit)})`)
      let flags = r.reverse ? REVERSE : 0
      BOUNDS.forEach((b, i) => { if (r[b] !== undefined) flags |= 1 << i })
      w.byte(OP_CLEAR)
      w.byte(flags)
      w.varint(r.limit + 1)
      for (const b of BOUNDS) if (r[b] !== undefined) w.chunk(bytes(r[b], `clear ${b}`))
      break
    }
    default:
      throw invalid(`unknown operation ${JSON.stringify((command as { op: unknown }).op)}`)
  }
  // A copy of exactly the written bytes: the writer's buffer is larger.
  return w.finish().slice()
}

/** Decodes a command; throws LEVEL_COMMAND_INVALID for anything encodeLevelCommand cannot produce. */
export function decodeLevelCommand (data: Uint8Array): LevelCommand {
  const r = new ByteReader(data, 'LEVEL_COMMAND_INVALID')
  const op = r.byte()
  let command: LevelCommand
  switch (op) {
    case OP_PUT: command = { op: 'put', key: r.chunk(), value: r.chunk() }; break
    case OP_DEL: command = { op: 'del', key: r.chunk() }; break
    case OP_BATCH: {
      const n = r.varint()
      // Each operation takes at least 2 bytes: a count beyond that is corrupt, not a huge batch.
      if (n > data.length) r.fail(`batch of ${n} operations in ${data.length} bytes`)
      const ops: LevelBatchOp[] = []
      for (let i = 0; i < n; i++) {
        const type = r.byte()
        if (type === OP_PUT) ops.push({ type: 'put', key: r.chunk(), value: r.chunk() })
        else if (type === OP_DEL) ops.push({ type: 'del', key: r.chunk() })
        else r.fail(`batch operation type ${type}`)
      }
      command = { op: 'batch', ops }
      break
    }
    case OP_CLEAR: {
      const flags = r.byte()
      if ((flags & ~(REVERSE | 15)) !== 0) r.fail(`clear flags ${flags}`)
      const range: { -readonly [K in keyof LevelRange]: LevelRange[K] } = { reverse: (flags & REVERSE) !== 0, limit: r.varint() - 1 }
      BOUNDS.forEach((b, i) => { if ((flags & (1 << i)) !== 0) range[b] = r.chunk() })
      command = { op: 'clear', range }
      break
    }
    default:
      return r.fail(`operation ${op}`)
  }
  r.end()
  return command
}

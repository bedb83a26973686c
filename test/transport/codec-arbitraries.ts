/**
 * fast-check arbitraries for wire frames and the bridge to protobufjs's object shape, shared
 * by the codec, framing, fuzz and benchmark code.
 */
import fc from 'fast-check'
import { ENTRY_TYPES } from '../../src/transport/codec.js'
import { MESSAGE_TYPES, type Entry, type Message, type SnapshotChunk } from '../../src/raft/types.js'
import type { WireFrame } from '../../src/transport/codec.js'

const counter = fc.oneof(fc.constant(0), fc.nat(1000), fc.nat(), fc.maxSafeNat())
const nodeId = fc.oneof(fc.constantFrom('n1', 'n2', 'node-3', ''), fc.string({ maxLength: 12, unit: 'grapheme' }))
const bytes = fc.uint8Array({ maxLength: 64 })

export const entryArb: fc.Arbitrary<Entry> = fc.record({
  term: counter, index: counter, type: fc.constantFrom(...ENTRY_TYPES), data: bytes
})

const ids = fc.array(nodeId, { maxLength: 4 })

export const snapshotArb: fc.Arbitrary<SnapshotChunk> = fc.record({
  meta: fc.record({
    index: counter,
    term: counter,
    config: fc.record({ voters: ids, votersOutgoing: ids, learners: ids })
  }),
  offset: counter,
  data: bytes,
  done: fc.boolean(),
  digest: bytes
})

export const messageArb: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom(...MESSAGE_TYPES),
  from: nodeId,
  to: nodeId,
  term: counter,
  logTerm: counter,
  index: counter,
  commit: counter,
  entries: fc.array(entryArb, { maxLength: 4 }),
  reject: fc.boolean(),
  rejectHint: counter,
  context: counter,
  snapshot: fc.option(snapshotArb, { nil: null, freq: 4 })
})

export const frameArb: fc.Arbitrary<WireFrame> = fc.oneof(
  fc.record({
    kind: fc.constant('raft' as const),
    version: fc.constant(1),
    clusterId: nodeId,
    sender: nodeId,
    messages: fc.array(messageArb, { maxLength: 4 })
  }),
  fc.record({
    kind: fc.constant('hello' as const), version: fc.constant(1), clusterId: nodeId, sender: nodeId, to: nodeId
  })
)

/** Replaces byte arrays by number arrays so that deep equality ignores Buffer vs Uint8Array. */
export function plain (value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value)
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  }
  return value
}

/** The object protobufjs's `Frame.fromObject` takes for `frame`. */
export function toProtobufObject (frame: WireFrame): Record<string, unknown> {
  const header = { version: frame.version, clusterId: frame.clusterId, sender: frame.sender }
  if (frame.kind === 'hello') return { ...header, hello: { to: frame.to } }
  return {
    ...header,
    raft: {
      messages: frame.messages.map((m) => ({
        type: MESSAGE_TYPES.indexOf(m.type),
        from: m.from,
        to: m.to,
        term: m.term,
        logTerm: m.logTerm,
        index: m.index,
        commit: m.commit,
        entries: m.entries.map((e) => ({ term: e.term, index: e.index, type: ENTRY_TYPES.indexOf(e.type), data: e.data })),
        reject: m.reject,
        rejectHint: m.rejectHint,
        context: m.context,
        snapshot: m.snapshot === null ? null : m.snapshot
      }))
    }
  }
}

interface PbEntry { term: number, index: number, type: number, data: Uint8Array }
interface PbMessage {
  type: number, from: string, to: string, term: number, logTerm: number, index: number, commit: number,
  entries: PbEntry[], reject: boolean, rejectHint: number, context: number,
  snapshot: { meta: { index: number, term: number, config: { voters: string[], votersOutgoing: string[], learners: string[] } }, offset: number, data: Uint8Array, done: boolean, digest: Uint8Array } | null
}

/** The WireFrame for what protobufjs's `Frame.toObject(decoded, TO_OBJECT)` returned. */
export function fromProtobufObject (o: Record<string, any>): WireFrame {
  const header = { version: o.version as number, clusterId: o.clusterId as string, sender: o.sender as string }
  if (o.hello != null) return { kind: 'hello', ...header, to: o.hello.to }
  return {
    kind: 'raft',
    ...header,
    messages: (o.raft.messages as PbMessage[]).map((m) => ({
      type: MESSAGE_TYPES[m.type]!,
      from: m.from,
      to: m.to,
      term: m.term,
      logTerm: m.logTerm,
      index: m.index,
      commit: m.commit,
      entries: m.entries.map((e) => ({ term: e.term, index: e.index, type: ENTRY_TYPES[e.type]!, data: e.data })),
      reject: m.reject,
      rejectHint: m.rejectHint,
      context: m.context,
      snapshot: m.snapshot === null
        ? null
        : {
            meta: {
              index: m.snapshot.meta?.index ?? 0,
              term: m.snapshot.meta?.term ?? 0,
              config: m.snapshot.meta?.config ?? { voters: [], votersOutgoing: [], learners: [] }
            },
            offset: m.snapshot.offset,
            data: m.snapshot.data,
            done: m.snapshot.done,
            digest: m.snapshot.digest
          }
    }))
  }
}

/** protobufjs toObject options that give plain numbers and every default. */
export const TO_OBJECT = { longs: Number, enums: Number, defaults: true, arrays: true } as const

/** An AppendEntries batch of `count` entries of `size` bytes: the benchmark's message. */
export function appendFrame (count: number, size: number): WireFrame {
  const data = new Uint8Array(size).fill(7)
  const entries: Entry[] = []
  for (let i = 0; i < count; i++) entries.push({ term: 5, index: 1000 + i, type: 'command', data })
  return {
    kind: 'raft',
    version: 1,
    clusterId: '',
    sender: '',
    messages: [{
      type: 'append', from: 'n1', to: 'n2', term: 5, logTerm: 5, index: 999, commit: 990,
      entries, reject: false, rejectHint: 0, context: 0, snapshot: null
    }]
  }
}

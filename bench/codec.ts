/**
 * Round trip (encode + decode) of one AppendEntries frame with 64 entries of 100 bytes:
 * quorate's hand-written codec against plain protobufjs reflection (`Type.encode/decode` of
 * the same proto/quorate.proto). Prints ops/s and the quorate/protobufjs ratio and writes
 * bench/results/codec.json.
 *
 *   npm run build && node dist/bench/codec.js
 */
import b from 'benny'
import protobuf from 'protobufjs'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeFrame, encodeFrame } from '../src/transport/codec.js'
import { appendFrame, toProtobufObject } from '../test/transport/codec-arbitraries.js'

const ENTRIES = 64
const ENTRY_BYTES = 100

const root = fileURLToPath(new URL('../..', import.meta.url))
const Frame = protobuf.loadSync(join(root, 'proto', 'quorate.proto')).lookupType('quorate.wire.v1.Frame')
const frame = appendFrame(ENTRIES, ENTRY_BYTES)
const pbMessage = Frame.fromObject(toProtobufObject(frame))
let sink = 0

const summary = await b.suite(
  `codec round trip: AppendEntries, ${ENTRIES} entries x ${ENTRY_BYTES} bytes`,
  b.add('quorate codec', () => {
    const decoded = decodeFrame(encodeFrame(frame))
    sink += decoded.kind === 'raft' ? decoded.messages[0]!.entries.length : 0
  }),
  b.add('protobufjs reflection', () => {
    const decoded = Frame.decode(Frame.encode(pbMessage).finish()) as unknown as { raft: { messages: Array<{ entries: unknown[] }> } }
    sink += decoded.raft.messages[0]!.entries.length
  }),
  b.cycle(),
  b.complete()
)

const ops = (name: string): number => summary.results.find((r) => r.name === name)?.ops ?? Number.NaN
const ratio = ops('quorate codec') / ops('protobufjs reflection')
console.log(`quorate/protobufjs round-trip ratio: ${ratio.toFixed(2)}x (sink ${sink > 0 ? 'ok' : 'empty'})`)

const resultsDir = join(root, 'bench', 'results')
mkdirSync(resultsDir, { recursive: true })
writeFileSync(join(resultsDir, 'codec.json'), JSON.stringify({
  name: summary.name,
  date: summary.date,
  node: process.version,
  message: { type: 'append', entries: ENTRIES, entryBytes: ENTRY_BYTES, encodedBytes: encodeFrame(frame).length },
  results: summary.results.map((r) => ({ name: r.name, ops: r.ops, margin: r.margin, samples: r.samples })),
  ratio
}, null, 2) + '\n')

/**
 * RaftLog (src/raft/log.ts): leader-side append of 1 and 64 entries, follower-side
 * maybeAppend of 64 entries, and range reads (slice) of 64 entries of 100 bytes out of a
 * 100,000-entry log, as the core uses them for AppendEntries. Writes bench/results/log.json.
 *
 *   npm run build && node dist/bench/log.js
 */
import b from 'benny'
import { RaftLog } from '../src/raft/log.js'
import type { Entry } from '../src/raft/types.js'
import { writeBennyResult } from './measure.js'

const LOG_ENTRIES = 100_000
const BATCH = 64
const payload = new Uint8Array(100).fill(7)
const entry = (index: number): Entry => ({ term: 1, index, type: 'command', data: payload })

function filledLog (): RaftLog {
  const log = new RaftLog([], 0, 0, 0)
  const all: Entry[] = []
  for (let i = 1; i <= LOG_ENTRIES; i++) all.push(entry(i))
  log.append(all)
  return log
}

/** A log that is reset before it grows past LOG_ENTRIES, so every case sees the same size. */
function appender (batch: number): () => void {
  let log = new RaftLog([], 0, 0, 0)
  const entries: Entry[] = new Array(batch)
  return () => {
    const next = log.lastIndex() + 1
    if (next > LOG_ENTRIES) log = new RaftLog([], 0, 0, 0)
    const first = log.lastIndex() + 1
    for (let i = 0; i < batch; i++) entries[i] = entry(first + i)
    log.append(entries)
  }
}

function followerAppender (): () => void {
  let log = new RaftLog([], 0, 0, 0)
  const entries: Entry[] = new Array(BATCH)
  return () => {
    if (log.lastIndex() + BATCH > LOG_ENTRIES) log = new RaftLog([], 0, 0, 0)
    const prev = log.lastIndex()
    for (let i = 0; i < BATCH; i++) entries[i] = entry(prev + 1 + i)
    if (log.maybeAppend(prev, log.term(prev), entries) < 0) throw new Error('maybeAppend refused')
  }
}

const readLog = filledLog()
let cursor = 1
let sink = 0

const summary = await b.suite(
  `RaftLog append and range read (${BATCH} x 100-byte entries, ${LOG_ENTRIES}-entry log)`,
  b.add('append 1 entry (leader)', appender(1)),
  b.add(`append ${BATCH} entries (leader)`, appender(BATCH)),
  b.add(`maybeAppend ${BATCH} entries (follower)`, followerAppender()),
  b.add(`slice ${BATCH} entries (range read for an append)`, () => {
    cursor = cursor + BATCH > LOG_ENTRIES ? 1 : cursor + BATCH
    sink += readLog.slice(cursor, cursor + BATCH, 1024 * 1024).length
  }),
  b.add('term lookup', () => { sink += readLog.term((cursor * 7919) % LOG_ENTRIES + 1) }),
  b.cycle(),
  b.complete()
)
console.log(`(sink ${sink > 0 ? 'ok' : 'empty'})`)
writeBennyResult('log', summary)

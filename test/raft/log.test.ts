/**
 * RaftLog keeps the cursor invariants of its header through its own methods: a snapshot is
 * installed through one call, and the commit rule cannot be broken from outside.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RaftLog } from '../../src/raft/log.js'
import type { Entry } from '../../src/raft/types.js'
import { EMPTY_BYTES } from '../../src/raft/types.js'

function entries (from: number, terms: readonly number[]): Entry[] {
  return terms.map((term, i) => ({ index: from + i, term, type: 'command', data: EMPTY_BYTES }))
}

function cursors (log: RaftLog): Record<string, number> {
  return {
    snapshotIndex: log.snapshotIndex, committed: log.committed, applied: log.applied,
    handed: log.handed, durable: log.durable, last: log.lastIndex(), truncateFrom: log.truncateFrom
  }
}

test('installSnapshot keeps the entries after a snapshot the log agrees with (§7)', () => {
  const log = new RaftLog(entries(1, [1, 1, 2, 2, 2]), 0, 0, 2)
  log.installSnapshot(3, 2)
  assert.equal(cursors(log), { snapshotIndex: 3, committed: 3, applied: 3, handed: 5, durable: 5, last: 5, truncateFrom: 0 })
  assert.is(log.term(4), 2)
})

test('installSnapshot discards a log that disagrees with the snapshot and tells storage to drop what it holds', () => {
  const log = new RaftLog(entries(1, [1, 1, 1, 1]), 0, 0, 1)
  log.installSnapshot(3, 2)
  assert.equal(cursors(log), { snapshotIndex: 3, committed: 3, applied: 3, handed: 3, durable: 3, last: 3, truncateFrom: 4 })
  assert.equal(log.unstable(), [])
})

test('installSnapshot beyond the end of the log leaves nothing for storage to drop', () => {
  const log = new RaftLog(entries(1, [1, 1]), 0, 0, 1)
  log.installSnapshot(10, 3)
  assert.equal(cursors(log), { snapshotIndex: 10, committed: 10, applied: 10, handed: 10, durable: 10, last: 10, truncateFrom: 0 })
  assert.is(log.lastTerm(), 3)
})

test('installSnapshot refuses a snapshot at or below the commit index (the cursors never move back)', () => {
  const log = new RaftLog(entries(1, [1, 1, 1]), 0, 0, 2)
  assert.throws(() => { log.installSnapshot(2, 1) }, /invariant violated/)
  assert.is(log.committed, 2)
})

test('truncate refuses committed entries and has no way to force it', () => {
  const log = new RaftLog(entries(1, [1, 1, 1]), 0, 0, 2)
  assert.throws(() => { log.truncate(2) }, /invariant violated/)
  assert.is(RaftLog.prototype.truncate.length, 1)
  log.truncate(3)
  assert.is(log.lastIndex(), 2)
  assert.is(log.truncateFrom, 3)
})

test('the cursors cannot be assigned from outside the log', () => {
  const log = new RaftLog(entries(1, [1]), 0, 0, 1)
  assert.throws(() => { (log as unknown as { committed: number }).committed = 0 }, TypeError)
})

test('markApplying refuses to apply beyond what is committed and durable', () => {
  const log = new RaftLog(entries(1, [1, 1]), 0, 0, 1)
  assert.throws(() => { log.markApplying(2) }, /invariant violated/)
  log.markApplying(1)
  assert.is(log.applied, 1)
})

test.run()

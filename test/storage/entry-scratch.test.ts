/**
 * LevelStorage reuses one key and one value buffer entry after entry on the classic-level it
 * creates (entry-scratch.ts): every entry of a batch must still be stored with its own key and
 * bytes, whatever the sizes, and a database that would keep the buffers is never given them.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryLevel } from 'memory-level'
import { LevelStorage } from '../../src/storage/level-storage.js'
import { EntryScratch, reusable } from '../../src/storage/entry-scratch.js'
import { encodeEntry } from '../../src/storage/codec.js'
import { assertEntriesEqual, makeEntries } from '../../src/testing/storage-conformance.js'

test('a classic-level storage reads back every entry of batches written through the reused buffers', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-scratch-'))
  try {
    const storage = new LevelStorage({ location: dir })
    await storage.open()
    // Sizes change within and between batches, so the value buffer is both reused and replaced.
    const written = [...makeEntries(1, 300, 1, 100), ...makeEntries(301, 50, 1, 7), ...makeEntries(351, 20, 1, 100)]
    await storage.write({ hardState: null, entries: written.slice(0, 320) })
    await storage.write({ hardState: null, entries: written.slice(320) })
    // A shorter conflicting suffix: the deletes of 361..370 go through the reused key too.
    const replaced = makeEntries(341, 20, 2, 30)
    await storage.write({ hardState: { term: 2, vote: null, commit: 0 }, truncateFrom: 341, entries: replaced })
    await storage.close()
    const reopened = new LevelStorage({ location: dir })
    await reopened.open()
    const { entries } = await reopened.load()
    await reopened.close()
    assertEntriesEqual(entries, [...written.slice(0, 340), ...replaced])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('the scratch buffers encode exactly what encodeEntry does, entry after entry', () => {
  const prefix = Buffer.from('!raft!')
  const scratch = new EntryScratch(prefix)
  for (const entry of [...makeEntries(1, 3, 1, 100), ...makeEntries(2 ** 40, 2, 9, 3)]) {
    assert.equal(scratch.value(entry), encodeEntry(entry))
    const key = scratch.key(entry.index)
    assert.equal(key.subarray(0, prefix.length), prefix)
    assert.is(key.readBigUInt64BE(prefix.length + 1), BigInt(entry.index))
  }
})

test('a database with write listeners or prewrite hooks is not given reused buffers', async () => {
  const db = new MemoryLevel()
  assert.ok(reusable(db))
  const listener = (): void => {}
  db.on('write', listener)
  assert.not.ok(reusable(db), 'a write listener keeps the operations it is told about')
  db.off('write', listener)
  db.hooks.prewrite.add(() => {})
  assert.not.ok(reusable(db), 'a prewrite hook sees the operations')
  await db.close()
})

test.run()

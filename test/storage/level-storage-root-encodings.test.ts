/**
 * LevelStorage's append and compaction paths write on the root database, with encoding
 * options only when the root's defaults are not buffers: every kind of root stores the same
 * bytes under the same keys, and a reopened storage loads what was written.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { LevelStorage } from '../../src/storage/level-storage.js'
import { assertEntriesEqual, makeEntries } from '../../src/testing/storage-conformance.js'

type AnyDb = MemoryLevel<any, any> // eslint-disable-line @typescript-eslint/no-explicit-any

async function rawPairs (db: AnyDb): Promise<string[]> {
  const sub = db.sublevel<Buffer, Buffer>('raft', { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  const out: string[] = []
  for await (const [k, v] of sub.iterator()) out.push(`${k.toString('hex')}=${v.toString('hex')}`)
  return out
}

async function appendTwice (db: AnyDb): Promise<void> {
  const storage = new LevelStorage({ db })
  await storage.open()
  await storage.write({ hardState: { term: 2, vote: 'n1', commit: 0 }, entries: makeEntries(1, 20, 1, 40) })
  // Overwrites a suffix with a shorter one: the deletes go through the same options.
  await storage.write({ hardState: null, truncateFrom: 15, entries: makeEntries(15, 3, 2, 40) })
  // Compacts 1..10 away: the compaction deletes go through the same root keys and options.
  async function * chunks (): AsyncGenerator<Uint8Array> { yield Uint8Array.of(1, 2, 3) }
  await storage.saveSnapshot({ index: 10, term: 1, config: { voters: ['n1'], votersOutgoing: [], learners: [] } }, chunks())
  await storage.close()
}

test('roots with buffer, utf8 and json defaults hold the same keys and values after the same writes', async () => {
  const buffers: AnyDb = new MemoryLevel({ keyEncoding: 'buffer', valueEncoding: 'buffer' })
  const strings: AnyDb = new MemoryLevel()
  // json would turn a Buffer value into {"type":"Buffer",...} if the puts went without options.
  const json: AnyDb = new MemoryLevel({ valueEncoding: 'json' })
  for (const db of [buffers, strings, json]) await appendTwice(db)
  const a = await rawPairs(buffers)
  assert.is(a.length, 7 + 1 + 2, 'entries 11..17, the hard state, the snapshot pointer and its one chunk')
  assert.equal(await rawPairs(strings), a)
  assert.equal(await rawPairs(json), a)
})

test('a storage on a buffer-default root reloads its log after reopening', async () => {
  const db: AnyDb = new MemoryLevel({ keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await appendTwice(db)
  const storage = new LevelStorage({ db })
  await storage.open()
  const state = await storage.load()
  assert.is(state.hardState.term, 2)
  assert.is(state.snapshot?.index, 10)
  assertEntriesEqual(state.entries, [...makeEntries(11, 4, 1, 40), ...makeEntries(15, 3, 2, 40)])
  assertEntriesEqual(await storage.entries(15, 18), makeEntries(15, 3, 2, 40))
  await storage.close()
})

test.run()

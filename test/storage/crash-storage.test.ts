import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import { CrashStorage, validateCrashStorageOptions } from '../../src/testing/crash-storage.js'
import { assertEntriesEqual, assertRejectsWith, makeEntries } from '../../src/testing/storage-conformance.js'
import { SeededRandom } from '../../src/util/random.js'

const CONFIG = { voters: ['n1'], votersOutgoing: [], learners: [] }

async function opened (storage = new CrashStorage()): Promise<CrashStorage> {
  await storage.open()
  return storage
}

async function restart (storage: CrashStorage): Promise<CrashStorage> {
  return await opened(storage.crash())
}

async function * chunks (...sizes: number[]): AsyncGenerator<Uint8Array> {
  for (const size of sizes) yield new Uint8Array(size)
}

test('a crash loses every write made after the last sync', async () => {
  const disk = await opened()
  await disk.write({ hardState: { term: 1, vote: 'n1', commit: 0 }, entries: makeEntries(1, 3, 1) })
  await disk.write({ hardState: { term: 2, vote: null, commit: 0 }, entries: makeEntries(4, 2, 2) }, { sync: false })
  assert.is(disk.unsyncedWrites, 1)
  assert.is((await disk.load()).entries.length, 5, 'unsynced writes are readable before the crash')
  const after = await restart(disk)
  const state = await after.load()
  assert.equal(state.hardState, { term: 1, vote: 'n1', commit: 0 })
  assertEntriesEqual(state.entries, makeEntries(1, 3, 1))
  await after.write({ hardState: null, entries: makeEntries(4, 1, 3) })
})

test('a sync makes earlier unsynced writes durable too, in order', async () => {
  const disk = await opened()
  await disk.write({ hardState: null, entries: makeEntries(1, 5, 1) }, { sync: false })
  await disk.write({ hardState: null, truncateFrom: 4, entries: makeEntries(4, 1, 2) }, { sync: false })
  await disk.write({ hardState: { term: 2, vote: 'n1', commit: 3 }, entries: [] }, { sync: true })
  assert.is(disk.unsyncedWrites, 0)
  const state = await (await restart(disk)).load()
  assertEntriesEqual(state.entries, [...makeEntries(1, 3, 1), ...makeEntries(4, 1, 2)])
  assert.equal(state.hardState, { term: 2, vote: 'n1', commit: 3 })
})

test('an unsynced snapshot is lost in a crash and the old log comes back', async () => {
  const disk = await opened()
  await disk.write({ hardState: null, entries: makeEntries(1, 6, 1) })
  await disk.saveSnapshot({ index: 4, term: 1, config: CONFIG }, chunks(3), { sync: false })
  assert.is((await disk.load()).entries[0]?.index, 5)
  const after = await restart(disk)
  assert.is(await after.loadSnapshot(), null)
  assert.is((await after.load()).entries.length, 6)
})

test('the crashed instance refuses every call', async () => {
  const disk = await opened()
  disk.crash()
  await assertRejectsWith(disk.load(), 'NODE_NOT_OPEN')
  await assertRejectsWith(disk.write({ hardState: null, entries: [] }), 'NODE_NOT_OPEN')
  await assertRejectsWith(disk.open(), 'NODE_NOT_OPEN')
})

test('failNextSync rejects that sync with the given cause, changes nothing and stops all later writes', async () => {
  const disk = await opened()
  await disk.write({ hardState: null, entries: makeEntries(1, 2, 1) })
  await disk.write({ hardState: null, entries: makeEntries(3, 1, 1) }, { sync: false })
  const cause = new Error('EIO')
  disk.failNextSync(cause)
  const err = await assertRejectsWith(disk.write({ hardState: null, entries: makeEntries(4, 1, 1) }), 'STORAGE_WRITE_FAILED')
  assert.is(err.cause, cause)
  assert.is((await disk.load()).entries.length, 3)
  await assertRejectsWith(disk.write({ hardState: null, entries: makeEntries(4, 1, 1) }, { sync: false }), 'STORAGE_WRITE_FAILED')
  await assertRejectsWith(disk.saveSnapshot({ index: 2, term: 1, config: CONFIG }, chunks(1)), 'STORAGE_WRITE_FAILED')
  const after = await restart(disk)
  assert.is((await after.load()).entries.length, 2, 'neither the failed batch nor the unsynced one survive')
  await after.write({ hardState: null, entries: makeEntries(3, 1, 1) })
})

test('sync failures drawn from a seeded random replay identically', async () => {
  async function failuresFor (seed: number): Promise<number> {
    const disk = await opened(new CrashStorage({ random: new SeededRandom(seed), syncFailureProbability: 0.2 }))
    for (let i = 1; i <= 100; i++) {
      try {
        await disk.write({ hardState: null, entries: makeEntries(i, 1, 1) })
      } catch (err) {
        assert.ok(isQuorateError(err, 'STORAGE_WRITE_FAILED'))
        return i
      }
    }
    return -1
  }
  const first = await failuresFor(7)
  assert.ok(first > 0, 'a 20% failure rate fails within 100 syncs')
  assert.is(await failuresFor(7), first)
})

test('corruptEntry makes reads covering that entry reject STORAGE_CORRUPT, across a crash, until it is rewritten', async () => {
  const disk = await opened()
  await disk.write({ hardState: null, entries: makeEntries(1, 5, 1) })
  disk.corruptEntry(3)
  const err = await assertRejectsWith(disk.load(), 'STORAGE_CORRUPT')
  assert.is(err.info?.index, 3)
  await assertRejectsWith(disk.entries(2, 4), 'STORAGE_CORRUPT')
  assertEntriesEqual(await disk.entries(4, 6), makeEntries(4, 2, 1))
  const after = await restart(disk)
  await assertRejectsWith(after.entries(3, 4), 'STORAGE_CORRUPT')
  await after.write({ hardState: null, truncateFrom: 3, entries: makeEntries(3, 1, 2) })
  assert.is((await after.load()).entries.length, 3)
  assert.throws(() => after.corruptEntry(9))
})

test('effects are visible synchronously, before the returned promise settles', async () => {
  const disk = await opened()
  const pending = disk.write({ hardState: null, entries: makeEntries(1, 1, 1) }, { sync: false })
  assert.is(disk.unsyncedWrites, 1)
  await pending
})

test('invalid options throw OPTIONS_INVALID naming the field', () => {
  for (const [options, field] of [
    [{ syncFailureProbability: 2 }, 'syncFailureProbability'],
    [{ syncFailureProbability: 0.5 }, 'options.random']
  ] as const) {
    try {
      validateCrashStorageOptions(options)
      assert.unreachable(field)
    } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'))
      assert.ok((err as Error).message.includes(field))
    }
  }
})

test.run()

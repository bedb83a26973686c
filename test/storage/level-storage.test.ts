import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { isQuorateError } from '../../src/errors.js'
import { LevelStorage, validateLevelStorageOptions } from '../../src/storage/level-storage.js'
import { SNAPSHOT_CHUNK_TAG, entryKey } from '../../src/storage/codec.js'
import { assertEntriesEqual, assertRejectsWith, makeEntries } from '../../src/testing/storage-conformance.js'

type Db = MemoryLevel<string, string>

function raw (db: Db, name = 'raft'): ReturnType<typeof sublevelOf> {
  return sublevelOf(db, name)
}

function sublevelOf (db: Db, name: string) {
  return db.sublevel<Buffer, Buffer>(name, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
}

async function storageWith (entries: number, db: Db = new MemoryLevel()): Promise<{ db: Db, storage: LevelStorage }> {
  const storage = new LevelStorage({ db })
  await storage.open()
  if (entries > 0) await storage.write({ hardState: { term: 1, vote: 'n1', commit: 0 }, entries: makeEntries(1, entries, 1, 32) })
  return { db, storage }
}

async function * chunks (...sizes: number[]): AsyncGenerator<Uint8Array> {
  for (const size of sizes) yield new Uint8Array(size).fill(size & 0xff)
}

async function flipByte (db: Db, index: number, offset: number): Promise<void> {
  const sub = raw(db)
  const value = Buffer.from((await sub.get(entryKey(index)))!)
  value[offset] = (value[offset] as number) ^ 0x40
  await sub.put(entryKey(index), value)
}

test('a flipped data byte makes load() and entries() covering it reject STORAGE_CORRUPT with the index', async () => {
  const { db, storage } = await storageWith(5)
  await flipByte(db, 3, 20)
  const err = await assertRejectsWith(storage.load(), 'STORAGE_CORRUPT')
  assert.is(err.info?.index, 3)
  await assertRejectsWith(storage.entries(1, 6), 'STORAGE_CORRUPT')
  assertEntriesEqual(await storage.entries(1, 3), makeEntries(1, 2, 1, 32))
  assertEntriesEqual(await storage.entries(4, 6), makeEntries(4, 2, 1, 32))
  await storage.close()
})

test('a flipped term byte or a truncated value is detected as corruption', async () => {
  const { db, storage } = await storageWith(5)
  await flipByte(db, 2, 9)
  await assertRejectsWith(storage.entries(2, 3), 'STORAGE_CORRUPT')
  await raw(db).put(entryKey(4), Buffer.from([1, 0, 0]))
  const err = await assertRejectsWith(storage.entries(4, 5), 'STORAGE_CORRUPT')
  assert.is(err.info?.index, 4)
  await storage.close()
})

test('an entry value stored under another index fails its checksum', async () => {
  const { db, storage } = await storageWith(5)
  const sub = raw(db)
  await sub.put(entryKey(2), (await sub.get(entryKey(3)))!)
  const err = await assertRejectsWith(storage.entries(2, 3), 'STORAGE_CORRUPT')
  assert.is(err.info?.index, 2)
  await storage.close()
})

test('a missing entry in the middle of the log is reported as corruption, not a short read', async () => {
  const { db, storage } = await storageWith(6)
  await raw(db).del(entryKey(4))
  const fromLoad = await assertRejectsWith(storage.load(), 'STORAGE_CORRUPT')
  assert.is(fromLoad.info?.index, 4)
  await assertRejectsWith(storage.entries(2, 6), 'STORAGE_CORRUPT')
  await storage.close()
})

test('a corrupt hard state or snapshot record rejects STORAGE_CORRUPT', async () => {
  const { db, storage } = await storageWith(3)
  const sub = raw(db)
  const hardState = Buffer.from((await sub.get(Buffer.from([0x02])))!)
  hardState[hardState.length - 1]! ^= 1
  await sub.put(Buffer.from([0x02]), hardState)
  await assertRejectsWith(storage.load(), 'STORAGE_CORRUPT')
  await storage.saveSnapshot({ index: 2, term: 1, config: { voters: ['n1'], votersOutgoing: [], learners: [] } }, chunks(10))
  await sub.put(Buffer.from([0x03]), Buffer.from([1, 2, 3, 4, 5, 6]))
  await assertRejectsWith(storage.loadSnapshot(), 'STORAGE_CORRUPT')
  await storage.close()
})

test('a damaged snapshot chunk rejects STORAGE_CORRUPT while streaming', async () => {
  const { db, storage } = await storageWith(3)
  await storage.saveSnapshot({ index: 2, term: 1, config: { voters: ['n1'], votersOutgoing: [], learners: [] } }, chunks(10, 20))
  const sub = raw(db)
  const keys = await sub.keys({ gte: Buffer.from([SNAPSHOT_CHUNK_TAG]), lt: Buffer.from([SNAPSHOT_CHUNK_TAG + 1]) }).all()
  assert.is(keys.length, 2)
  const value = Buffer.from((await sub.get(keys[1]!))!)
  value[6]! ^= 1
  await sub.put(keys[1]!, value)
  const loaded = await storage.loadSnapshot()
  await assertRejectsWith((async () => { for await (const _ of loaded!.chunks) { /* drain */ } })(), 'STORAGE_CORRUPT')
  await storage.close()
})

/** A memory-level whose commits throw while `failWrites` is set (as a full disk would). */
function failingLevel (): { db: Db, setFailing: (on: boolean) => void } {
  const db: Db = new MemoryLevel()
  const internals = db as unknown as { _batch: (ops: unknown, options: unknown) => Promise<void> }
  const original = internals._batch.bind(db)
  let failing = false
  internals._batch = async (ops, options) => {
    if (failing) throw new Error('disk full')
    return await original(ops, options)
  }
  return { db, setFailing: (on) => { failing = on } }
}

test('a failed write rejects STORAGE_WRITE_FAILED with its cause and every later write is refused', async () => {
  const { db, setFailing } = failingLevel()
  const { storage } = await storageWith(3, db)
  setFailing(true)
  const err = await assertRejectsWith(storage.write({ hardState: null, entries: makeEntries(4, 1, 1, 32) }), 'STORAGE_WRITE_FAILED')
  assert.is((err.cause as Error).message, 'disk full')
  setFailing(false)
  await assertRejectsWith(storage.write({ hardState: null, entries: makeEntries(4, 1, 1, 32) }), 'STORAGE_WRITE_FAILED')
  await assertRejectsWith(storage.saveSnapshot({ index: 3, term: 1, config: { voters: ['n1'], votersOutgoing: [], learners: [] } }, chunks(1)), 'STORAGE_WRITE_FAILED')
  assert.is((await storage.load()).entries.length, 3)
  await storage.close()
  await storage.open()
  await storage.write({ hardState: null, entries: makeEntries(4, 1, 1, 32) })
  assert.is((await storage.load()).entries.length, 4)
  await storage.close()
})

/** The configuration of the snapshots these tests save. */
const config = { voters: ['n1'], votersOutgoing: [], learners: [] }

/** A storage with 10 entries whose snapshot saves commit a staging batch every 16 bytes (so every chunk is its own batch). */
async function tinyBatchStorage (): Promise<{ db: Db, storage: LevelStorage }> {
  const db: Db = new MemoryLevel()
  const storage = new LevelStorage({ db, snapshotBatchBytes: 16 })
  await storage.open()
  await storage.write({ hardState: null, entries: makeEntries(1, 10, 1) })
  return { db, storage }
}

test('a snapshot whose chunk source fails midway leaves the old snapshot whole, and reopening removes the staged chunks', async () => {
  const { db, storage } = await tinyBatchStorage()
  await storage.saveSnapshot({ index: 3, term: 1, config }, chunks(7, 8))
  async function * failing (): AsyncGenerator<Uint8Array> {
    yield new Uint8Array(20)
    yield new Uint8Array(20)
    throw new Error('source broke')
  }
  const err = await assertRejectsWith(storage.saveSnapshot({ index: 8, term: 1, config }, failing()), 'STORAGE_WRITE_FAILED')
  assert.is((err.cause as Error).message, 'source broke')
  const sub = raw(db)
  const chunkRange = { gte: Buffer.from([SNAPSHOT_CHUNK_TAG]), lt: Buffer.from([SNAPSHOT_CHUNK_TAG + 1]) }
  assert.ok((await sub.keys(chunkRange).all()).length > 2, 'staged chunks were written before the failure')
  const loaded = await storage.loadSnapshot()
  assert.equal(loaded?.meta, { index: 3, term: 1, config })
  const data: number[] = []
  for await (const c of loaded!.chunks) data.push(c.byteLength)
  assert.equal(data, [7, 8])
  assert.is((await storage.load()).entries[0]?.index, 4)
  // The failure was in the source, not the disk: the storage still takes writes.
  await storage.write({ hardState: null, entries: makeEntries(11, 1, 1) })
  await storage.close()
  const again = new LevelStorage({ db })
  await again.open()
  assert.is((await sub.keys(chunkRange).all()).length, 2)
  assert.is((await again.load()).entries.length, 8)
  await again.close()
})

test('log writes do not wait behind a snapshot whose chunks are still streaming', async () => {
  const { storage } = await tinyBatchStorage()
  let landed = 'no'
  // The stream holds its last chunk until a write made meanwhile has resolved: a storage that
  // queued the write behind the whole save would deadlock here, hence the bound.
  async function * held (): AsyncGenerator<Uint8Array> {
    yield new Uint8Array(40).fill(1)
    const write = storage.write({ hardState: { term: 1, vote: null, commit: 10 }, entries: makeEntries(11, 3, 1) })
    let timer: NodeJS.Timeout | undefined
    landed = await Promise.race([write.then(() => 'yes'), new Promise<string>((resolve) => { timer = setTimeout(() => { resolve('still queued after 2 s') }, 2000) })])
    clearTimeout(timer)
    yield new Uint8Array(40).fill(2)
  }
  await storage.saveSnapshot({ index: 8, term: 1, config }, held())
  assert.is(landed, 'yes')
  const state = await storage.load()
  assert.equal(state.snapshot, { index: 8, term: 1, config })
  assert.equal(state.entries.map((e) => e.index), [9, 10, 11, 12, 13])
  await storage.close()
})

test('a save whose meta is overtaken while it streams is refused at the switch and removes its chunks', async () => {
  const { db, storage } = await tinyBatchStorage()
  const id = { meta: { index: 9, term: 1, config }, from: 'n2', digest: new Uint8Array(32) }
  async function * overtaken (): AsyncGenerator<Uint8Array> {
    yield new Uint8Array(40)
    // A newer snapshot is installed meanwhile (the node never does this; a direct caller may).
    await storage.stageSnapshotChunk(id, 0, Uint8Array.of(9))
    await storage.installStagedSnapshot()
    yield new Uint8Array(40)
  }
  await assertRejectsWith(storage.saveSnapshot({ index: 5, term: 1, config }, overtaken()), 'STORAGE_INVALID_RANGE')
  assert.equal((await storage.loadSnapshot())?.meta, { index: 9, term: 1, config })
  const chunkRange = { gte: Buffer.from([SNAPSHOT_CHUNK_TAG]), lt: Buffer.from([SNAPSHOT_CHUNK_TAG + 1]) }
  assert.is((await raw(db).keys(chunkRange).all()).length, 1, 'only the installed snapshot\'s chunk is left')
  await storage.close()
})

test('two storages share one database under different sublevels without touching other keys', async () => {
  const db: Db = new MemoryLevel()
  await db.put('app-key', 'app-value')
  const a = new LevelStorage({ db, sublevel: 'node-a' })
  const b = new LevelStorage({ db, sublevel: 'node-b' })
  await Promise.all([a.open(), b.open()])
  await a.write({ hardState: { term: 1, vote: 'a', commit: 0 }, entries: makeEntries(1, 3, 1) })
  await b.write({ hardState: { term: 2, vote: 'b', commit: 0 }, entries: makeEntries(1, 5, 2) })
  await a.write({ hardState: null, truncateFrom: 1, entries: makeEntries(1, 1, 3) })
  assertEntriesEqual((await a.load()).entries, makeEntries(1, 1, 3))
  assertEntriesEqual((await b.load()).entries, makeEntries(1, 5, 2))
  await Promise.all([a.close(), b.close()])
  assert.is(db.status, 'open', 'a user database stays open')
  assert.is(await db.get('app-key'), 'app-value')
})

test('concurrent writes apply in call order', async () => {
  const { storage } = await storageWith(0)
  const writes: Array<Promise<void>> = []
  for (let i = 0; i < 50; i++) writes.push(storage.write({ hardState: null, entries: makeEntries(i * 4 + 1, 4, 1) }, { sync: false }))
  writes.push(storage.write({ hardState: null, truncateFrom: 101, entries: makeEntries(101, 1, 2) }))
  await Promise.all(writes)
  assertEntriesEqual((await storage.load()).entries, [...makeEntries(1, 100, 1), ...makeEntries(101, 1, 2)])
  await storage.close()
})

test('a write queued behind another when close() starts rejects NODE_CLOSED; the first one lands', async () => {
  const { storage } = await storageWith(0)
  const first = storage.write({ hardState: null, entries: makeEntries(1, 1, 1) })
  const second = storage.write({ hardState: null, entries: makeEntries(2, 1, 1) })
  const closing = storage.close()
  await first
  await assertRejectsWith(second, 'NODE_CLOSED')
  await closing
  await storage.open()
  assert.is((await storage.load()).entries.length, 1)
  await storage.close()
})

test('open() with an aborted signal rejects ABORTED and leaves the storage closed', async () => {
  const storage = new LevelStorage({ db: new MemoryLevel() })
  const controller = new AbortController()
  controller.abort()
  await assertRejectsWith(storage.open({ signal: controller.signal }), 'ABORTED')
  assert.is(storage.status, 'closed')
  await storage.open()
  assert.is(storage.status, 'open')
  await storage.close()
})

test('entries() rejects a non-positive maxBytes with OPTIONS_INVALID', async () => {
  const { storage } = await storageWith(2)
  await assertRejectsWith(storage.entries(1, 2, { maxBytes: 0 }), 'OPTIONS_INVALID')
  await storage.close()
})

test('invalid options throw OPTIONS_INVALID naming the field', () => {
  const cases: Array<[unknown, string]> = [
    [{}, 'options.db'],
    [{ db: new MemoryLevel(), location: '/tmp/x' }, 'options.location'],
    [{ db: {} }, 'options.db'],
    [{ location: '' }, 'options.location'],
    [{ db: new MemoryLevel(), sublevel: 'a!b' }, 'options.sublevel'],
    [{ db: new MemoryLevel(), snapshotBatchBytes: 0 }, 'options.snapshotBatchBytes']
  ]
  for (const [options, field] of cases) {
    try {
      validateLevelStorageOptions(options as never)
      assert.unreachable(`accepted ${field}`)
    } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'))
      assert.ok((err as Error).message.includes(field), (err as Error).message)
    }
  }
})

test.run()

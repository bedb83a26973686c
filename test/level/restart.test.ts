/**
 * A LevelStateMachine on disk (classic-level) resumes at the applied index it stored with its
 * data instead of being rebuilt at every start: the node's startup restore of a snapshot it
 * already covers writes nothing, replayed commands are not applied twice (one by one or in
 * an applyBatch, which writes all of its batch or none of it), and anything that
 * could leave the database at an unknown index (an interrupted restore, an older layout)
 * makes the next open clear it, as before.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { LevelStateMachine, ReplicatedLevel, encodeLevelCommand } from '../../src/level/index.js'
import type { LocalLevel } from '../../src/level/index.js'
import { StateMachineRouter } from '../../src/sm/router.js'
import { RaftNode } from '../../src/node/node.js'
import { LevelStorage } from '../../src/storage/level-storage.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { isQuorateError } from '../../src/errors.js'

/**
 * A classic-level database as the machine takes it (cast: TypeScript finds ClassicLevel's
 * hook types incompatible with AbstractLevel<any, any, any> in this position).
 */
function classic (dir: string): LocalLevel { return new ClassicLevel(dir) as unknown as LocalLevel }

const directories: string[] = []
async function freshDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-level-restart-'))
  directories.push(dir)
  return dir
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const put = (k: string, v: string): Uint8Array => encodeLevelCommand({ op: 'put', key: bytes(k), value: bytes(v) })
const UTF8 = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const

/** A classic-level database that counts the writes reaching it (sublevels write through it). */
function counted (dir: string): { db: LocalLevel, writes: () => number } {
  const db = classic(dir)
  let n = 0
  for (const method of ['put', 'del', 'batch', 'clear'] as const) {
    const original = (db[method] as (...a: unknown[]) => unknown).bind(db)
    ;(db as unknown as Record<string, unknown>)[method] = (...a: unknown[]) => { n++; return original(...a) }
  }
  return { db, writes: () => n }
}

async function collect (chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const out: Uint8Array[] = []
  for await (const c of chunks) out.push(c)
  return Buffer.concat(out)
}

async function * once (b: Uint8Array): AsyncGenerator<Uint8Array> { yield b }

async function contents (m: LevelStateMachine): Promise<Array<[string, string]>> {
  return await m.data.iterator(UTF8).all() as unknown as Array<[string, string]>
}

test('a reopened machine resumes at its stored applied index with its data, and skips replayed commands', async () => {
  const dir = await freshDir()
  const first = new LevelStateMachine({ db: classic(dir) })
  await first.apply(put('a', '1'), 3)
  await first.apply(put('b', '2'), 5)
  await first.apply(encodeLevelCommand({ op: 'clear', range: { gte: bytes('b'), reverse: false, limit: -1 } }), 6)
  await first.apply(put('c', '3'), 7)
  await first.close()
  const again = new LevelStateMachine({ db: classic(dir) })
  await again.open()
  assert.is(again.lastIndex, 7)
  assert.equal(await contents(again), [['a', '1'], ['c', '3']])
  // The node replays its log from its snapshot: entries 4..7 were applied already.
  assert.is(await again.apply(put('a', 'replayed'), 5), null)
  assert.is(await again.apply(put('d', '4'), 8), null)
  assert.equal(await contents(again), [['a', '1'], ['c', '3'], ['d', '4']])
  assert.is(again.lastIndex, 8)
  await again.close()
})

test('the startup restore of a snapshot the resumed database covers writes nothing; a newer snapshot rebuilds it', async () => {
  const source = new LevelStateMachine({ db: classic(await freshDir()) })
  await source.apply(put('x', 'old'), 4)
  const older = await collect(source.snapshot())
  await source.apply(put('y', 'new'), 9)
  const newer = await collect(source.snapshot())
  await source.close()

  const dir = await freshDir()
  const first = new LevelStateMachine({ db: classic(dir) })
  await first.restore(once(older))
  await first.apply(put('z', 'mine'), 6)
  await first.close()

  const covered = counted(dir)
  const resumed = new LevelStateMachine({ db: covered.db })
  await resumed.open()
  const before = covered.writes()
  await resumed.restore(once(older))
  assert.is(covered.writes(), before, 'no write for a snapshot at level index 4 <= 6')
  assert.equal(await contents(resumed), [['x', 'old'], ['z', 'mine']])
  await resumed.close()

  const behind = counted(dir)
  const rebuilt = new LevelStateMachine({ db: behind.db })
  await rebuilt.open()
  await rebuilt.restore(once(newer))
  assert.ok(behind.writes() > 0)
  assert.equal(await contents(rebuilt), [['x', 'old'], ['y', 'new']], 'level index 9 > 6: replaced')
  assert.is(rebuilt.lastIndex, 9)
  // Only the startup restore is skipped: a later one always replaces the state.
  await rebuilt.restore(once(older))
  assert.equal(await contents(rebuilt), [['x', 'old']])
  await rebuilt.close()
})

test('a batch is one local write with its applied index; a reopened machine resumes after it and skips the replayed part of a batch', async () => {
  const dir = await freshDir()
  const { db, writes } = counted(dir)
  const first = new LevelStateMachine({ db })
  await first.open()
  const before = writes()
  const bad = Uint8Array.of(0xff)
  const results = await first.applyBatch([put('a', '1'), bad, put('b', '2'), encodeLevelCommand({ op: 'del', key: bytes('a') }), put('c', '3')], 3)
  assert.is(writes() - before, 1, 'the five commands and the applied index went into one write')
  assert.equal(results.map((r) => r === null ? null : (r as { code?: string }).code), [null, 'LEVEL_COMMAND_INVALID', null, null, null])
  assert.is(first.lastIndex, 7)
  await first.close()
  const again = new LevelStateMachine({ db: classic(dir) })
  await again.open()
  assert.is(again.lastIndex, 7)
  assert.equal(await contents(again), [['b', '2'], ['c', '3']])
  // The node replays from its snapshot: a batch over 6..9 applies only 8 and 9.
  assert.equal(await again.applyBatch([put('b', 'replayed'), put('c', 'replayed'), put('d', '4'), put('e', '5')], 6), [null, null, null, null])
  assert.equal(await contents(again), [['b', '2'], ['c', '3'], ['d', '4'], ['e', '5']])
  assert.is(again.lastIndex, 9)
  await again.close()
})

test('a batch whose local write fails leaves none of it: the reopened machine resumes before the batch', async () => {
  const dir = await freshDir()
  const db = classic(dir)
  const m = new LevelStateMachine({ db })
  await m.apply(put('a', '1'), 1)
  // A crash at the write: the batch's ops never reach the database.
  ;(db as unknown as { _batch: () => Promise<void> })._batch = async () => { throw new Error('disk gone') }
  let caught: unknown
  try { await m.applyBatch([put('b', '2'), put('c', '3'), put('a', 'changed')], 2) } catch (err) { caught = err }
  assert.ok(caught instanceof Error, 'a failing local write throws (the node stops)')
  await m.close()
  const again = new LevelStateMachine({ db: classic(dir) })
  await again.open()
  assert.is(again.lastIndex, 1)
  assert.equal(await contents(again), [['a', '1']])
  await again.close()
})

test('a clear inside a batch: the ops before it are written first, the ops after it after the clear', async () => {
  const dir = await freshDir()
  const m = new LevelStateMachine({ db: classic(dir) })
  const clear = encodeLevelCommand({ op: 'clear', range: { reverse: false, limit: -1 } })
  assert.equal(await m.applyBatch([put('a', '1'), put('b', '2'), clear, put('c', '3')], 1), [null, null, null, null])
  assert.is(m.lastIndex, 4)
  await m.close()
  const again = new LevelStateMachine({ db: classic(dir) })
  await again.open()
  assert.is(again.lastIndex, 4)
  assert.equal(await contents(again), [['c', '3']])
  await again.close()
})

test('a restore that fails half way leaves no applied index, so the next open clears the database', async () => {
  const source = new LevelStateMachine({ db: classic(await freshDir()), snapshotChunkBytes: 16 })
  for (let i = 0; i < 50; i++) await source.apply(put(`k${String(i).padStart(2, '0')}`, 'v'.repeat(20)), i + 1)
  const good = await collect(source.snapshot())
  await source.close()
  const dir = await freshDir()
  const m = new LevelStateMachine({ db: classic(dir), restoreBatchBytes: 64 })
  let caught: unknown
  try { await m.restore(once(good.subarray(0, good.length - 10))) } catch (err) { caught = err }
  assert.ok(isQuorateError(caught, 'LEVEL_SNAPSHOT_INVALID'))
  assert.ok((await contents(m)).length > 0, 'some entries were written before the failure')
  await m.close()
  const again = new LevelStateMachine({ db: classic(dir) })
  await again.open()
  assert.is(again.lastIndex, 0)
  assert.equal(await contents(again), [])
  await again.close()
})

test('a database without an applied index (written by an older version, data at its root) is cleared on open', async () => {
  const dir = await freshDir()
  const old = new ClassicLevel<string, string>(dir)
  await old.put('a', '1')
  await old.close()
  const m = new LevelStateMachine({ db: classic(dir) })
  await m.open()
  assert.is(m.lastIndex, 0)
  assert.equal(await m.db.keys().all(), ['!meta!applied'], 'only the machine\'s own index is left')
  await m.close()
})

test('a one-node ReplicatedLevel on disk restarts without rebuilding its local database and keeps serving', async () => {
  const raftDir = await freshDir()
  const levelDir = await freshDir()
  const net = new MemoryNetwork()
  const start = async (db: LocalLevel): Promise<{ node: RaftNode, level: ReplicatedLevel, machine: LevelStateMachine }> => {
    const router = new StateMachineRouter()
    const route = router.mount('level', new LevelStateMachine({ db }))
    const node = new RaftNode({ id: 'n1', voters: ['n1'], storage: new LevelStorage({ location: raftDir }), transport: net.transport('n1'), stateMachine: router, snapshotEntries: 40, snapshotKeepEntries: 0, tickMs: 5 })
    await node.open()
    await node.waitForLeader()
    const level = new ReplicatedLevel({ node, route })
    await level.open()
    return { node, level, machine: route.machine }
  }
  const first = await start(classic(levelDir))
  for (let i = 0; i < 100; i++) await first.level.put(`key${String(i).padStart(3, '0')}`, `value${i}`)
  assert.ok(first.node.status().appliedIndex > 100)
  await first.level.close()
  await first.node.close()
  await first.machine.close()

  const { db, writes } = counted(levelDir)
  const second = await start(db)
  // The node restored its snapshot (at an index of 80 or more) and replayed the rest of its log.
  assert.is(writes(), 0, 'nothing was written to the local database at restart')
  assert.is(await second.level.get('key099'), 'value99')
  assert.is((await second.level.keys().all()).length, 100)
  await second.level.put('after', 'restart')
  assert.is(await second.level.get('after'), 'restart')
  assert.is(writes(), 1)
  await second.level.close()
  await second.node.close()
  await second.machine.close()
  await net.close()
})

test.after(async () => {
  await Promise.all(directories.map(async (d) => await rm(d, { recursive: true, force: true })))
})

test.run()

import { test } from 'uvu'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryLevel } from 'memory-level'
import { LevelStorage, type LevelStorageOptions } from '../../src/storage/level-storage.js'
import type { RaftStorage } from '../../src/storage/storage.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { storageConformance } from '../../src/testing/storage-conformance.js'

/** create() makes new durable data; reopen() builds a LevelStorage over the same data. */
function levelBackend (name: string, freshData: () => Promise<LevelStorageOptions>): void {
  const dataOf = new WeakMap<RaftStorage, LevelStorageOptions>()
  const storageOver = (options: LevelStorageOptions): LevelStorage => {
    const storage = new LevelStorage(options)
    dataOf.set(storage, options)
    return storage
  }
  storageConformance(test, {
    name,
    create: async () => storageOver(await freshData()),
    reopen: async (previous) => storageOver(dataOf.get(previous) as LevelStorageOptions)
  })
}

const directories: string[] = []

levelBackend('LevelStorage on memory-level', async () => ({ db: new MemoryLevel() }))

levelBackend('LevelStorage on classic-level', async () => {
  const location = await mkdtemp(join(tmpdir(), 'quorate-storage-'))
  directories.push(location)
  return { location }
})

storageConformance(test, {
  name: 'CrashStorage',
  create: async () => new CrashStorage(),
  reopen: async (previous) => (previous as CrashStorage).crash()
})

test.after(async () => {
  await Promise.all(directories.map(async (d) => await rm(d, { recursive: true, force: true })))
})

test.run()

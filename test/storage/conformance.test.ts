import { test } from 'uvu'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryLevel } from 'memory-level'
import { LevelStorage } from '../../src/raft/level-storage.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { storageConformance } from '../../src/testing/storage-conformance.js'

const databases = new WeakMap<LevelStorage, MemoryLevel>()

storageConformance(test, {
  name: 'LevelStorage on memory-level',
  create: async () => {
    const db = new MemoryLevel()
    const storage = new LevelStorage({ db })
    databases.set(storage, db)
    return storage
  },
  reopen: async (previous) => {
    const db = databases.get(previous as LevelStorage) as MemoryLevel
    const storage = new LevelStorage({ db })
    databases.set(storage, db)
    return storage
  }
})

const directories: string[] = []
const locations = new WeakMap<LevelStorage, string>()

storageConformance(test, {
  name: 'LevelStorage on classic-level',
  create: async () => {
    const location = await mkdtemp(join(tmpdir(), 'quorate-storage-'))
    directories.push(location)
    const storage = new LevelStorage({ location })
    locations.set(storage, location)
    return storage
  },
  reopen: async (previous) => {
    const location = locations.get(previous as LevelStorage) as string
    const storage = new LevelStorage({ location })
    locations.set(storage, location)
    return storage
  }
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

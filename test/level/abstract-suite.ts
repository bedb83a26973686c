/**
 * Runs abstract-level's own test suite (`abstract-level/test`, CommonJS, written for tape)
 * against ReplicatedLevel through the tape shim, one uvu test per tape test. After each test
 * the clusters of databases it closed are shut down (a database opened in one test may be
 * used by the next, as the suite's setup and tearDown tests do); the rest at the end.
 */
import { createRequire } from 'node:module'
import { suite } from 'uvu'
import { ClusterLevel, LevelCluster } from './level-cluster.js'
import { tapeOnUvu } from './tape-shim.js'
import type { TapeCounts } from './tape-shim.js'

const require = createRequire(import.meta.url)
const abstractSuite = require('abstract-level/test') as (options: { test: unknown, factory: (options?: object) => unknown }) => void

export function runAbstractLevelSuite (name: string, size: number): void {
  const counts: TapeCounts = { tests: 0, assertions: 0 }
  let live: Array<ClusterLevel<unknown, unknown>> = []
  const shutDown = async (which: (db: ClusterLevel<unknown, unknown>) => boolean): Promise<void> => {
    const done = live.filter(which)
    live = live.filter((db) => !which(db))
    await Promise.all(done.map(async (db) => await db.cluster.close()))
  }
  const uvu = suite(name)
  const test = tapeOnUvu(uvu, counts, async () => { await shutDown((db) => db.status === 'closed') })
  abstractSuite({
    test,
    factory: (options?: object) => {
      const db = new ClusterLevel<unknown, unknown>(new LevelCluster(size), options)
      live.push(db)
      return db
    }
  })
  uvu.after(async () => {
    await shutDown(() => true)
    console.log(`\n  ${name}: ${counts.tests} abstract-level tests, ${counts.assertions} assertions passed`)
  })
  uvu.run()
}

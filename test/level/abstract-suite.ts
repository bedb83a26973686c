/**
 * Runs abstract-level's own test suite (`abstract-level/test`, CommonJS, written for tape)
 * against ReplicatedLevel through the tape shim, one uvu test per tape test, so the counts
 * land in uvu's summary. The suite's modules are required one by one, in the order and
 * under the manifest conditions of abstract-level/test/index.js, so a slow configuration (a
 * 3-node cluster) can run them across several files, each well under a minute.
 *
 * After each test, the clusters of databases it closed are shut down (a database opened in
 * one test may be used by the next, as the suite's setup and tearDown tests do); the rest at
 * the end.
 */
import { createRequire } from 'node:module'
import { suite } from 'uvu'
import { ClusterLevel, LevelCluster } from './level-cluster.js'
import type { LocalKind } from './level-cluster.js'
import { tapeOnUvu } from './tape-shim.js'
import type { TapeCounts } from './tape-shim.js'

const require = createRequire(import.meta.url)

type Factory = (options?: object) => unknown
interface TestCommon { readonly supports: Record<string, unknown>, readonly factory: Factory }
type Module = (test: unknown, common: TestCommon) => void

/** The suite's modules as abstract-level/test/index.js runs them; `when` names the manifest flag a module needs. */
export const SUITE_MODULES: ReadonlyArray<{ readonly path: string, readonly when?: string, readonly unless?: string }> = [
  { path: 'factory-test' }, { path: 'manifest-test' }, { path: 'open-test' },
  { path: 'open-create-if-missing-test', when: 'createIfMissing' }, { path: 'open-error-if-exists-test', when: 'errorIfExists' },
  { path: 'put-test' }, { path: 'get-test' }, { path: 'del-test' }, { path: 'put-get-del-test' }, { path: 'get-many-test' },
  { path: 'has-test', when: 'has' }, { path: 'has-many-test', when: 'has' }, { path: 'get-sync-test', when: 'getSync' },
  { path: 'batch-test' }, { path: 'chained-batch-test' },
  { path: 'iterator-test' }, { path: 'iterator-range-test' }, { path: 'async-iterator-test' }, { path: 'iterator-seek-test' },
  { path: 'deferred-open-test' }, { path: 'encoding-test' }, { path: 'encoding-json-test' }, { path: 'encoding-custom-test' },
  { path: 'encoding-buffer-test' }, { path: 'encoding-decode-error-test' },
  { path: 'iterator-snapshot-test', when: 'implicitSnapshots' }, { path: 'iterator-no-snapshot-test', unless: 'implicitSnapshots' },
  { path: 'iterator-explicit-snapshot-test', when: 'explicitSnapshots' },
  { path: 'clear-test' }, { path: 'clear-range-test' }, { path: 'sublevel-test' },
  { path: 'events/write' }, { path: 'hooks/postopen' }, { path: 'hooks/newsub' }, { path: 'hooks/prewrite' }
]

function load (path: string): Module {
  const m = require(`abstract-level/test/${path}`) as Module | { all: Module }
  return typeof m === 'function' ? m : m.all
}

export interface SuiteRun {
  /** Cluster size. */
  readonly nodes: number
  /** The replicas' local databases. @default 'memory' */
  readonly local?: LocalKind
  /** Which of SUITE_MODULES to run, as [from, to) indexes. @default all */
  readonly modules?: readonly [number, number]
  /** Also run the modules on a sublevel of the database, as index.js does. @default true */
  readonly sublevels?: boolean
}

export function runAbstractLevelSuite (name: string, run: SuiteRun): void {
  const counts: TapeCounts = { tests: 0, assertions: 0 }
  // Each cluster with the database the suite was given (the sublevel, in the sublevel pass):
  // once that one is closed the cluster is shut down, or its ticks would slow every later test.
  let live: Array<{ readonly db: { readonly status: string }, readonly cluster: LevelCluster }> = []
  const shutDown = async (all: boolean): Promise<void> => {
    const done = live.filter((l) => all || l.db.status === 'closed')
    live = live.filter((l) => !done.includes(l))
    await Promise.all(done.map(async (l) => await l.cluster.close()))
  }
  const uvu = suite(name)
  const test = tapeOnUvu(uvu, counts, async () => { await shutDown(false) })
  const database = (options?: object): ClusterLevel<unknown, unknown> => new ClusterLevel<unknown, unknown>(new LevelCluster(run.nodes, { local: run.local ?? 'memory' }), options)
  const factory = (options?: object): ClusterLevel<unknown, unknown> => {
    const db = database(options)
    live.push({ db, cluster: db.cluster })
    return db
  }
  const subFactory = (options?: object): unknown => {
    const parent = database()
    const db = parent.sublevel('test', options as never)
    live.push({ db, cluster: parent.cluster })
    return db
  }
  const common = require('abstract-level/test/common') as (o: { test: unknown, factory: Factory }) => TestCommon
  const [from, to] = run.modules ?? [0, SUITE_MODULES.length]
  const passes: Factory[] = [factory]
  if (run.sublevels ?? true) passes.push(subFactory)
  for (const pass of passes) {
    const testCommon = common({ test, factory: pass })
    for (const m of SUITE_MODULES.slice(from, to)) {
      if (m.when !== undefined && testCommon.supports[m.when] !== true) continue
      if (m.unless !== undefined && testCommon.supports[m.unless] === true) continue
      load(m.path)(test, testCommon)
    }
  }
  uvu.after(async () => {
    await shutDown(true)
    console.log(`\n  ${name}: ${counts.tests} abstract-level tests, ${counts.assertions} assertions passed`)
  })
  uvu.run()
}

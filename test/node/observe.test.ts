/**
 * The node's observation point (src/node/observe.ts) on a virtual-time cluster: the logger
 * hears elections and leadership, gauges follow role, term, indexes and lag, and
 * diagnostics_channel messages are published only while someone subscribes. Also the lease
 * table's grant channel and the option checks.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import diagnosticsChannel from 'node:diagnostics_channel'
import { Cluster } from '../harness/index.js'
import type { Logger } from '../../src/util/logger.js'
import { DIAGNOSTICS_CHANNELS } from '../../src/util/diagnostics.js'
import type { GaugeLabels, GaugeName } from '../../src/node/metrics.js'
import { RaftNode } from '../../src/node/node.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { isQuorateError } from '../../src/errors.js'
import { LeaseTable } from '../../src/lease/table.js'
import { encodeLeaseCommand } from '../../src/lease/command.js'

interface Line { readonly level: string, readonly obj: Record<string, unknown>, readonly msg: string | undefined }

/** A pino-shaped logger without child(): the node binds its id through the wrapper. */
function recordingLogger (lines: Line[]): Logger {
  const at = (level: string) => (obj: Record<string, unknown>, msg?: string): void => { lines.push({ level, obj, msg }) }
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') }
}

type Gauges = Map<string, number>
const gaugeKey = (name: GaugeName, labels: GaugeLabels): string => `${name}${JSON.stringify(labels)}`

for (const seed of [1, 7, 42]) {
  test(`seed ${seed}: logs, gauges and channels follow an election, commits and a leader crash`, async () => {
    const lines: Line[] = []
    const gauges: Gauges = new Map()
    const elections: Array<Record<string, unknown>> = []
    const commits: Array<Record<string, unknown>> = []
    const onElection = (m: unknown): void => { elections.push(m as Record<string, unknown>) }
    const onCommit = (m: unknown): void => { commits.push(m as Record<string, unknown>) }
    diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNELS.election, onElection)
    diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNELS.commit, onCommit)
    const cluster = new Cluster(['a', 'b', 'c'], {
      seed,
      node: {
        logger: recordingLogger(lines),
        metrics: { gauge: (name, value, labels) => { gauges.set(gaugeKey(name, labels), value) } }
      }
    })
    try {
      await cluster.startAll()
      const first = await cluster.waitForLeader()
      for (let i = 0; i < 5; i++) await cluster.proposeWithRetry(`m${i}`)
      await cluster.runTicks(150) // > REPLICATION_LAG_EVERY_MS of virtual time, with heartbeats
      await cluster.proposeWithRetry('after-wait')
      await cluster.waitAllApplied()

      const leaderLine = lines.find((l) => l.msg === 'became leader' && l.obj.node === first.id)
      assert.ok(leaderLine !== undefined, JSON.stringify(lines))
      assert.is(leaderLine.obj.term, first.status().term)
      for (const id of ['a', 'b', 'c'].filter((id) => id !== first.id)) {
        assert.ok(lines.some((l) => l.msg === 'following a new leader' && l.obj.node === id && l.obj.leader === first.id), `${id} logged its leader`)
      }
      assert.not.ok(lines.some((l) => /commit|appl/.test(l.msg ?? '')), 'no log line per commit or apply')

      for (const id of ['a', 'b', 'c']) {
        const s = cluster.node(id).status()
        assert.is(gauges.get(gaugeKey('role', { node: id, role: s.role })), 1, `${id} role gauge`)
        for (const other of ['follower', 'candidate', 'leader'].filter((r) => r !== s.role)) {
          assert.is(gauges.get(gaugeKey('role', { node: id, role: other })) ?? 0, 0)
        }
        assert.is(gauges.get(gaugeKey('term', { node: id })), s.term)
        assert.is(gauges.get(gaugeKey('commitIndex', { node: id })), s.commitIndex)
        assert.is(gauges.get(gaugeKey('appliedIndex', { node: id })), s.appliedIndex)
        // The sink and node.metrics() agree.
        const row = cluster.node(id).metrics().gauges.find((g) => g.name === 'commitIndex')
        assert.is(row?.value, s.commitIndex)
      }
      for (const peer of ['a', 'b', 'c'].filter((id) => id !== first.id)) {
        const lag = gauges.get(gaugeKey('replicationLag', { node: first.id, peer }))
        assert.ok(lag !== undefined && lag >= 0, `leader reports lag of ${peer}`)
      }
      assert.ok(elections.some((m) => m.node === first.id && m.role === 'leader' && m.term === first.status().term))
      const mine = commits.filter((m) => m.node === first.id).map((m) => m.index as number)
      assert.ok(mine.length > 0)
      assert.equal(mine, [...mine].sort((x, y) => x - y), 'commit indexes only grow')

      await cluster.crash(first.id)
      const second = await cluster.waitForLeader()
      assert.is.not(second.id, first.id)
      assert.ok(lines.some((l) => l.msg === 'became leader' && l.obj.node === second.id))
      const changes = gauges.get(gaugeKey('leaderChanges', { node: second.id }))
      assert.ok(changes !== undefined && changes >= 2, `the new leader saw the leader change at least twice (${String(changes)})`)
    } finally {
      diagnosticsChannel.unsubscribe(DIAGNOSTICS_CHANNELS.election, onElection)
      diagnosticsChannel.unsubscribe(DIAGNOSTICS_CHANNELS.commit, onCommit)
      await cluster.close()
    }
  })
}

test('a follower that installs a snapshot logs it, publishes it, and its applied-index gauge follows the install', async () => {
  const lines: Line[] = []
  const gauges: Gauges = new Map()
  const snapshots: Array<Record<string, unknown>> = []
  const onSnapshot = (m: unknown): void => { snapshots.push(m as Record<string, unknown>) }
  diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNELS.snapshot, onSnapshot)
  // The applied-index gauge of the node that logs an install, read as it logs it.
  const atInstall: Array<{ index: unknown, gauge: number | undefined }> = []
  const logger = recordingLogger(lines)
  const info = logger.info
  logger.info = (obj, msg) => {
    if (msg === 'snapshot installed') atInstall.push({ index: obj.index, gauge: gauges.get(gaugeKey('appliedIndex', { node: obj.node as string })) })
    info(obj, msg)
  }
  const cluster = new Cluster(['a', 'b', 'c'], {
    seed: 11,
    node: {
      snapshotEntries: 50,
      snapshotKeepEntries: 0,
      logger,
      metrics: { gauge: (name, value, labels) => { gauges.set(gaugeKey(name, labels), value) } }
    }
  })
  try {
    await cluster.startAll()
    const leader = await cluster.waitForLeader()
    const lagging = ['a', 'b', 'c'].find((id) => id !== leader.id)!
    await cluster.crash(lagging)
    for (let i = 0; i < 120; i++) await cluster.proposeWithRetry(`s${i}`)
    await cluster.start(lagging)
    const node = cluster.node(lagging)
    await cluster.stepUntil(() => node.metrics().counters.snapshotsInstalled > 0, { what: `${lagging} installs a snapshot` })
    await cluster.waitAllApplied()
    assert.ok(lines.some((l) => l.msg === 'snapshot taken' && l.obj.node === leader.id), 'the leader logged its snapshot')
    assert.ok(lines.some((l) => l.msg === 'snapshot installed' && l.obj.node === lagging))
    assert.ok(snapshots.some((m) => m.node === lagging && m.kind === 'installed' && typeof m.index === 'number'))
    assert.is(gauges.get(gaugeKey('appliedIndex', { node: lagging })), node.status().appliedIndex)
    assert.ok(atInstall.length > 0 && atInstall.every((x) => x.gauge === x.index), `the gauge shows the installed index when the install is logged: ${JSON.stringify(atInstall)}`)
  } finally {
    diagnosticsChannel.unsubscribe(DIAGNOSTICS_CHANNELS.snapshot, onSnapshot)
    await cluster.close()
  }
})

test('nothing is published on a channel without subscribers; a subscriber turns publishing on', async () => {
  const channel = diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.commit)
  let published = 0
  // Counts, then delivers through the prototype's publish (it changes when one subscribes).
  channel.publish = (m: unknown) => {
    published++
    ;(Object.getPrototypeOf(channel) as { publish: (m: unknown) => void }).publish.call(channel, m)
  }
  const cluster = new Cluster(['a'], { seed: 3 })
  try {
    await cluster.startAll()
    await cluster.waitForLeader()
    await cluster.proposeWithRetry('x')
    assert.is(published, 0, 'no message built or published without a subscriber')
    const seen: unknown[] = []
    const sub = (m: unknown): void => { seen.push(m) }
    diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNELS.commit, sub)
    try {
      await cluster.proposeWithRetry('y')
    } finally {
      diagnosticsChannel.unsubscribe(DIAGNOSTICS_CHANNELS.commit, sub)
    }
    assert.ok(published > 0 && seen.length === published, `published ${published}, seen ${seen.length}`)
  } finally {
    delete (channel as { publish?: unknown }).publish
    await cluster.close()
  }
})

test('a logger must have the six level methods; a misspelt one names the option', async () => {
  const net = new MemoryNetwork()
  const base = { id: 'a', voters: ['a'], storage: new CrashStorage(), transport: net.transport('a'), stateMachine: { apply: () => null } }
  for (const logger of [{}, { info: () => {} }, { trace () {}, debug () {}, info () {}, warn () {}, error () {}, fatal: 1 }, 'console']) {
    assert.throws(() => new RaftNode({ ...base, logger: logger as unknown as Logger }),
      (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID') && /option "logger" must be a pino-compatible logger/.test((err as Error).message), JSON.stringify(logger))
  }
  await net.close()
})

test('a logger that throws stops the node with NODE_FAILED naming the logger', async () => {
  const lines: Line[] = []
  const throwing: Logger = { ...recordingLogger(lines), info: () => { throw new Error('log sink down') } }
  const cluster = new Cluster(['a'], { seed: 5, node: { logger: throwing } })
  try {
    await cluster.startAll()
    const node = cluster.node('a')
    await cluster.stepUntil(() => node.failure !== null, { what: 'the node fails on its first info line' })
    assert.ok(isQuorateError(node.failure, 'NODE_FAILED'))
    assert.match(node.failure!.message, /the logger threw: log sink down/)
    assert.ok(lines.some((l) => l.level === 'error' && l.msg === 'node stopped on a fatal error'), 'the failure itself is logged')
  } finally {
    await cluster.close()
  }
})

test('the lease table publishes each applied grant on quorate:lease:grant, not renewals', () => {
  const grants: unknown[] = []
  const sub = (m: unknown): void => { grants.push(m) }
  diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNELS.leaseGrant, sub)
  try {
    const table = new LeaseTable()
    table.apply(encodeLeaseCommand({ op: 'acquire', name: 'coordinator', holder: 'n1', durationMs: 5000, expectVersion: 0 }), 7)
    table.apply(encodeLeaseCommand({ op: 'renew', name: 'coordinator', holder: 'n1', token: 7 }), 8)
    table.apply(encodeLeaseCommand({ op: 'acquire', name: 'coordinator', holder: 'n2', durationMs: 5000, expectVersion: 0 }), 9) // refused: held
    assert.equal(grants, [{ name: 'coordinator', holder: 'n1', token: 7, durationMs: 5000 }])
  } finally {
    diagnosticsChannel.unsubscribe(DIAGNOSTICS_CHANNELS.leaseGrant, sub)
  }
})

test.run()

/**
 * The simulator's snapshot draws (issue 12): byte-different snapshots that restore to one
 * state, per-incarnation chunking, and leader changes timed during transfers; and, end to end
 * on real RaftNodes, a seed that catches the old transfer rule and passes with the fix; and
 * background snapshots drawn per seed, which let the simulator see a snapshot that is not the
 * state as of its snapshot() call.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MAX_CHUNKS_PER_TRANSFER, SNAPSHOT_DRAW_DEFAULTS, SnapshotDraws, SnapshotStormDetector, kvSimWorkload, runSimulation } from '../../src/testing/sim/index.js'
import { KvStateMachine } from '../../src/kv/state-machine.js'
import { encodeKvCommand } from '../../src/kv/command.js'
import { message } from '../../src/raft/types.js'
import { isQuorateError } from '../../src/errors.js'

const ALL_ON = { variedBytes: true, perNodeChunking: true, transferDisruption: true }
const RUN_CHUNKING = { snapshotChunkBytes: 300, snapshotWindowChunks: 2 }

async function bytesOf (stream: AsyncIterable<Uint8Array>): Promise<{ bytes: number[], pieces: number }> {
  const bytes: number[] = []
  let pieces = 0
  for await (const p of stream) { bytes.push(...p); pieces++ }
  return { bytes, pieces }
}

async function * once (bytes: number[]): AsyncIterable<Uint8Array> { yield Uint8Array.from(bytes) }

function filledMachine (): KvStateMachine {
  const m = new KvStateMachine()
  for (let i = 0; i < 20; i++) m.apply(encodeKvCommand({ op: 'put', key: `k${i % 7}`, value: `v${i}` }), i + 1)
  return m
}

test('varied snapshots differ byte-wise between incarnations and restore to the same state', async () => {
  const draws = new SnapshotDraws(7, ALL_ON)
  const source = filledMachine()
  const canonical = await bytesOf(source.snapshot())
  const streams = await Promise.all([['n1', 1], ['n2', 1], ['n1', 2]].map(async ([id, inc]) => await bytesOf(draws.vary(id as string, inc as number, source).snapshot!())))
  assert.ok(new Set(streams.map((s) => JSON.stringify(s.bytes))).size === 3, 'three different byte streams')
  for (const s of streams) {
    const target = new KvStateMachine()
    await draws.vary('n9', 1, target).restore!(once(s.bytes))
    assert.equal(await bytesOf(target.snapshot()).then((b) => b.bytes), canonical.bytes, 'the same state')
    assert.equal(target.entries(), source.entries())
  }
})

test('a varied stream cut inside its header fails to restore with STORAGE_CORRUPT', async () => {
  const draws = new SnapshotDraws(7, ALL_ON)
  const machine = draws.vary('n1', 1, new KvStateMachine())
  try {
    await machine.restore!(once([200, 1, 2]))
    assert.unreachable('restored')
  } catch (err) {
    assert.ok(isQuorateError(err, 'STORAGE_CORRUPT'), String(err))
  }
})

test('per-incarnation chunk sizes scale with the run\'s: a large-state workload is not sent a few bytes a round trip', () => {
  const draws = new SnapshotDraws(11, ALL_ON)
  for (let inc = 1; inc <= 20; inc++) {
    const c = draws.chunking('n1', inc, { snapshotChunkBytes: 4096, snapshotWindowChunks: 2 })
    assert.ok(c.snapshotChunkBytes >= 512 && c.snapshotChunkBytes <= 8192, String(c.snapshotChunkBytes))
  }
})

test('per-incarnation chunking is reproducible from the seed, within its ranges, and off unless drawn', () => {
  const a = new SnapshotDraws(11, ALL_ON)
  const b = new SnapshotDraws(11, ALL_ON)
  const d = SNAPSHOT_DRAW_DEFAULTS
  const seen = new Set<number>()
  for (const id of ['n1', 'n2', 'n3']) {
    for (let inc = 1; inc <= 4; inc++) {
      const c = a.chunking(id, inc, RUN_CHUNKING)
      assert.equal(c, b.chunking(id, inc, RUN_CHUNKING))
      const lo = Math.max(d.chunkBytes.floorBytes, Math.floor(RUN_CHUNKING.snapshotChunkBytes * d.chunkBytes.minFraction))
      assert.ok(c.snapshotChunkBytes >= lo && c.snapshotChunkBytes <= Math.ceil(RUN_CHUNKING.snapshotChunkBytes * d.chunkBytes.maxFraction), `${c.snapshotChunkBytes} within the run-relative range`)
      assert.ok(c.snapshotWindowChunks >= d.windowChunks.min && c.snapshotWindowChunks <= d.windowChunks.max)
      seen.add(c.snapshotChunkBytes)
    }
  }
  assert.ok(seen.size > 3, 'nodes and incarnations differ')
  assert.equal(new SnapshotDraws(11, { perNodeChunking: false }).chunking('n1', 1, RUN_CHUNKING), RUN_CHUNKING)
})

test('a leader change is drawn only for a non-final chunk, once per transfer, and names the voters holding that index', () => {
  const draws = new SnapshotDraws(3, { transferDisruption: true })
  draws.noteSnapshot('n3', 40)
  draws.noteSnapshot('n4', 41)
  const chunk = (offset: number, done: boolean, term = 2): ReturnType<typeof message> => message({
    type: 'snapshot', from: 'n1', to: 'n2', term,
    snapshot: { meta: { index: 40, term: 2, config: { voters: [], votersOutgoing: [], learners: [] } }, offset, data: new Uint8Array(8), done, digest: new Uint8Array(32) }
  })
  const voters = ['n1', 'n2', 'n3', 'n4']
  assert.is(draws.disruption(chunk(0, true), voters, 200), null, 'a final chunk leaves no partial')
  let plan = null
  for (let term = 2; plan === null && term < 50; term++) {
    plan = draws.disruption(chunk(8, false, term), voters, 200)
    assert.is(draws.disruption(chunk(16, false, term), voters, 200), null, 'drawn once per transfer')
  }
  assert.ok(plan !== null)
  assert.equal(plan.sameIndex, ['n3'])
  const { min, max } = SNAPSHOT_DRAW_DEFAULTS.isolateElectionTimeouts
  assert.ok(plan.isolateMs >= min * 200 && plan.isolateMs <= max * 200)
  assert.is(new SnapshotDraws(3, { transferDisruption: false }).disruption(chunk(8, false), voters, 200), null)
})

test('a transfer that sends more than MAX_CHUNKS_PER_TRANSFER chunks is reported once, other transfers counted apart', () => {
  const d = new SnapshotStormDetector()
  const chunk = (to: string, term: number): ReturnType<typeof message> => message({
    type: 'snapshot', from: 'n1', to, term,
    snapshot: { meta: { index: 9, term: 1, config: { voters: [], votersOutgoing: [], learners: [] } }, offset: 0, data: new Uint8Array(1), done: false, digest: new Uint8Array(0) }
  })
  const reports: string[] = []
  for (let i = 0; i < MAX_CHUNKS_PER_TRANSFER + 5; i++) {
    const r = d.observe(chunk('n2', 2))
    if (r !== null) reports.push(r)
  }
  assert.is(reports.length, 1)
  assert.match(reports[0]!, 'snapshot storm: n1')
  assert.is(d.observe(chunk('n3', 2)), null)
  assert.is(d.observe(chunk('n2', 3)), null, 'a new term is a new transfer')
  assert.is(d.observe(message({ type: 'heartbeat', from: 'n1', to: 'n2', term: 2 })), null)
})

test('the simulator rejects unknown or mistyped snapshotDraws', async () => {
  for (const bad of [{ varied: true }, { variedBytes: 'yes' }, 5]) {
    try {
      await runSimulation({ seed: 1, snapshotDraws: bad as never })
      assert.unreachable(JSON.stringify(bad))
    } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'), String(err))
      assert.match((err as Error).message, 'snapshotDraws')
    }
  }
})

/** A key-value machine whose snapshot encodes the state at its second read, not at the call: wrong once entries are applied while it streams. */
class ReadLateKv extends KvStateMachine {
  override snapshot (): AsyncIterable<Uint8Array> {
    const self = this
    return (async function * () {
      yield new Uint8Array(0)
      yield * KvStateMachine.prototype.snapshot.call(self)
    })()
  }
}

test('background snapshots are drawn per seed from a stream of their own, and both settings appear', () => {
  const drawn = Array.from({ length: 40 }, (_, seed) => new SnapshotDraws(seed).summary.backgroundSnapshots)
  assert.ok(drawn.includes(true) && drawn.includes(false))
  assert.equal(Array.from({ length: 40 }, (_, seed) => new SnapshotDraws(seed).summary.backgroundSnapshots), drawn, 'reproducible')
  // Fixing it leaves the other draws as they were.
  for (let seed = 0; seed < 10; seed++) {
    const { backgroundSnapshots: _ignored, ...rest } = new SnapshotDraws(seed, { backgroundSnapshots: !drawn[seed] }).summary
    const { backgroundSnapshots: _also, ...same } = new SnapshotDraws(seed).summary
    assert.equal(rest, same)
  }
})

test('with background snapshots the simulator catches a machine whose snapshot is read after later applies; stored in the loop it cannot', async () => {
  const base = kvSimWorkload({ keys: 3 })
  const workload = { ...base, createStateMachine: () => new ReadLateKv() }
  let caughtInBackground = 0
  let caughtInLoop = 0
  for (let seed = 1; seed <= 12; seed++) {
    const background = await runSimulation({ seed, workload, snapshotEntries: 10, snapshotDraws: { backgroundSnapshots: true } })
    if (!background.ok) caughtInBackground++
    const inLoop = await runSimulation({ seed, workload, snapshotEntries: 10, snapshotDraws: { backgroundSnapshots: false } })
    if (!inLoop.ok) caughtInLoop++
  }
  assert.ok(caughtInBackground > 0, 'the divergence is seen in some seed')
  assert.is(caughtInLoop, 0, 'the same machine is correct when nothing is applied while its snapshot streams')
  // And the shipped machine runs clean with background snapshots on those seeds.
  for (let seed = 1; seed <= 12; seed++) {
    const r = await runSimulation({ seed, snapshotEntries: 10, snapshotDraws: { backgroundSnapshots: true } })
    assert.ok(r.ok, `seed ${seed}: ${JSON.stringify(r.violations.slice(0, 1))}`)
  }
})

// The class of issue 12 defect 1: a leader cut off mid-transfer while other nodes hold a
// snapshot of the same index. Searched for rather than pinned to one seed, so a change of the
// draws cannot silently turn the test into one that checks nothing: every such seed must run
// clean, and the old rule must fail on one of them.
test('a follower left with a partial transfer by a deposed leader catches up from the new one (and did not with the old rule)', async () => {
  const clean: number[] = []
  let caught: number | null = null
  for (let seed = 1; seed <= 200 && caught === null; seed++) {
    let disrupted = false
    const fixed = await runSimulation({ seed, log: (l) => { if (l.includes('during its snapshot transfer') && l.includes('hold a snapshot of that index')) disrupted = true } })
    if (!disrupted) continue
    assert.ok(fixed.ok, `seed ${seed}: ${JSON.stringify({ violations: fixed.violations, liveness: fixed.liveness, lin: fixed.linearizability })}`)
    clean.push(seed)
    const old = await runSimulation({ seed, mutations: { snapshotResumeAcrossLeaders: true } })
    if (!old.ok) caught = seed
  }
  assert.ok(clean.length > 0, 'some seed disrupted a transfer while others held the snapshot')
  assert.ok(caught !== null, `the old rule passed every such seed (${clean.join(', ')})`)
})

test.run()

/**
 * Option and argument validation (issue 12, defect 5): every mistake is OPTIONS_INVALID (or
 * the one code that names it) with a message naming the option, at construction or as a
 * rejected promise, never a TypeError later or a feature silently switched on.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QuorateError, isQuorateError } from '../../src/errors.js'
import { RaftNode } from '../../src/node/node.js'
import type { RaftNodeOptions } from '../../src/node/node.js'
import { RaftCore } from '../../src/raft/raft.js'
import { LevelStorage } from '../../src/storage/level-storage.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { RecordingMachine } from '../harness/index.js'
import { LeaseManager } from '../../src/lease/manager.js'
import { LeaseTable } from '../../src/lease/table.js'
import { ClientSession } from '../../src/sessions/client.js'
import { SessionStateMachine } from '../../src/sessions/state-machine.js'
import { KvStateMachine } from '../../src/kv/state-machine.js'
import { TICK_MS, VirtualCluster, enc, track } from './virtual-cluster.js'

/** `fn` throws OPTIONS_INVALID (or `code`) whose message contains every one of `words`. */
function rejects (fn: () => unknown, words: readonly string[], code = 'OPTIONS_INVALID'): void {
  let thrown: unknown
  try { fn() } catch (err) { thrown = err }
  assert.ok(thrown instanceof QuorateError, `expected a QuorateError, got ${String(thrown)}`)
  assert.is(thrown.code, code, thrown.message)
  for (const w of words) assert.ok(thrown.message.includes(w), `"${thrown.message}" names ${w}`)
}

async function rejectsAsync (p: Promise<unknown>, words: readonly string[], code = 'OPTIONS_INVALID'): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  assert.ok(err instanceof QuorateError, `expected a QuorateError, got ${String(err)}`)
  assert.is(err.code, code, err.message)
  for (const w of words) assert.ok(err.message.includes(w), `"${err.message}" names ${w}`)
}

const net = new MemoryNetwork()
const base = (): RaftNodeOptions => ({ id: 'a', voters: ['a'], storage: new CrashStorage(), transport: net.transport('a'), stateMachine: new RecordingMachine() })
const node = (extra: Record<string, unknown>): RaftNode => new RaftNode({ ...base(), ...extra } as RaftNodeOptions)

test('a misspelt node option is rejected with the closest known name', () => {
  rejects(() => node({ tickMS: 5 }), ['"tickMS"', 'did you mean "tickMs"'])
  rejects(() => node({ electionTick: 5 }), ['"electionTick"', '"electionTicks"'])
  rejects(() => node({ heartBeatTicks: 1 }), ['"heartBeatTicks"', '"heartbeatTicks"'])
  rejects(() => node({ zzzzzzzzz: 1 }), ['"zzzzzzzzz"', 'known options:'])
})

test('a misspelt core option is rejected by RaftCore too', () => {
  rejects(() => new RaftCore({ id: 'a', voters: ['a'], electionTick: 5 } as never), ['RaftOptions', '"electionTick"'])
})

test('a string or number where a boolean belongs is rejected instead of switching the feature on', () => {
  for (const field of ['preVote', 'checkQuorum', 'forwardProposals', 'sync', 'autoLeaveJoint']) {
    rejects(() => node({ [field]: 'no' }), [`"${field}"`, 'true or false'])
    rejects(() => node({ [field]: 0 }), [`"${field}"`])
    rejects(() => node({ [field]: 'false' }), [`"${field}"`, 'got "false"'])
  }
})

test('voters: [] is rejected: such a node could never elect a leader', () => {
  rejects(() => node({ voters: [] }), ['"voters"', 'at least one'])
})

test('trace, metrics and clock of the wrong shape are rejected at construction, naming the option', () => {
  rejects(() => node({ trace: 5 }), ['"trace"', 'function'])
  rejects(() => node({ metrics: { count: 5 } }), ['"metrics"', 'MetricsSink'])
  rejects(() => node({ metrics: 5 }), ['"metrics"'])
  rejects(() => node({ metrics: { gauge: 'role' } }), ['"metrics"', 'gauge?'])
  rejects(() => node({ clock: {} }), ['"clock"', 'now, setTimeout, clearTimeout'])
  rejects(() => node({ mutations: 'all' }), ['"mutations"'])
  rejects(() => node({ storage: {} }), ['"storage"', 'RaftStorage'])
  rejects(() => node({ stateMachine: { apply: () => 1, snapshot: 5 } }), ['"stateMachine"'])
})

test('a missing id is reported as a missing id, not as a transport for node undefined', () => {
  const { id: _, ...rest } = base()
  rejects(() => new RaftNode(rest as RaftNodeOptions), ['"id"', 'non-empty string'])
  rejects(() => node({ transport: net.transport('b') }), ['"transport"', 'for node a'])
})

test('LevelStorage and MemoryNetwork reject misspelt options too', () => {
  rejects(() => new LevelStorage({ location: '/nonexistent', snapshotBatchByte: 5 } as never), ['LevelStorageOptions', '"snapshotBatchByte"', '"snapshotBatchBytes"'])
  rejects(() => new MemoryNetwork({ lost: 0.5 } as never), ['MemoryNetworkOptions', '"lost"', '"loss"'])
  rejects(() => { new MemoryNetwork().configure({ lost: 0.5 } as never) }, ['MemoryNetwork.configure', '"lost"'])
  rejects(() => { new MemoryNetwork().configure({ clock: {} } as never) }, ['MemoryNetwork.configure', '"clock"'], 'OPTIONS_INVALID')
})

test('the other components reject misspelt options the same way', () => {
  const n = node({})
  rejects(() => new LeaseManager({ node: n, table: new LeaseTable(), maxDrif: 0.1 } as never), ['LeaseManagerOptions', '"maxDrif"', '"maxDrift"'])
  rejects(() => new ClientSession({ maxAttempt: 3 } as never), ['"maxAttempt"', '"maxAttempts"'])
  rejects(() => new SessionStateMachine(new RecordingMachine(), { maxSession: 3 } as never), ['SessionStateMachineOptions', '"maxSession"'])
  rejects(() => new KvStateMachine({ snapshotChunkByte: 5 } as never), ['KvStateMachine', '"snapshotChunkByte"'])
  rejects(() => new CrashStorage({ copyEntry: false } as never), ['CrashStorageOptions', '"copyEntry"', 'known options:', 'copyEntries'])
  rejects(() => new CrashStorage({ copyEntries: 'no' } as never), ['"copyEntries"', 'true or false'])
})

test('bad method arguments reject with OPTIONS_INVALID (or RAFT_CONFIG_INVALID) and never throw synchronously', async () => {
  const cluster = new VirtualCluster(['a'], 11)
  const n = await cluster.open('a')
  await cluster.leader()
  let p: Promise<unknown> | undefined
  assert.not.throws(() => { p = n.propose(enc('x'), null as never) })
  await rejectsAsync(p!, ['RaftNode.propose', '(options)'])
  await rejectsAsync(n.propose(enc('x'), { signal: 'x' as never }), ['RaftNode.propose', '"signal"', 'AbortSignal'])
  await rejectsAsync(n.propose('x' as never), ['Uint8Array'])
  await rejectsAsync(n.read(null as never), ['RaftNode.read'])
  await rejectsAsync(n.read({ signal: 5 as never }), ['RaftNode.read', '"signal"'])
  await rejectsAsync(n.waitForLeader({ timeoutMs: -1 }), ['"timeoutMs"'])
  await rejectsAsync(n.waitForLeader(null as never), ['RaftNode.waitForLeader'])
  await rejectsAsync(n.changeMembership(null as never), ['operations array'], 'RAFT_CONFIG_INVALID')
  await rejectsAsync(n.changeMembership({ operations: 'x' } as never), ['operations array'], 'RAFT_CONFIG_INVALID')
  const ok = track(n.propose(enc('still fine')))
  await cluster.run(5 * TICK_MS)
  assert.is(ok.value(), 'ok:still fine', 'the node is unharmed')
  await cluster.closeAll()
})

for (const sink of ['trace', 'metrics'] as const) {
  test(`a ${sink} sink that throws stops the node with NODE_FAILED naming it (not a storage error) and closes it`, async () => {
    const cluster = new VirtualCluster(['a'], 12)
    let armed = false
    const boom = (): void => { if (armed) throw new Error('sink down') }
    const n = await cluster.open('a', sink === 'trace' ? { trace: boom } : { metrics: { count: boom, observe: boom } })
    await cluster.leader()
    const failed: QuorateError[] = []
    n.on('failed', (err) => failed.push(err))
    armed = true
    const p = track(n.propose(enc('x')))
    await cluster.run(10 * TICK_MS)
    assert.is(failed.length, 1, "'failed' was emitted")
    assert.ok(isQuorateError(failed[0], 'NODE_FAILED'))
    assert.match(failed[0]!.message, `the ${sink === 'trace' ? 'trace callback' : 'metrics sink'} threw`)
    assert.not.ok(isQuorateError(failed[0]!.cause, 'STORAGE_WRITE_FAILED'))
    assert.is((failed[0]!.cause as Error).message, 'sink down')
    assert.is(n.lifecycle, 'closed')
    assert.is(p.state(), 'rejected', 'its pending proposal settled')
    await cluster.closeAll()
  })
}

test('a locked classic-level directory is reported as STORAGE_LOCKED saying so', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-lock-'))
  const first = new LevelStorage({ location: dir })
  await first.open()
  try {
    await rejectsAsync(new LevelStorage({ location: dir }).open(), [dir, 'locked'], 'STORAGE_LOCKED')
  } finally {
    await first.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()

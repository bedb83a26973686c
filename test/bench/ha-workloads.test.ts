/**
 * The HA benchmark's commands (bench/ha-workloads.ts) applied in-process, without a cluster,
 * to the machines a node process mounts (bench/machines.ts), the result mapped to the
 * response body (respond, ha-wire.ts) and back, as node-process.ts and ha-client.ts do:
 * emits with retries answered 'duplicate' and stored once, chained compare-and-set graph
 * transactions, level puts and one-entry batches. Mutants show the workloads' checks catch
 * a queue that stores a retry again and a client that loses its versions.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { QuorateError } from '../../src/errors.js'
import { LevelStateMachine } from '../../src/level/machine.js'
import type { StateMachine } from '../../src/node/state-machine.js'
import { StateMachineRouter } from '../../src/sm/router.js'
import { checkEmitRun } from '../../bench/ha-stats.js'
import { decodeHaResponse, encodeHaResponse, STATUS_DUPLICATE, STATUS_FAILED, STATUS_OK, STATUS_REFUSED } from '../../bench/ha-wire.js'
import { createWorkload, TX_RESOURCES, type HaWorkload } from '../../bench/ha-workloads.js'
import { createBenchMachine, LEVEL_ROUTE, respond, TRIM_AT, type BenchMachine } from '../../bench/machines.js'

const noNode = { dataDir: '/nonexistent', propose: async () => await Promise.reject(new Error('no node')), isLeader: () => false }

/** Drives `clients` closed-loop clients round-robin for `commands` commands against `sm`. */
/** The next log index per machine: a machine applies each index once, as the node gives them, so successive drives continue the log. */
const nextIndex = new WeakMap<StateMachine, number>()

async function drive (w: HaWorkload, sm: StateMachine, commands: number, clients = 1, mangle: (result: unknown) => unknown = (r) => r): Promise<number> {
  let index = nextIndex.get(sm) ?? 0
  let failed = 0
  for (let i = 0; i < commands; i++) {
    const client = i % clients
    const result = mangle(await sm.apply(w.next(client), ++index))
    if (!w.settle(client, decodeHaResponse(respond(result)))) failed++
  }
  nextIndex.set(sm, index)
  return failed
}

test('the response body round-trips status, index and refusal code, and a status-only body is one byte', () => {
  assert.equal(decodeHaResponse(encodeHaResponse(STATUS_OK, 123_456_789_012)), { status: STATUS_OK, index: 123_456_789_012, code: '' })
  assert.equal(decodeHaResponse(encodeHaResponse(STATUS_DUPLICATE, 7)), { status: STATUS_DUPLICATE, index: 7, code: '' })
  assert.equal(decodeHaResponse(encodeHaResponse(STATUS_REFUSED, -1, 'EVENTS_QUEUE_FULL')), { status: STATUS_REFUSED, index: -1, code: 'EVENTS_QUEUE_FULL' })
  assert.equal([...encodeHaResponse(STATUS_OK)], [STATUS_OK])
  assert.equal(decodeHaResponse(encodeHaResponse(STATUS_FAILED)), { status: STATUS_FAILED, index: -1, code: '' })
})

test('respond maps the machines\' results: null and ok/stored to OK, duplicate, refusals and error values with their code', () => {
  assert.is(decodeHaResponse(respond(null)).status, STATUS_OK)
  assert.equal(decodeHaResponse(respond({ status: 'ok', index: 9, touched: [], removed: [], trimmed: [] })), { status: STATUS_OK, index: 9, code: '' })
  assert.equal(decodeHaResponse(respond({ status: 'duplicate', index: 4, id: 'x' })), { status: STATUS_DUPLICATE, index: 4, code: '' })
  assert.equal(decodeHaResponse(respond({ status: 'refused', index: 5, code: 'GRAPH_CONFLICT', message: '' })).code, 'GRAPH_CONFLICT')
  assert.equal(decodeHaResponse(respond(new QuorateError('SM_UNKNOWN_MACHINE', 'no'))).code, 'SM_UNKNOWN_MACHINE')
})

test('emits: every 20th is a retry of a stored id, answered duplicate and stored once; the replica holds exactly the acknowledged events', async () => {
  const m = createBenchMachine('graph', noNode)
  const w = createWorkload('emit')
  assert.is(await drive(w, m.stateMachine, 400, 4), 0)
  assert.is(w.tally.retries, 20)
  assert.is(w.tally.retriesDuplicate, 20)
  assert.is(w.tally.stored, 380)
  assert.is(m.stats().eventsStored, 380)
  assert.is(m.stats().eventsRemembered, 380)
  assert.ok(checkEmitRun('e', 0, w.tally, [{ role: 'leader', machine: m.stats() }]).ok)
})

test('mutant: a queue that answers a retry "stored" (stored it again) is caught by the workload and fails the emit check', async () => {
  const m = createBenchMachine('graph', noNode)
  const w = createWorkload('emit')
  const storesAgain = (r: unknown): unknown => (r as { status?: string }).status === 'duplicate' ? { ...(r as object), status: 'stored' } : r
  await drive(w, m.stateMachine, 100, 1, storesAgain)
  assert.is(w.tally.retriesStoredAgain, 5)
  assert.not.ok(checkEmitRun('e', 0, w.tally, [{ role: 'leader', machine: m.stats() }]).ok)
})

test('graph transactions: 10 resources each, chained by compare-and-set on the versions the previous commit gave them', async () => {
  const m = createBenchMachine('graph', noNode)
  const w = createWorkload('graph-tx')
  assert.is(await drive(w, m.stateMachine, 60, 3), 0)
  assert.is(w.tally.ok, 60)
  assert.is(m.stats().resources, 3 * TX_RESOURCES, 'each client rewrites its own 10 resources')
})

test('mutant: a client that loses the version of its last commit is refused with GRAPH_CONFLICT', async () => {
  const m = createBenchMachine('graph', noNode)
  const w = createWorkload('graph-tx')
  await drive(w, m.stateMachine, 2)
  // Answer the next commit with a wrong index, as a client that mixed up responses would see.
  let index = 100
  const r = await m.stateMachine.apply(w.next(0), index++)
  w.settle(0, decodeHaResponse(respond({ ...(r as object), index: 1 })))
  const refused = decodeHaResponse(respond(await m.stateMachine.apply(w.next(0), index++)))
  assert.is(refused.status, STATUS_REFUSED)
  assert.is(refused.code, 'GRAPH_CONFLICT')
  w.settle(0, refused)
  assert.is(w.tally['refused:GRAPH_CONFLICT'], 1)
})

/** The level machine as machines.ts mounts it, over memory-level instead of classic-level. */
function memoryLevelMachine (): { router: StateMachineRouter, level: LevelStateMachine } {
  const router = new StateMachineRouter()
  return { router, level: router.mount(LEVEL_ROUTE, new LevelStateMachine({ db: new MemoryLevel() })).machine }
}

test('level puts write fresh keys with the value size asked for; a batch of 1,000 puts is one command', async () => {
  const { router, level } = memoryLevelMachine()
  const puts = createWorkload('level-put', { valueBytes: 50 })
  assert.is(await drive(puts, router, 30, 3), 0)
  const batch = createWorkload('level-batch')
  assert.is(batch.opsPerCommand, 1000)
  assert.is(await drive(batch, router, 2), 0)
  const entries = await level.data.iterator({ keyEncoding: 'utf8', valueEncoding: 'view' }).all() as unknown as Array<[string, Uint8Array]>
  assert.is(entries.length, 30 + 2000)
  assert.is(entries.find(([k]) => k.startsWith('k'))![1].byteLength, 50)
  assert.is(puts.tally.ok, 30)
  await level.close()
})

test('the graph machine\'s consumer trims only on the leader, once TRIM_AT events are queued, in one handle entry', async () => {
  const proposed: Uint8Array[] = []
  let leader = false
  let release = (): void => {}
  const propose = async (c: Uint8Array): Promise<unknown> => {
    proposed.push(c)
    await new Promise<void>((resolve) => { release = resolve })
    return { status: 'ok' }
  }
  const m: BenchMachine = createBenchMachine('graph', { dataDir: '', isLeader: () => leader, propose })
  const w = createWorkload('emit', { retryEvery: 0 })
  await drive(w, m.stateMachine, TRIM_AT)
  await Promise.resolve()
  assert.is(proposed.length, 0, 'a follower does not trim')
  leader = true
  await drive(w, m.stateMachine, 3)
  await Promise.resolve()
  assert.is(proposed.length, 1, 'one trim in flight at a time')
  const result = await m.stateMachine.apply(proposed[0]!, 1_000_000) as { status: string, trimmed: string[] }
  assert.is(result.status, 'ok')
  assert.is(result.trimmed.length, TRIM_AT)
  assert.is(m.stats().eventsQueued, 3)
  release()
  await new Promise((resolve) => setImmediate(resolve))
  assert.is(m.stats().trims, 1)
  assert.is(m.stats().trimmed, TRIM_AT)
})

test('an unknown machine kind or workload name is refused with the list of known ones', () => {
  assert.throws(() => createBenchMachine('kv' as 'counter', noNode), /counter, graph, level/)
  assert.throws(() => createWorkload('scan' as 'emit'), /emit, graph-tx, level-put, level-batch/)
})

test.run()

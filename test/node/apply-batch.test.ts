/**
 * The node's batched apply: runs of committed commands reach `applyBatch` (bounded by
 * maxApplyBatch and maxApplyBatchBytes), each proposal resolves with its own result in log
 * order, a machine without applyBatch or maxApplyBatch 1 keeps the one-by-one path, a throw
 * or a wrong result count stops the node (NODE_FAILED) and fails the pending proposals, and
 * a snapshot is only ever taken at the end of a fully applied batch.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import { RaftNode } from '../../src/node/node.js'
import type { RaftNodeOptions } from '../../src/node/node.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { RecordingMachine } from '../harness/index.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

/** A RecordingMachine with applyBatch that records each batch as [firstIndex, count, bytes]. */
class BatchingMachine extends RecordingMachine {
  batches: Array<[number, number, number]> = []
  async applyBatch (commands: readonly Uint8Array[], firstIndex: number): Promise<string[]> {
    this.batches.push([firstIndex, commands.length, commands.reduce((n, c) => n + c.byteLength, 0)])
    await Promise.resolve()
    return commands.map((c, i) => this.apply(c, firstIndex + i))
  }
}

let net = 0
/** A one-node cluster on fast ticks, opened and leading. */
async function leading (machine: RecordingMachine, extra: Partial<RaftNodeOptions> = {}): Promise<RaftNode> {
  const id = `n${net++}`
  const node = new RaftNode({ id, voters: [id], storage: new CrashStorage(), transport: new MemoryNetwork().transport(id), stateMachine: machine, tickMs: 2, ...extra })
  await node.open()
  for (let i = 0; i < 2000 && node.status().role !== 'leader'; i++) await new Promise((resolve) => setTimeout(resolve, 2))
  assert.is(node.status().role, 'leader')
  return node
}

const burst = (node: RaftNode, n: number, size = 1): Array<Promise<unknown>> =>
  Array.from({ length: n }, (_, i) => node.propose(enc(`${i}`.padStart(size, '.'))))

test('concurrent proposals are applied in batches and each resolves with its own result, in log order', async () => {
  const m = new BatchingMachine()
  const node = await leading(m)
  const results = await Promise.all(burst(node, 500))
  assert.equal(results, Array.from({ length: 500 }, (_, i) => `ok:${i}`))
  assert.ok(m.batches.length > 0 && m.batches.some(([, n]) => n > 1), `some batch held several commands: ${JSON.stringify(m.batches)}`)
  const indexes = m.log.map((e) => e.index)
  assert.equal(indexes, [...indexes].sort((a, b) => a - b), 'log order')
  assert.is(new Set(indexes).size, indexes.length, 'each entry applied once')
  await node.close()
})

test('batches stay within maxApplyBatch and maxApplyBatchBytes (a bigger command alone)', async () => {
  const m = new BatchingMachine()
  const node = await leading(m, { maxApplyBatch: 7, maxApplyBatchBytes: 40 })
  await Promise.all([...burst(node, 300, 10), node.propose(enc('x'.repeat(100)))])
  assert.ok(m.batches.length > 0)
  for (const [, n, bytes] of m.batches) {
    assert.ok(n >= 2 && n <= 7, `batch of ${n}`)
    assert.ok(bytes <= 40, `batch of ${bytes} bytes`)
  }
  assert.ok(m.log.some((e) => e.command.length === 100), 'the big command was applied (through apply)')
  await node.close()
})

test('maxApplyBatch 1, or a machine without applyBatch, applies one command at a time', async () => {
  const m = new BatchingMachine()
  const node = await leading(m, { maxApplyBatch: 1 })
  assert.equal(await Promise.all(burst(node, 100)), Array.from({ length: 100 }, (_, i) => `ok:${i}`))
  assert.equal(m.batches, [])
  await node.close()
  const plain = new RecordingMachine()
  const other = await leading(plain)
  assert.equal(await Promise.all(burst(other, 100)), Array.from({ length: 100 }, (_, i) => `ok:${i}`))
  await other.close()
})

test('an applyBatch that throws or returns the wrong number of results stops the node and fails its proposals', async () => {
  const broken: Record<string, (m: BatchingMachine) => BatchingMachine> = {
    throws: (m) => Object.assign(m, { applyBatch: async () => { throw new Error('disk gone') } }),
    'drops one': (m) => Object.assign(m, { applyBatch: (commands: readonly Uint8Array[]) => commands.slice(1).map(() => 'x') })
  }
  for (const [what, make] of Object.entries(broken)) {
    const node = await leading(make(new BatchingMachine()))
    const failed = new Promise<unknown>((resolve) => node.once('failed', resolve))
    const outcomes = await Promise.allSettled(burst(node, 200))
    const err = await failed
    assert.ok(isQuorateError(err, 'NODE_FAILED'), `${what}: ${String(err)}`)
    assert.ok(outcomes.some((o) => o.status === 'rejected'), `${what}: proposals of the failed batch are rejected`)
    assert.ok(outcomes.every((o) => o.status === 'rejected' || o.value === undefined || typeof o.value === 'string'))
    await node.close()
  }
})

test('a snapshot is taken only at the end of a fully applied batch', async () => {
  const m = new BatchingMachine()
  const node = await leading(m, { snapshotEntries: 25, snapshotKeepEntries: 0 })
  const snapshots: number[] = []
  node.on('snapshot', (meta: { index: number }) => {
    snapshots.push(meta.index)
    // The machine's state at snapshot time covers every entry up to the snapshot index, no more.
    assert.is(m.log[m.log.length - 1]!.index, meta.index)
  })
  await Promise.all(burst(node, 400))
  // Taken after the ready batch whose apply resolved the proposals.
  for (let i = 0; i < 500 && snapshots.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 2))
  assert.ok(snapshots.length > 0, 'snapshots were taken')
  const batchEnds = new Set(m.batches.map(([first, n]) => first + n - 1))
  const applied = new Set(m.log.map((e) => e.index))
  for (const s of snapshots) assert.ok(batchEnds.has(s) || (applied.has(s) && !m.batches.some(([first, n]) => s >= first && s < first + n - 1)), `snapshot at ${s} inside a batch`)
  await node.close()
})

test('maxApplyBatch and maxApplyBatchBytes are validated', () => {
  for (const [k, v] of [['maxApplyBatch', 0], ['maxApplyBatch', 1.5], ['maxApplyBatchBytes', 0], ['maxApplyBatchBytes', '1']] as const) {
    let thrown: unknown
    try { new RaftNode({ id: 'a', voters: ['a'], storage: new CrashStorage(), transport: new MemoryNetwork().transport('a'), stateMachine: new RecordingMachine(), [k]: v }) } catch (err) { thrown = err }
    assert.ok(isQuorateError(thrown, 'OPTIONS_INVALID') && thrown.message.includes(k), `${k} ${String(v)}: ${String(thrown)}`)
  }
  let thrown: unknown
  try { new RaftNode({ id: 'a', voters: ['a'], storage: new CrashStorage(), transport: new MemoryNetwork().transport('a'), stateMachine: { apply: () => 1, applyBatch: 3 } as never }) } catch (err) { thrown = err }
  assert.ok(isQuorateError(thrown, 'OPTIONS_INVALID'), 'an applyBatch that is not a function')
})

test.run()

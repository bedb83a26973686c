/**
 * RaftNodeOptions.backgroundSnapshots: a snapshot is stored while the node goes on committing
 * and applying (on by default), the stored snapshot is the state as of its index however many
 * entries were applied while it streamed, the log is compacted only once it is durable, a
 * failed store stops the node, and close() waits for it. Off, nothing is applied until the
 * snapshot is stored. And snapshotLogRatio: the entry trigger waits for the log since the last
 * snapshot to outgrow it, across restarts too.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { RaftNode } from '../../src/node/node.js'
import type { RaftNodeOptions } from '../../src/node/node.js'
import type { StateMachine } from '../../src/node/state-machine.js'
import { LevelStorage } from '../../src/storage/level-storage.js'
import type { RaftStorage, WriteOptions } from '../../src/storage/storage.js'
import type { SnapshotMeta } from '../../src/raft/types.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { isQuorateError } from '../../src/errors.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Keeps the commands applied; its snapshot is a copy taken at the snapshot() call (JSON, one chunk). */
class ListMachine implements StateMachine<number> {
  items: string[] = []
  apply (command: Uint8Array): number { this.items.push(dec(command)); return this.items.length }
  snapshot (): AsyncIterable<Uint8Array> {
    const bytes = enc(JSON.stringify(this.items))
    return (async function * () { yield bytes })()
  }

  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = []
    for await (const c of chunks) parts.push(c)
    this.items = JSON.parse(dec(Buffer.concat(parts))) as string[]
  }
}

/** A storage whose snapshot saves wait at a gate before they read their first chunk. */
class GatedSnapshots {
  readonly storage: RaftStorage
  readonly saves: SnapshotMeta[] = []
  failWith: Error | null = null
  #open: () => void = () => {}
  #gate: Promise<void>
  #entered: () => void = () => {}
  entered: Promise<void>

  constructor () {
    const inner = new LevelStorage({ db: new MemoryLevel() })
    this.#gate = new Promise((resolve) => { this.#open = resolve })
    this.entered = new Promise((resolve) => { this.#entered = resolve })
    const self = this
    this.storage = new Proxy(inner, {
      get (target, key) {
        if (key === 'saveSnapshot') {
          return async (meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>, options?: WriteOptions) => {
            self.saves.push(meta)
            self.#entered()
            await self.#gate
            if (self.failWith !== null) throw self.failWith
            await target.saveSnapshot(meta, chunks, options)
          }
        }
        const value = Reflect.get(target, key, target) as unknown
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      }
    })
  }

  release (): void { this.#open() }
}

async function soloNode (gated: GatedSnapshots, machine: ListMachine, options: Partial<RaftNodeOptions> = {}): Promise<{ node: RaftNode, net: MemoryNetwork }> {
  const net = new MemoryNetwork()
  const node = new RaftNode({ id: 'solo', voters: ['solo'], storage: gated.storage, transport: net.transport('solo'), stateMachine: machine, tickMs: 2, snapshotEntries: 10, snapshotKeepEntries: 0, ...options })
  await node.open()
  await node.waitForLeader()
  return { node, net }
}

/** `p`, or a rejection naming `what` if it has not settled within `ms` (a regression here would hang). */
async function within<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(what)) }, ms) })])
  } finally { clearTimeout(timer) }
}

async function proposeAll (node: RaftNode, from: number, count: number): Promise<number[]> {
  return await Promise.all(Array.from({ length: count }, async (_, i) => await node.propose(enc(`c${from + i}`)) as number))
}

test('entries commit and apply while a snapshot is being stored, and the stored snapshot is the state at its index', async () => {
  const gated = new GatedSnapshots()
  const machine = new ListMachine()
  const { node, net } = await soloNode(gated, machine)
  let snapshotEvents = 0
  node.on('snapshot', () => { snapshotEvents++ })
  // The leader's no-op is index 1: ten commands reach the threshold of 10 applied entries.
  await proposeAll(node, 0, 10)
  await gated.entered
  const at = gated.saves[0]!.index
  const during = await within(proposeAll(node, 10, 25), 5000, 'proposals stayed pending while the snapshot was held')
  assert.is(during.at(-1), 35, 'every later proposal resolved while the snapshot was held')
  assert.is(snapshotEvents, 0, 'not stored yet')
  assert.is(await gated.storage.loadSnapshot(), null, 'nothing stored yet')
  assert.is((await gated.storage.load()).entries[0]?.index, 1, 'nothing compacted before the snapshot is durable')
  gated.release()
  await new Promise<void>((resolve) => { node.once('snapshot', () => { resolve() }) })
  const stored = (await gated.storage.loadSnapshot())!
  assert.is(stored.meta.index, at)
  const copy = new ListMachine()
  await copy.restore(stored.chunks)
  assert.equal(copy.items, machine.items.slice(0, copy.items.length), 'a prefix of the applied commands')
  assert.is(copy.items.length, at - 1, 'exactly the commands up to the snapshot index (index 1 is the no-op)')
  await node.close()
  await net.close()
})

test('with backgroundSnapshots off nothing is applied until the snapshot is stored', async () => {
  const gated = new GatedSnapshots()
  const machine = new ListMachine()
  const { node, net } = await soloNode(gated, machine, { backgroundSnapshots: false })
  await proposeAll(node, 0, 10)
  await gated.entered
  const appliedAtSnapshot = machine.items.length
  let resolved = 0
  const later = Array.from({ length: 5 }, async (_, i) => { await node.propose(enc(`late${i}`)); resolved++ })
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => { setImmediate(resolve) })
  assert.is(machine.items.length, appliedAtSnapshot, 'the loop waits for the snapshot')
  assert.is(resolved, 0)
  gated.release()
  await Promise.all(later)
  assert.is(resolved, 5)
  await node.close()
  await net.close()
})

test('a snapshot that fails to store stops the node with NODE_FAILED and rejects what was pending', async () => {
  const gated = new GatedSnapshots()
  const { node, net } = await soloNode(gated, new ListMachine())
  const failed = new Promise<unknown>((resolve) => { node.once('failed', resolve) })
  await proposeAll(node, 0, 10)
  await gated.entered
  gated.failWith = new Error('disk full')
  gated.release()
  const err = await failed
  assert.ok(isQuorateError(err, 'NODE_FAILED'), String(err))
  assert.match((err as Error).message, /storing a snapshot: disk full/)
  const late = await node.propose(enc('after')).then(() => 'resolved', (e: unknown) => e)
  assert.ok(isQuorateError(late), 'a proposal after the failure is refused')
  await node.close()
  await net.close()
})

test('close() waits for a snapshot still being stored, then closes', async () => {
  const gated = new GatedSnapshots()
  const { node, net } = await soloNode(gated, new ListMachine())
  await proposeAll(node, 0, 10)
  await gated.entered
  let closed = false
  const closing = node.close().then(() => { closed = true })
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => { setImmediate(resolve) })
  assert.is(closed, false, 'close waits for the store')
  gated.release()
  await closing
  assert.is(closed, true)
  await net.close()
})

/** Snapshot indexes a solo node takes over `count` commands with the given snapshotLogRatio. */
async function snapshotsTaken (ratio: number, count: number, db = new MemoryLevel()): Promise<{ at: number[], machine: ListMachine, db: MemoryLevel }> {
  const net = new MemoryNetwork()
  const machine = new ListMachine()
  const node = new RaftNode({ id: 'solo', voters: ['solo'], storage: new LevelStorage({ db }), transport: net.transport('solo'), stateMachine: machine, tickMs: 2, snapshotEntries: 10, snapshotKeepEntries: 0, snapshotLogRatio: ratio })
  const at: number[] = []
  node.on('snapshot', (meta: { index: number }) => { at.push(meta.index) })
  await node.open()
  await node.waitForLeader()
  for (let i = 0; i < count; i++) await node.propose(enc(`c${i}`))
  await new Promise<void>((resolve) => { setTimeout(resolve, 20) })
  await node.close()
  await net.close()
  return { at, machine, db }
}

test('snapshotLogRatio: a snapshot waits until the log since the last one outgrows it; 0 takes one every snapshotEntries', async () => {
  const every = await snapshotsTaken(0, 300)
  const grown = await snapshotsTaken(1, 300)
  assert.ok(every.at.length >= 25, `ratio 0: ${every.at.length} snapshots`)
  assert.ok(grown.at.length >= 2 && grown.at.length * 3 < every.at.length, `ratio 1: ${grown.at.length} snapshots vs ${every.at.length}`)
  // Between two snapshots, the command bytes applied reach the earlier one's size (its JSON).
  const items = grown.machine.items // index i + 2 holds items[i] (index 1 is the leader's no-op)
  for (let k = 1; k < grown.at.length; k++) {
    const previousBytes = enc(JSON.stringify(items.slice(0, grown.at[k - 1]! - 1))).byteLength
    const logBytes = items.slice(grown.at[k - 1]! - 1, grown.at[k]! - 1).reduce((n, c) => n + enc(c).byteLength, 0)
    assert.ok(logBytes >= previousBytes, `snapshot ${k}: ${logBytes} command bytes since one of ${previousBytes}`)
  }
})

test('snapshotLogRatio after a restart measures against the stored snapshot, not zero', async () => {
  const first = await snapshotsTaken(1, 300)
  assert.ok(first.at.length > 0)
  // The stored snapshot holds ~200+ items (over 1 KB); 20 short commands are far below it.
  const again = await snapshotsTaken(1, 20, first.db)
  assert.equal(again.at, [], 'no snapshot after 20 entries of a few bytes')
  const eager = await snapshotsTaken(0, 20, first.db)
  assert.ok(eager.at.length > 0, 'with ratio 0 the same entries take one')
})

test('snapshotLogRatio must be a finite number ≥ 0', () => {
  const net = new MemoryNetwork()
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '1']) {
    try {
      // eslint-disable-next-line no-new
      new RaftNode({ id: 'solo', voters: ['solo'], storage: new LevelStorage({ db: new MemoryLevel() }), transport: net.transport('solo'), stateMachine: new ListMachine(), snapshotLogRatio: bad as number })
      assert.unreachable(`accepted ${String(bad)}`)
    } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'), String(err))
      assert.match((err as Error).message, /snapshotLogRatio/)
    }
  }
})

test('backgroundSnapshots must be a boolean', () => {
  const net = new MemoryNetwork()
  try {
    // eslint-disable-next-line no-new
    new RaftNode({ id: 'solo', voters: ['solo'], storage: new LevelStorage({ db: new MemoryLevel() }), transport: net.transport('solo'), stateMachine: new ListMachine(), backgroundSnapshots: 'yes' as unknown as boolean })
    assert.unreachable('accepted')
  } catch (err) {
    assert.ok(isQuorateError(err, 'OPTIONS_INVALID'), String(err))
    assert.match((err as Error).message, /backgroundSnapshots/)
  }
})

test.run()

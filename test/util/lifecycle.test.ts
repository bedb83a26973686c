/**
 * Every component that opens and closes runs on the one Lifecycle and can be disposed with
 * `await using`: racing open()/close() ends in the last call's state, and disposal closes.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Lifecycle } from '../../src/util/lifecycle.js'
import { QuorateError, isQuorateError } from '../../src/errors.js'
import { RaftNode } from '../../src/node/node.js'
import { LevelStorage } from '../../src/storage/level-storage.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { ObservedTransport } from '../../src/testing/sim/observed-transport.js'
import { MemoryNetwork, MemoryTransport } from '../../src/transport/memory.js'
import { tcpTransport } from '../../src/transport/tcp-transport.js'
import { TupleStore } from '../../src/lamport/store.js'
import { LamportClock } from '../../src/lamport/clock.js'
import { LeaseManager } from '../../src/lease/manager.js'
import { InProcessCluster } from '../../src/cluster/in-process.js'
import { ProcessCluster } from '../../src/cluster/launcher.js'

test('every component with open/close has Symbol.asyncDispose', () => {
  const classes: Array<{ name: string, prototype: object }> = [RaftNode, LevelStorage, CrashStorage, ObservedTransport, MemoryNetwork, MemoryTransport, TupleStore, LeaseManager, InProcessCluster, ProcessCluster]
  const missing = classes.filter((c) => typeof (c.prototype as Record<symbol, unknown>)[Symbol.asyncDispose] !== 'function').map((c) => c.name)
  assert.equal(missing, [])
  const tcp = tcpTransport({ id: 'a', clusterId: 'c', listen: { host: '127.0.0.1', port: 0 }, peers: {}, insecure: true })
  assert.type((tcp as unknown as Record<symbol, unknown>)[Symbol.asyncDispose], 'function')
})

test('the tuple store runs on Lifecycle: racing open and close ends in the last call state, and await using closes it', async () => {
  const store = new TupleStore({ clock: new LamportClock({ node: 1 }) })
  await Promise.all([store.open(), store.close(), store.open(), store.close(), store.open()])
  assert.is(store.status, 'open')
  {
    await using disposed = store
    assert.is(disposed.status, 'open')
  }
  assert.is(store.status, 'closed')
})

test('Lifecycle.open runs its started callback once, after the status is open, and not when already open', async () => {
  const lc = new Lifecycle('thing')
  const seen: string[] = []
  await lc.open(async () => { seen.push(`run ${lc.status}`) }, undefined, () => { seen.push(`started ${lc.status}`) })
  await lc.open(async () => { seen.push('again') }, undefined, () => { seen.push('started again') })
  assert.equal(seen, ['run opening', 'started open'])
})

test('a one-shot Lifecycle refuses to open again after a close or a failed open', async () => {
  const once = (): QuorateError => new QuorateError('TRANSPORT_CLOSED', 'gone')
  const closed = new Lifecycle('thing', { once })
  await closed.close(async () => {})
  await closed.open(async () => {}).then(() => assert.unreachable('reopened'), (err: unknown) => { assert.ok(isQuorateError(err, 'TRANSPORT_CLOSED')) })
  const failed = new Lifecycle('thing', { once })
  await failed.open(async () => { throw new Error('listen failed') }).catch(() => {})
  assert.is(failed.status, 'closed')
  await failed.open(async () => {}).then(() => assert.unreachable('reopened'), (err: unknown) => { assert.ok(isQuorateError(err, 'TRANSPORT_CLOSED')) })
  const open = new Lifecycle('thing', { once })
  await open.open(async () => {})
  await open.open(async () => { assert.unreachable('ran twice') })
  assert.is(open.status, 'open', 'opening an open one-shot component is still idempotent')
})

test.run()

/**
 * The state-machine router: routing by member id, refusals as values, mount rules, and the
 * composite snapshot (member-set check before any change, chunk boundaries anywhere, a
 * member that reads only part of its section), and applyBatch split into member runs.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { StateMachineRouter } from '../../src/sm/index.js'
import { isQuorateError } from '../../src/errors.js'
import type { StateMachine } from '../../src/node/state-machine.js'
import { stateMachineConformance } from '../../src/testing/state-machine-conformance.js'
import { encodeRegister, encodeSessionCommand } from '../../src/sessions/index.js'
import { encodeKvCommand } from '../../src/kv/index.js'
import { compositeCommands, compositeState, createComposite } from './composite.js'
import type { Composite } from './composite.js'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** A member that records what it applied and snapshots as one chunk per applied command. */
class Recorder implements StateMachine<string> {
  applied: string[] = []
  apply (command: Uint8Array, index: number): string {
    const s = `${new TextDecoder().decode(command)}@${index}`
    this.applied.push(s)
    return s
  }

  snapshot (): AsyncIterable<Uint8Array> {
    const parts = this.applied.map(text)
    return (async function * () { yield * parts })()
  }

  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const got: string[] = []
    for await (const c of chunks) got.push(new TextDecoder().decode(c))
    this.applied = got
  }
}

async function collect (stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of stream) parts.push(c)
  return Buffer.concat(parts)
}

async function * bytesOneByOne (bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1)
}

function refusal (value: unknown, code: string): void {
  assert.ok(isQuorateError(value), `expected a ${code} value, got ${String(value)}`)
  assert.is((value as { code: string }).code, code)
}

test('each command reaches the member named by its tag, with the entry index, and its result comes back', () => {
  const router = new StateMachineRouter()
  const a = router.mount('a', new Recorder())
  const ab = router.mount('ab', new Recorder())
  assert.is(router.apply(a.command(text('x')), 1), 'x@1')
  assert.is(router.apply(ab.command(text('y')), 2), 'y@2')
  assert.is(router.apply(a.command(new Uint8Array(0)), 3), '@3', 'an empty payload is a command too')
  assert.equal(a.machine.applied, ['x@1', '@3'])
  assert.equal(ab.machine.applied, ['y@2'], 'a prefix of another id does not match it')
})

test('an unknown id or a malformed tag is answered with a refusal value, identically, and changes nothing', () => {
  const router = new StateMachineRouter()
  const a = router.mount('a', new Recorder())
  refusal(router.apply(Uint8Array.of(1, 0x62, 0x78), 1), 'SM_UNKNOWN_MACHINE')
  refusal(router.apply(new Uint8Array(0), 2), 'SM_COMMAND_INVALID')
  refusal(router.apply(Uint8Array.of(0, 1), 3), 'SM_COMMAND_INVALID')
  refusal(router.apply(Uint8Array.of(65, ...new Uint8Array(70)), 4), 'SM_COMMAND_INVALID')
  refusal(router.apply(Uint8Array.of(5, 0x61), 5), 'SM_COMMAND_INVALID')
  assert.equal(a.machine.applied, [])
  const unknown = router.apply(Uint8Array.of(3, 0x66, 0x6f, 0x6f), 6) as { info: Record<string, unknown> }
  assert.equal(unknown.info, { index: 6, id: 'foo' })
})

test('mounting is refused after the first apply, for a duplicate or malformed id, and for a machine that cannot snapshot', () => {
  const router = new StateMachineRouter()
  router.mount('a', new Recorder())
  const refused = (fn: () => unknown, why: string): void => {
    assert.throws(fn, (e: unknown) => isQuorateError(e, 'SM_MOUNT_INVALID'), why)
  }
  refused(() => router.mount('a', new Recorder()), 'duplicate')
  refused(() => router.mount('', new Recorder()), 'empty id')
  refused(() => router.mount('x'.repeat(65), new Recorder()), 'too long')
  refused(() => router.mount('é', new Recorder()), 'not ASCII')
  refused(() => router.mount('-a', new Recorder()), 'must start with a letter or digit')
  refused(() => router.mount('b', { apply: () => 1 }), 'no snapshot and not declared stateless')
  refused(() => router.mount('b', { apply: () => 1, snapshot: async function * () {} }), 'snapshot without restore')
  refused(() => router.mount('b', new Recorder(), { stateless: true }), 'stateless with a snapshot')
  refused(() => router.mount('b', null as never), 'not a machine')
  assert.throws(() => router.mount('b', new Recorder(), { stateles: true } as never), (e: unknown) => isQuorateError(e, 'OPTIONS_INVALID'), 'a mistyped option')
  router.mount('view', { apply: () => 1 }, { stateless: true })
  router.apply(Uint8Array.of(1, 0x61), 1)
  refused(() => router.mount('late', new Recorder()), 'after the first apply')
  assert.throws(() => new StateMachineRouter({ maxChunkByte: 5 } as never), (e: unknown) => isQuorateError(e, 'OPTIONS_INVALID'))
})

test('a composite snapshot restores every member, re-cut into 1-byte chunks, with each member seeing its own chunks', async () => {
  const make = (): { router: StateMachineRouter, a: Recorder, b: Recorder } => {
    const router = new StateMachineRouter()
    return { router, a: router.mount('a', new Recorder()).machine, b: router.mount('b', new Recorder()).machine }
  }
  const src = make()
  src.router.apply(Uint8Array.of(1, 0x61, 0x31), 1)
  src.router.apply(Uint8Array.of(1, 0x62, 0x32), 2)
  src.router.apply(Uint8Array.of(1, 0x61, 0x33), 3)
  const dst = make()
  await dst.router.restore(bytesOneByOne(await collect(src.router.snapshot())))
  assert.equal(dst.a.applied, ['1@1', '3@3'])
  assert.equal(dst.b.applied, ['2@2'])
})

test('a snapshot whose members differ from the mounted ones is refused before any member changes', async () => {
  const src = new StateMachineRouter()
  src.mount('a', new Recorder()).machine.applied = ['kept']
  src.mount('c', new Recorder())
  const dst = new StateMachineRouter()
  const a = dst.mount('a', new Recorder()).machine
  a.applied = ['mine']
  dst.mount('b', new Recorder())
  try {
    await dst.restore(src.snapshot())
    assert.unreachable('restored')
  } catch (err) {
    assert.ok(isQuorateError(err, 'SM_SNAPSHOT_MISMATCH'), String(err))
    assert.equal((err as { info: unknown }).info, { snapshot: ['a', 'c'], mounted: ['a', 'b'] })
  }
  assert.equal(a.applied, ['mine'], 'nothing was restored')
})

test('a damaged stream is refused with SM_SNAPSHOT_INVALID: bad magic, truncation, trailing bytes, oversized chunk', async () => {
  const router = (): StateMachineRouter => {
    const r = new StateMachineRouter({ maxChunkBytes: 8 })
    r.mount('a', new Recorder()).machine.applied = ['hello']
    return r
  }
  const good = await collect(router().snapshot())
  const cases: Array<[string, Uint8Array]> = [
    ['bad magic', Uint8Array.of(0, ...good.subarray(1))],
    ['truncated', good.subarray(0, good.length - 2)],
    ['trailing', Uint8Array.of(...good, 7)],
    ['oversized chunk length', (() => { const b = good.slice(); b[11] = 0xff; return b })()]
  ]
  for (const [why, bytes] of cases) {
    try {
      await router().restore(bytesOneByOne(bytes))
      assert.unreachable(why)
    } catch (err) {
      assert.ok(isQuorateError(err, 'SM_SNAPSHOT_INVALID'), `${why}: ${String(err)}`)
    }
  }
})

test('a member chunk above maxChunkBytes is split for transport and still restores', async () => {
  const src = new StateMachineRouter({ maxChunkBytes: 3 })
  src.mount('a', new Recorder()).machine.applied = ['abcdefgh']
  const dst = new StateMachineRouter({ maxChunkBytes: 3 })
  const a = dst.mount('a', new Recorder()).machine
  await dst.restore(src.snapshot())
  assert.is(a.applied.join(''), 'abcdefgh')
})

test('a member that reads only part of its section does not shift the next member', async () => {
  class FirstOnly extends Recorder {
    override async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
      for await (const c of chunks) { this.applied = [new TextDecoder().decode(c)]; break }
    }
  }
  const src = new StateMachineRouter()
  src.mount('a', new Recorder()).machine.applied = ['1', '2', '3']
  src.mount('b', new Recorder()).machine.applied = ['x']
  const dst = new StateMachineRouter()
  const a = dst.mount('a', new FirstOnly()).machine
  const b = dst.mount('b', new Recorder()).machine
  await dst.restore(src.snapshot())
  assert.equal(a.applied, ['1'])
  assert.equal(b.applied, ['x'])
})

test('stateless members take no part in snapshots; the dispatcher routes without a snapshot of its own', async () => {
  const router = new StateMachineRouter()
  const a = router.mount('a', new Recorder())
  const dispatcher = router.dispatcher()
  router.mount('via', { apply: (c, i) => dispatcher.apply(c, i) }, { stateless: true })
  assert.is(dispatcher.snapshot, undefined)
  assert.is(router.apply(Uint8Array.of(3, 0x76, 0x69, 0x61, ...a.command(text('z'))), 1), 'z@1')
  const copy = new StateMachineRouter()
  const a2 = copy.mount('a', new Recorder())
  copy.mount('via', { apply: () => null }, { stateless: true })
  await copy.restore(router.snapshot())
  assert.equal(a2.machine.applied, ['z@1'])
})

test('sessions over the dispatcher give exactly-once to commands of any member', async () => {
  const c = await createComposite()
  const id = c.router.apply(c.session.command(encodeRegister()), 1)
  assert.is(id, 1)
  const put = c.session.command(encodeSessionCommand(1, 1, 1, c.kv.command(encodeKvCommand({ op: 'append', key: 'k', value: 'x' }))))
  c.router.apply(put, 2)
  c.router.apply(put, 3)
  assert.is(c.kv.machine.get('k'), 'x', 'the retried append applied once')
})

/** A Recorder with applyBatch that also records each batch it was given (asynchronous, as a database-backed member is). */
class BatchRecorder extends Recorder {
  batches: string[] = []
  async applyBatch (commands: readonly Uint8Array[], firstIndex: number): Promise<string[]> {
    this.batches.push(`${commands.length}@${firstIndex}`)
    await Promise.resolve()
    return commands.map((c, i) => this.apply(c, firstIndex + i))
  }
}

test('applyBatch hands each run of one member\'s commands to its applyBatch, keeps routing errors in place, and results in order', async () => {
  const router = new StateMachineRouter()
  const a = router.mount('a', new BatchRecorder())
  const b = router.mount('b', new Recorder())
  const commands = [a.command(text('1')), a.command(text('2')), b.command(text('3')), b.command(text('4')), Uint8Array.of(9), a.command(text('5')), Uint8Array.of(1, 0x7a), a.command(text('6')), a.command(text('7'))]
  const results = await router.applyBatch(commands, 10)
  assert.equal(results.slice(0, 4), ['1@10', '2@11', '3@12', '4@13'])
  refusal(results[4], 'SM_COMMAND_INVALID')
  assert.is(results[5], '5@15')
  refusal(results[6], 'SM_UNKNOWN_MACHINE')
  assert.equal(results.slice(7), ['6@17', '7@18'])
  assert.equal(a.machine.batches, ['2@10', '2@17'], 'a run of one goes through apply')
  assert.equal(b.machine.applied, ['3@12', '4@13'])
})

test('a member whose applyBatch returns the wrong number of results stops the node (a throw), never misplaces results', async () => {
  const router = new StateMachineRouter()
  const a = router.mount('a', Object.assign(new Recorder(), { applyBatch: () => ['only one'] }))
  let caught: unknown
  try { await router.applyBatch([a.command(text('1')), a.command(text('2'))], 1) } catch (err) { caught = err }
  assert.ok(isQuorateError(caught), `expected a throw, got ${String(caught)}`)
})

stateMachineConformance<StateMachineRouter>(test, {
  name: 'router with a batched member, a plain one and junk',
  seeds: 12,
  create: () => {
    const router = new StateMachineRouter()
    router.mount('a', new BatchRecorder())
    router.mount('b', new Recorder())
    return router
  },
  commands: (random, n) => Array.from({ length: n }, (_, i) => {
    const r = random.next()
    const id = r < 0.5 ? 'a' : r < 0.9 ? 'b' : 'c'
    return r < 0.95 ? Uint8Array.of(1, id.charCodeAt(0), 0x30 + (i % 10)) : Uint8Array.of(0)
  }),
  state: (router) => ['a', 'b'].map((id) => (router.route(id)!.machine as Recorder).applied)
})

const composites = new WeakMap<StateMachineRouter, Composite>()
const commands = await compositeCommands()
stateMachineConformance<Composite['router']>(test, {
  name: 'router with kv, lease, session and tuple members',
  seeds: 12,
  commandsPerRun: 80,
  create: async () => {
    const c = await createComposite()
    composites.set(c.router, c)
    return c.router
  },
  commands,
  state: (router) => compositeState(composites.get(router)!)
})

test.run()

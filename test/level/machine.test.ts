/**
 * LevelStateMachine and its codecs: the command codec round-trips every command and refuses
 * junk as a value (never a throw from apply), the machine passes the state-machine
 * conformance suite (tiny and default snapshot chunks; applyBatch cut anywhere is apply), and a snapshot streams in chunks of
 * the configured size and fails LEVEL_SNAPSHOT_INVALID when damaged.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { decodeLevelCommand, encodeLevelCommand, LevelStateMachine } from '../../src/level/index.js'
import type { LevelCommand, LevelStateMachineOptions } from '../../src/level/index.js'
import { isQuorateError } from '../../src/errors.js'
import { stateMachineConformance } from '../../src/testing/state-machine-conformance.js'
import { randomInt } from '../../src/util/random.js'
import type { Random } from '../../src/util/random.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1')

/** A machine whose whole state is also kept as a synchronous view (the conformance suite reads state synchronously). */
class ViewedMachine extends LevelStateMachine {
  view: unknown = [0, []]
  override async apply (command: Uint8Array, index: number): Promise<null | Error> {
    const r = await super.apply(command, index)
    await this.refresh()
    return r
  }

  override async applyBatch (commands: readonly Uint8Array[], firstIndex: number): Promise<Array<null | Error>> {
    const r = await super.applyBatch(commands, firstIndex)
    await this.refresh()
    return r
  }

  override async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    await super.restore(chunks)
    await this.refresh()
  }

  async refresh (): Promise<void> {
    await this.open()
    const entries = await this.data.iterator({ keyEncoding: 'view', valueEncoding: 'view' }).all()
    this.view = [this.lastIndex, entries.map(([k, v]) => [text(k), text(v)])]
  }
}

function key (random: Random): Uint8Array { return Uint8Array.of(randomInt(random, 0, 6), ...(random.next() < 0.3 ? [255] : [])) }

/** One random command: put, del, batch or clear over a few keys, or junk. */
export function randomLevelCommand (random: Random): Uint8Array {
  const r = random.next()
  if (r < 0.05) return Uint8Array.from({ length: randomInt(random, 0, 6) }, () => randomInt(random, 0, 256))
  let c: LevelCommand
  if (r < 0.4) c = { op: 'put', key: key(random), value: bytes(`v${randomInt(random, 0, 1000)}`) }
  else if (r < 0.55) c = { op: 'del', key: key(random) }
  else if (r < 0.85) {
    c = {
      op: 'batch',
      ops: Array.from({ length: randomInt(random, 0, 5) }, () => random.next() < 0.7
        ? { type: 'put' as const, key: key(random), value: bytes(`b${randomInt(random, 0, 1000)}`) }
        : { type: 'del' as const, key: key(random) })
    }
  } else {
    const lo = random.next() < 0.5 ? { gte: key(random) } : {}
    const hi = random.next() < 0.5 ? { lt: key(random) } : {}
    c = { op: 'clear', range: { ...lo, ...hi, reverse: random.next() < 0.5, limit: random.next() < 0.5 ? -1 : randomInt(random, 0, 4) } }
  }
  return encodeLevelCommand(c)
}

for (const snapshotChunkBytes of [1, 65_536]) {
  stateMachineConformance<ViewedMachine>(test, {
    name: `LevelStateMachine (snapshotChunkBytes ${snapshotChunkBytes})`,
    create: () => new ViewedMachine({ db: new MemoryLevel(), snapshotChunkBytes, restoreBatchBytes: 16 }),
    commands: (random, n) => Array.from({ length: n }, () => randomLevelCommand(random)),
    state: (m) => m.view,
    seeds: 8,
    seed: 1
  })
}

test('every command round-trips through the codec', () => {
  const commands: LevelCommand[] = [
    { op: 'put', key: bytes('a'), value: bytes('') },
    { op: 'del', key: new Uint8Array(0) },
    { op: 'batch', ops: [] },
    { op: 'batch', ops: [{ type: 'put', key: bytes('k'), value: bytes('v') }, { type: 'del', key: bytes('x') }] },
    { op: 'clear', range: { reverse: false, limit: -1 } },
    { op: 'clear', range: { gt: bytes('a'), gte: bytes('b'), lt: bytes('y'), lte: bytes('z'), reverse: true, limit: 7 } }
  ]
  for (const c of commands) assert.equal(decodeLevelCommand(encodeLevelCommand(c)), c)
})

test('a malformed command is answered with LEVEL_COMMAND_INVALID, not thrown, and changes nothing', async () => {
  const m = new ViewedMachine({ db: new MemoryLevel() })
  await m.apply(encodeLevelCommand({ op: 'put', key: bytes('a'), value: bytes('1') }), 1)
  const good = encodeLevelCommand({ op: 'batch', ops: [{ type: 'put', key: bytes('k'), value: bytes('v') }] })
  for (const junk of [new Uint8Array(0), Uint8Array.of(9), good.subarray(0, good.length - 1), Uint8Array.of(...good, 0), Uint8Array.of(3, 200, 1)]) {
    const r = await m.apply(junk, 2)
    assert.ok(isQuorateError(r, 'LEVEL_COMMAND_INVALID'), `junk ${String(junk)} gave ${String(r)}`)
  }
  assert.equal(m.view, [1, [['a', '1']]])
  assert.throws(() => encodeLevelCommand({ op: 'put', key: 'a' as unknown as Uint8Array, value: bytes('') }), (e: unknown) => isQuorateError(e, 'LEVEL_COMMAND_INVALID'))
  await m.close()
})

test('a snapshot streams the database in chunks of about snapshotChunkBytes', async () => {
  const m = new LevelStateMachine({ db: new MemoryLevel(), snapshotChunkBytes: 1000 })
  const ops = Array.from({ length: 500 }, (_, i) => ({ type: 'put' as const, key: bytes(`key${String(i).padStart(4, '0')}`), value: new Uint8Array(100).fill(i & 255) }))
  await m.apply(encodeLevelCommand({ op: 'batch', ops }), 1)
  const sizes: number[] = []
  for await (const chunk of m.snapshot()) sizes.push(chunk.length)
  assert.ok(sizes.length >= 50, `${sizes.length} chunks`)
  // Every chunk but the last ends at the first entry that reaches the bound: under bound + one entry.
  assert.ok(sizes.slice(0, -1).every((s) => s >= 1000 && s < 1000 + 130), `chunk sizes ${sizes.join(',')}`)
  await m.close()
})

async function snapshotBytes (options: Partial<LevelStateMachineOptions> = {}): Promise<Uint8Array> {
  const m = new LevelStateMachine({ db: new MemoryLevel(), ...options })
  await m.apply(encodeLevelCommand({ op: 'put', key: bytes('a'), value: bytes('1') }), 5)
  const parts: Uint8Array[] = []
  for await (const c of m.snapshot()) parts.push(c)
  await m.close()
  return Buffer.concat(parts)
}

test('a damaged snapshot fails LEVEL_SNAPSHOT_INVALID: truncated, trailing bytes, bad version or tag', async () => {
  const good = await snapshotBytes()
  const damaged = [good.subarray(0, good.length - 1), Uint8Array.of(...good, 0), Uint8Array.of(2, ...good.subarray(1)), Uint8Array.of(...good.subarray(0, 9), 7, ...good.subarray(10))]
  for (const bad of damaged) {
    const m = new LevelStateMachine({ db: new MemoryLevel() })
    let caught: unknown
    try { await m.restore((async function * () { yield bad })()) } catch (err) { caught = err }
    assert.ok(isQuorateError(caught, 'LEVEL_SNAPSHOT_INVALID'), String(caught))
    await m.close()
  }
  const m = new LevelStateMachine({ db: new MemoryLevel() })
  await m.restore((async function * () { yield good })())
  assert.is(m.lastIndex, 5)
  assert.is(await m.data.get('a', { keyEncoding: 'utf8', valueEncoding: 'utf8' }), '1')
  await m.close()
})

test('over a sublevel, apply and applyBatch write the same keys: prefixed with data/meta under the sublevel', async () => {
  const put = (k: string, v: string): Uint8Array => encodeLevelCommand({ op: 'put', key: bytes(k), value: bytes(v) })
  for (const batched of [false, true]) {
    const root = new MemoryLevel()
    const m = new LevelStateMachine({ db: root.sublevel('app') as unknown as LevelStateMachineOptions['db'] })
    const commands = [put('a', '1'), encodeLevelCommand({ op: 'batch', ops: [{ type: 'put', key: bytes('b'), value: bytes('2') }, { type: 'del', key: bytes('a') }] }), put('', 'empty')]
    if (batched) await m.applyBatch(commands, 1)
    else for (let i = 0; i < commands.length; i++) await m.apply(commands[i]!, i + 1)
    const keys = await root.keys({ keyEncoding: 'utf8' }).all()
    assert.equal(keys, ['!app!!data!', '!app!!data!b', '!app!!meta!applied'], `batched ${String(batched)}`)
    // A second machine over the same sublevel finds the applied index where the first put it.
    const again = new LevelStateMachine({ db: root.sublevel('app') as unknown as LevelStateMachineOptions['db'] })
    await again.open()
    assert.is(again.lastIndex, 3)
    await root.close()
  }
})

test('LevelStateMachine options are validated: unknown keys, a non-database, bad sizes', () => {
  const bad: unknown[] = [undefined, {}, { db: {} }, { db: new MemoryLevel(), chunkBytes: 1 }, { db: new MemoryLevel(), snapshotChunkBytes: 0 }, { db: new MemoryLevel(), restoreBatchBytes: 1.5 }]
  for (const options of bad) {
    assert.throws(() => new LevelStateMachine(options as LevelStateMachineOptions), (e: unknown) => isQuorateError(e, 'OPTIONS_INVALID'))
  }
})

test.run()

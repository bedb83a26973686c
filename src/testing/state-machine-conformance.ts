/**
 * The behaviour every StateMachine must show to be replicated safely, as a suite any test
 * runner can host (pass uvu's `test`). Each check runs over several seeds, drawing commands
 * from the user's generator and cutting snapshot streams at random places, because a
 * transfer re-chunks snapshots (snapshotChunkBytes) and replicas apply at their own pace.
 *
 * What it checks: apply is deterministic (same commands, same results and state); applyBatch,
 * if the machine has it, is apply (the same results and state however the commands are cut
 * into batches, 1-entry batches included, and mixed with single applies); a snapshot
 * captures the state as of the snapshot() call, not of the first read of the stream, even with
 * commands applied between its chunks (the node applies while it writes a snapshot); restore
 * replaces all earlier state; a restored machine continues exactly like the original, with
 * the stream cut at any byte boundary.
 *
 * @example
 * import { test } from 'uvu'
 * import { stateMachineConformance } from 'quorate/testing'
 * stateMachineConformance(test, {
 *   name: 'counter',
 *   create: () => new CounterMachine(),
 *   commands: (random, n) => Array.from({ length: n }, () => encodeAdd(randomInt(random, 1, 9))),
 *   state: (m) => m.value
 * })
 * test.run()
 */
import * as assert from 'node:assert/strict'
import type { StateMachine } from '../node/state-machine.js'
import { concatBytes } from '../util/bytes.js'
import { randomInt, SeededRandom } from '../util/random.js'
import type { Random } from '../util/random.js'
import { stableStringify } from './model.js'
import type { TestRegistrar } from './storage-conformance.js'

export interface StateMachineConformanceOptions<M extends StateMachine> {
  /** Prefixes every test name. */
  readonly name: string
  /** A new machine with the empty state. */
  create (): M | Promise<M>
  /** `count` commands drawn from `random`: draw every kind of command the machine accepts, bad ones too. */
  commands (random: Random, count: number): Uint8Array[]
  /** A JSON-comparable view of the whole state: equal exactly when two states are equal. */
  state (machine: M): unknown
  /** Seeds per check. @default 10 */
  readonly seeds?: number
  /** Commands per run. @default 60 */
  readonly commandsPerRun?: number
  /** First seed (runs use seed, seed + 1, ...). @default 1 */
  readonly seed?: number
}

/** A result as comparable text: errors by name, code and message (their stacks differ). */
function describeResult (value: unknown): string {
  if (value instanceof Error) return `${value.name} ${(value as { code?: string }).code ?? ''}: ${value.message}`
  return stableStringify(value)
}

async function applyAll<M extends StateMachine> (machine: M, commands: readonly Uint8Array[], firstIndex: number): Promise<string[]> {
  const results: string[] = []
  for (let i = 0; i < commands.length; i++) results.push(describeResult(await machine.apply(commands[i]!, firstIndex + i)))
  return results
}

/**
 * Applies `commands` from `firstIndex` in batches of random sizes drawn from `random` (1 up
 * to a third of the run, sometimes the whole run), a few of them through apply instead.
 */
async function applyInRandomBatches<M extends StateMachine> (machine: M, commands: readonly Uint8Array[], firstIndex: number, random: Random): Promise<string[]> {
  const results: string[] = []
  const most = Math.max(1, Math.ceil(commands.length / 3))
  for (let at = 0; at < commands.length;) {
    const r = random.next()
    const n = r < 0.1 ? commands.length - at : r < 0.3 ? 1 : randomInt(random, 1, most + 1)
    const run = commands.slice(at, Math.min(commands.length, at + n))
    if (run.length === 1 && random.next() < 0.3) {
      results.push(describeResult(await machine.apply(run[0]!, firstIndex + at)))
    } else {
      const out = await machine.applyBatch!(run, firstIndex + at)
      assert.ok(Array.isArray(out), `applyBatch at index ${firstIndex + at} returned ${typeof out}, not an array`)
      assert.equal(out.length, run.length, `applyBatch of ${run.length} commands at index ${firstIndex + at} returned ${out.length} results`)
      for (const v of out) results.push(describeResult(v))
    }
    at += run.length
  }
  return results
}

async function collect (stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of stream) parts.push(c)
  return concatBytes(parts)
}

/** `bytes` re-cut into pieces of random sizes (1 byte up to a quarter of the whole). */
async function * recut (bytes: Uint8Array, random: Random): AsyncGenerator<Uint8Array> {
  const most = Math.max(1, bytes.length >> 2)
  for (let at = 0; at < bytes.length;) {
    const n = random.next() < 0.2 ? 1 : randomInt(random, 1, most + 1)
    yield bytes.slice(at, Math.min(bytes.length, at + n))
    at += n
  }
}

export function stateMachineConformance<M extends StateMachine> (test: TestRegistrar, options: StateMachineConformanceOptions<M>): void {
  const seeds = options.seeds ?? 10
  const perRun = options.commandsPerRun ?? 60
  const first = options.seed ?? 1
  const view = (m: M): string => stableStringify(options.state(m))
  const each = (title: string, body: (random: Random, seed: number) => Promise<void>): void => {
    test(`${options.name}: ${title}`, async () => {
      for (let seed = first; seed < first + seeds; seed++) {
        try {
          await body(new SeededRandom(seed), seed)
        } catch (err) {
          if (err instanceof Error) err.message = `seed ${seed}: ${err.message}`
          throw err
        }
      }
    })
  }

  each('apply is deterministic: the same commands give the same results and state', async (random) => {
    const commands = options.commands(random, perRun)
    const a = await options.create()
    const b = await options.create()
    assert.deepEqual(await applyAll(b, commands, 1), await applyAll(a, commands, 1))
    assert.equal(view(b), view(a))
  })

  each('applyBatch is apply: the same results and state however the commands are cut into batches', async (random) => {
    const probe = await options.create()
    if (typeof probe.applyBatch !== 'function') return
    const commands = options.commands(random, perRun)
    // The run starts at a drawn index, as a batch after a snapshot or a no-op entry does.
    const firstIndex = random.next() < 0.5 ? 1 : randomInt(random, 2, 1000)
    const single = await options.create()
    const expected = await applyAll(single, commands, firstIndex)
    assert.deepEqual(await applyInRandomBatches(probe, commands, firstIndex, random), expected, 'results')
    assert.equal(view(probe), view(single), 'state')
  })

  let snapshots: Promise<boolean> | undefined
  /** Whether the machine snapshots at all (asked once: the checks below need it to). */
  const stateful = async (): Promise<boolean> => {
    snapshots ??= Promise.resolve(options.create()).then((m) => typeof m.snapshot === 'function' && typeof m.restore === 'function')
    return await snapshots
  }
  /** A run's commands, a cut point drawn in them, and a machine that applied the commands before it. */
  const appliedUpToCut = async (random: Random): Promise<{ commands: Uint8Array[], cut: number, original: M }> => {
    const commands = options.commands(random, perRun)
    const cut = randomInt(random, 0, commands.length + 1)
    const original = await options.create()
    await applyAll(original, commands.slice(0, cut), 1)
    return { commands, cut, original }
  }

  each('a restored machine continues like the original, the snapshot stream cut anywhere', async (random) => {
    if (!await stateful()) return
    const { commands, cut, original } = await appliedUpToCut(random)
    const bytes = await collect(original.snapshot!())
    const copy = await options.create()
    await copy.restore!(recut(bytes, random))
    assert.equal(view(copy), view(original), 'state right after restore')
    const later = commands.slice(cut)
    assert.deepEqual(await applyAll(copy, later, cut + 1), await applyAll(original, later, cut + 1), 'results after restore')
    assert.equal(view(copy), view(original), 'state after the later commands')
  })

  each('a snapshot holds the state as of the snapshot() call, not of the first read', async (random) => {
    if (!await stateful()) return
    const { commands, cut, original } = await appliedUpToCut(random)
    const expected = view(original)
    const stream = original.snapshot!()
    await applyAll(original, commands.slice(cut), cut + 1)
    const copy = await options.create()
    await copy.restore!(recut(await collect(stream), random))
    assert.equal(view(copy), expected)
  })

  // The node goes on applying entries while it writes a snapshot (RaftNodeOptions
  // backgroundSnapshots), so commands land between the stream's chunks, not only before the
  // first read: a machine that captured only its first chunk at the call fails here.
  each('a snapshot holds the state as of the snapshot() call while commands are applied between its chunks', async (random) => {
    if (!await stateful()) return
    const { commands, cut, original } = await appliedUpToCut(random)
    const expected = view(original)
    const parts: Uint8Array[] = []
    const later = commands.slice(cut)
    let next = 0
    for await (const chunk of original.snapshot!()) {
      parts.push(chunk.slice())
      const take = randomInt(random, 0, Math.max(1, later.length - next))
      await applyAll(original, later.slice(next, next + take), cut + 1 + next)
      next += take
    }
    await applyAll(original, later.slice(next), cut + 1 + next)
    const copy = await options.create()
    await copy.restore!(recut(concatBytes(parts), random))
    assert.equal(view(copy), expected)
  })

  each('restore replaces every earlier state', async (random) => {
    if (!await stateful()) return
    const source = await options.create()
    await applyAll(source, options.commands(random, perRun), 1)
    const target = await options.create()
    await applyAll(target, options.commands(random, perRun), 1)
    await target.restore!(recut(await collect(source.snapshot!()), random))
    assert.equal(view(target), view(source))
  })
}

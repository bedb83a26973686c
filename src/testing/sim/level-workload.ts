/**
 * The simulator workload for quorate/level: clients put, delete and batch-write a few keys
 * through the LevelStateMachine mounted on a StateMachineRouter (over memory-level), and
 * read single keys or every key at once, checked for linearizability against a sequential
 * map. A batch writes one fresh value to several keys, and a read of every key sees all of a
 * batch or none of it in any linearization, so a batch applied in part (say, across a leader
 * crash) is a violation: batches are atomic exactly when the histories are linearizable.
 *
 * The multi-key reads tie the keys together, so the history is checked whole (no per-key
 * partition); the key count stays small to keep the search cheap.
 */
import { MemoryLevel } from 'memory-level'
import { isQuorateError } from '../../errors.js'
import { encodeLevelCommand } from '../../level/codec.js'
import type { LevelCommand } from '../../level/codec.js'
import { LevelStateMachine } from '../../level/machine.js'
import { StateMachineRouter } from '../../sm/router.js'
import type { Route } from '../../sm/route.js'
import { randomInt } from '../../util/random.js'
import { REJECT, UNKNOWN } from '../model.js'
import type { Model } from '../model.js'
import type { SimWorkload } from './workload.js'

export type LevelInput =
  | { readonly op: 'get', readonly key: string }
  | { readonly op: 'read', readonly keys: readonly string[] }
  | { readonly op: 'put', readonly key: string, readonly value: string }
  | { readonly op: 'del', readonly key: string }
  | { readonly op: 'batch', readonly keys: readonly string[], readonly value: string }

export type LevelOutput =
  | { readonly op: 'get', readonly value: string | null }
  | { readonly op: 'read', readonly values: ReadonlyArray<string | null> }
  | { readonly op: 'ok' }
  | { readonly op: 'refused', readonly code: string }

type LevelState = ReadonlyMap<string, string>

/** The level member on a router, as every simulated node runs it. */
export class SimLevelRouter extends StateMachineRouter {
  readonly level: Route<LevelStateMachine>

  constructor () {
    super()
    this.level = this.mount('level', new LevelStateMachine({ db: new MemoryLevel(), snapshotChunkBytes: 64 }))
    // Opening takes microtasks only; applies and restores wait for it anyway.
    void this.level.machine.open()
  }

  /** This replica's value of `key` (a read runs after the node's read barrier). */
  get (key: string): string | null {
    const data = this.level.machine.data
    // Not open yet: nothing was applied or restored, the state is empty.
    if (data.status !== 'open') return null
    return (data.getSync(key, UTF8) as string | undefined) ?? null
  }
}

/** The replicated keys are bytes; the workload's are strings. */
const UTF8 = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const

const enc = new TextEncoder()
const b = (s: string): Uint8Array => enc.encode(s)

function command (input: LevelInput): LevelCommand {
  switch (input.op) {
    case 'put': return { op: 'put', key: b(input.key), value: b(input.value) }
    case 'del': return { op: 'del', key: b(input.key) }
    case 'batch': return { op: 'batch', ops: input.keys.map((k) => ({ type: 'put' as const, key: b(k), value: b(input.value) })) }
    default: throw new Error(`${input.op} is a read`)
  }
}

function sameValues (a: ReadonlyArray<string | null>, b: ReadonlyArray<string | null>): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

export const levelModel: Model<LevelState, LevelInput, LevelOutput> = {
  init: () => new Map(),
  step: (state, input, output) => {
    if (output !== UNKNOWN && output.op === 'refused') return REJECT
    switch (input.op) {
      case 'get':
        return output === UNKNOWN || (output.op === 'get' && output.value === (state.get(input.key) ?? null)) ? { ok: true, state } : REJECT
      case 'read':
        return output === UNKNOWN || (output.op === 'read' && sameValues(output.values, input.keys.map((k) => state.get(k) ?? null))) ? { ok: true, state } : REJECT
      case 'put': case 'del': case 'batch': {
        const next = new Map(state)
        if (input.op === 'del') next.delete(input.key)
        else for (const k of input.op === 'put' ? [input.key] : input.keys) next.set(k, input.value)
        return { ok: true, state: next }
      }
    }
  },
  hash: (state) => [...state.entries()].sort((x, y) => x[0] < y[0] ? -1 : 1).map(([k, v]) => `${k}=${v}`).join(','),
  equal: (x, y) => x.size === y.size && [...x].every(([k, v]) => y.get(k) === v)
}

export interface LevelWorkloadOptions {
  /** Keys "k0", "k1", ... @default 3 */
  keys?: number
}

export function levelSimWorkload (options: LevelWorkloadOptions = {}): SimWorkload<LevelInput, LevelOutput, SimLevelRouter> {
  const keyCount = options.keys ?? 3
  const all = Array.from({ length: keyCount }, (_, i) => `k${i}`)
  const probe = new SimLevelRouter()
  return {
    createStateMachine: () => new SimLevelRouter(),
    createGenerator: (random) => {
      let counter = 0
      return {
        next: (client): LevelInput => {
          const r = random.next()
          const key = all[randomInt(random, 0, keyCount)]!
          const value = `c${client}v${++counter}`
          if (r < 0.2) return { op: 'get', key }
          if (r < 0.4) return { op: 'read', keys: all }
          if (r < 0.6) return { op: 'put', key, value }
          if (r < 0.7) return { op: 'del', key }
          // A batch over two or more keys, so a partial one is visible to a read of all keys.
          const from = randomInt(random, 0, keyCount - 1)
          return { op: 'batch', keys: all.slice(from, Math.min(keyCount, from + randomInt(random, 2, keyCount + 1))), value }
        }
      }
    },
    isRead: (input) => input.op === 'get' || input.op === 'read',
    encode: (input) => probe.level.command(encodeLevelCommand(command(input))),
    query: (machine, input): LevelOutput => input.op === 'get'
      ? { op: 'get', value: machine.get(input.key) }
      : { op: 'read', values: (input as { readonly keys: readonly string[] }).keys.map((k) => machine.get(k)) },
    output: (result): LevelOutput => isQuorateError(result) ? { op: 'refused', code: result.code } : result instanceof Error ? { op: 'refused', code: result.message } : { op: 'ok' },
    model: levelModel
  }
}

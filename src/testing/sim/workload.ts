/**
 * What simulated clients do: the state machine each node runs, the operations clients issue,
 * how each reaches the cluster (a read through `node.read()` and then the local state, a write
 * through `node.propose()`), and the sequential model the history is checked against.
 * `kvSimWorkload()` is the built-in one; implement `SimWorkload` to test your own state machine.
 */
import type { StateMachine } from '../../node/state-machine.js'
import type { Random } from '../../util/random.js'
import type { Model } from '../model.js'
import { KvStateMachine } from '../../kv/state-machine.js'
import { encodeKvCommand } from '../../kv/command.js'
import { kvModel } from '../kv-model.js'
import type { KvInput, KvOutput } from '../kv-model.js'
import { KvWorkload } from '../kv-workload.js'
import type { KvWorkloadOptions } from '../kv-workload.js'

export interface SimWorkload<Input, Output, Machine extends StateMachine = StateMachine> {
  /** A fresh, empty state machine for one node incarnation (a restarted node replays its log). */
  createStateMachine: () => Machine
  /** A generator of client operations for one run, drawing from `random`. */
  createGenerator: (random: Random) => { next: (client: number) => Input }
  /** True for a read-only operation (served by ReadIndex + `query`), false for a write. */
  isRead: (input: Input) => boolean
  /** The command a write proposes. */
  encode: (input: Input) => Uint8Array
  /** Answers a read from a node's local state machine (after `node.read()` resolved). */
  query: (machine: Machine, input: Input) => Output
  /** Turns what the state machine's `apply` returned for a write into the history's output. */
  output: (applyResult: unknown, input: Input) => Output
  /** The sequential specification the history must be linearizable against. */
  model: Model<any, Input, Output>
}

/**
 * The key-value workload: get / put / cas / append on a few keys, every written value unique.
 * Reads (`get`) go through ReadIndex; put, cas and append are proposed.
 */
export function kvSimWorkload (options: KvWorkloadOptions = {}): SimWorkload<KvInput, KvOutput, KvStateMachine> {
  return {
    createStateMachine: () => new KvStateMachine(),
    createGenerator: (random) => {
      const w = new KvWorkload(random, options)
      return { next: () => w.next() }
    },
    isRead: (input) => input.op === 'get',
    encode: encodeKvCommand,
    query: (machine, input) => ({ op: 'get', value: machine.get(input.key) }),
    output: (result) => result as KvOutput,
    model: kvModel
  }
}

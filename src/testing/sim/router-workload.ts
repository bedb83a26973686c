/**
 * The simulator workload that runs every machine quorate ships on one log through a
 * StateMachineRouter: the key-value machine (checked for linearizability, per key), the lease
 * table, client-session registration (over the router's dispatcher) and the tuple adapter.
 * Snapshots are the router's composite stream, so every snapshot taken, sent in chunks and
 * installed under faults carries all four members, and the simulator's snapshot checks
 * compare the composite state of replicas at the same index.
 *
 * What the model checks beyond key-value linearizability: session ids (log indexes) grow in
 * linearization order; lease and tuple commands reach their member and come back as its
 * outcome (a misrouted command comes back as an SM_* refusal, which the model rejects). The
 * lease and tuple outcomes themselves are not checked against a sequential model here (their
 * own suites and simulators do that); their replicated state is, by the snapshot checks.
 */
import { isQuorateError } from '../../errors.js'
import { encodeKvCommand } from '../../kv/command.js'
import { KvStateMachine } from '../../kv/state-machine.js'
import type { KvInput, KvOutput } from '../../kv/semantics.js'
import { LamportClock } from '../../lamport/clock.js'
import { TupleStateMachine } from '../../lamport/state-machine.js'
import { TupleStore } from '../../lamport/store.js'
import { negative, positive } from '../../lamport/update.js'
import { ANY } from '../../lamport/tuple.js'
import { encodeLeaseCommand } from '../../lease/command.js'
import { LeaseTable } from '../../lease/table.js'
import type { StateMachine } from '../../node/state-machine.js'
import { encodeRegister } from '../../sessions/codec.js'
import { SessionStateMachine } from '../../sessions/state-machine.js'
import { StateMachineRouter } from '../../sm/router.js'
import type { Route } from '../../sm/route.js'
import { randomInt } from '../../util/random.js'
import { kvModel } from '../kv-model.js'
import { KvWorkload } from '../kv-workload.js'
import type { Operation } from '../history.js'
import { REJECT, UNKNOWN } from '../model.js'
import type { Model, StepResult, Unknown } from '../model.js'
import type { SimWorkload } from './workload.js'

/** A command for one of the side members (everything that is not a key-value operation). */
export type SideInput =
  | { readonly m: 'lease', readonly op: 'acquire', readonly name: string, readonly holder: string }
  | { readonly m: 'lease', readonly op: 'release', readonly name: string, readonly holder: string, readonly token: number }
  | { readonly m: 'tuple', readonly op: 'add' | 'cancel', readonly key: string }
  | { readonly m: 'session', readonly op: 'register' }

/** Key-value operations stay plain KvInputs, so the key-value model reads them as they are. */
export type RouterInput = (KvInput & { readonly m?: undefined }) | SideInput

export type SideOutput = { readonly ok: boolean } | { readonly id: number } | { readonly refused: string }
export type RouterOutput = KvOutput | SideOutput

/** Every member in one router; the fields let queries and tests reach them. */
export class SimRouter extends StateMachineRouter {
  readonly kv: Route<KvStateMachine>
  readonly lease: Route<LeaseTable>
  readonly session: Route<SessionStateMachine>
  readonly tuple: Route<OpenedFirst<TupleStateMachine>>

  constructor () {
    super()
    this.kv = this.mount('kv', new KvStateMachine({ snapshotChunkBytes: 256 }))
    this.lease = this.mount('lease', new LeaseTable())
    this.session = this.mount('session', new SessionStateMachine(this.dispatcher()))
    // A memory-only store opens in a microtask; the adapter waits for it before any apply.
    const store = new TupleStore({ clock: new LamportClock({ node: 1 }) })
    const opened = store.open()
    this.tuple = this.mount('tuple', new OpenedFirst(new TupleStateMachine(store), opened))
  }
}

/** Delays apply and restore of `inner` until `ready` settled (a store that opens asynchronously). */
class OpenedFirst<M extends StateMachine> implements StateMachine {
  constructor (readonly inner: M, readonly ready: Promise<void>) {}
  async apply (command: Uint8Array, index: number): Promise<unknown> {
    await this.ready
    return await this.inner.apply(command, index)
  }

  snapshot (): AsyncIterable<Uint8Array> { return this.inner.snapshot!() }
  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    await this.ready
    await this.inner.restore!(chunks)
  }
}

interface RouterState { readonly kv: unknown, readonly lastSession: number }

function sideStep (state: RouterState, input: SideInput, output: RouterOutput | Unknown): StepResult<RouterState> {
  if (input.m === 'session') {
    if (output === UNKNOWN) return { ok: true, state }
    if (!('id' in output) || output.id <= state.lastSession) return REJECT
    return { ok: true, state: { ...state, lastSession: output.id } }
  }
  if (output === UNKNOWN) return { ok: true, state }
  return 'ok' in output ? { ok: true, state } : REJECT
}

const kvStep = kvModel.step as (s: unknown, i: KvInput, o: KvOutput | Unknown) => StepResult<unknown>

export const routerModel: Model<RouterState, RouterInput, RouterOutput> = {
  init: () => ({ kv: kvModel.init(), lastSession: 0 }),
  step: (state, input, output) => {
    if (input.m !== undefined) return sideStep(state, input, output)
    const r = kvStep(state.kv, input, output as KvOutput | Unknown)
    return r.ok ? { ok: true, state: { kv: r.state, lastSession: state.lastSession } } : REJECT
  },
  partition: (history) => {
    const kvOps: Array<Operation<KvInput, KvOutput>> = []
    const parts = new Map<string, Array<Operation<RouterInput, RouterOutput>>>()
    for (const op of history) {
      if (op.input.m === undefined) { kvOps.push(op as Operation<KvInput, KvOutput>); continue }
      const list = parts.get(op.input.m) ?? []
      list.push(op)
      parts.set(op.input.m, list)
    }
    for (const [key, ops] of kvModel.partition!(kvOps)) parts.set(`kv:${key}`, ops as Array<Operation<RouterInput, RouterOutput>>)
    return parts
  },
  prune: (history) => history[0]?.input.m === undefined ? kvModel.prune!(history as Array<Operation<KvInput, KvOutput>>) as typeof history : history,
  hash: (state) => `${String(kvModel.hash!(state.kv as never))}|${state.lastSession}`,
  equal: (a, b) => a.lastSession === b.lastSession && kvModel.equal!(a.kv as never, b.kv as never)
}

/** The proposer-side tuple stamps: one clock for the run, so encode stays a pure function of its input order. */
function tupleEncoder (): (input: SideInput & { m: 'tuple' }) => Uint8Array {
  const stamper = new TupleStateMachine(new TupleStore({ clock: new LamportClock({ node: 2 }) }))
  return (input) => stamper.command([input.op === 'add' ? positive(['job', input.key]) : negative(['job', ANY])])
}

export interface RouterWorkloadOptions {
  /** Share of operations for the side members (lease, tuple, session). @default 0.3 */
  sideShare?: number
}

export function routerSimWorkload (options: RouterWorkloadOptions = {}): SimWorkload<RouterInput, RouterOutput, SimRouter> {
  const sideShare = options.sideShare ?? 0.3
  const encodeTuple = tupleEncoder()
  const probe = new SimRouter()
  return {
    createStateMachine: () => new SimRouter(),
    createGenerator: (random) => {
      const kv = new KvWorkload(random, { keys: 3 })
      return {
        next: (client): RouterInput => {
          if (random.next() >= sideShare) return kv.next()
          const r = random.next()
          const name = `L${randomInt(random, 0, 2)}`
          const holder = `c${client}`
          if (r < 0.3) return { m: 'lease', op: 'acquire', name, holder }
          if (r < 0.5) return { m: 'lease', op: 'release', name, holder, token: randomInt(random, 1, 200) }
          if (r < 0.8) return { m: 'tuple', op: random.next() < 0.7 ? 'add' : 'cancel', key: `k${randomInt(random, 0, 3)}` }
          return { m: 'session', op: 'register' }
        }
      }
    },
    isRead: (input) => input.m === undefined && input.op === 'get',
    encode: (input) => {
      switch (input.m) {
        case undefined: return probe.kv.command(encodeKvCommand(input))
        case 'lease': return probe.lease.command(encodeLeaseCommand(input.op === 'acquire'
          ? { op: 'acquire', name: input.name, holder: input.holder, durationMs: 1000, expectVersion: 0 }
          : { op: 'release', name: input.name, holder: input.holder, token: input.token }))
        case 'tuple': return probe.tuple.command(encodeTuple(input))
        case 'session': return probe.session.command(encodeRegister())
      }
    },
    query: (machine, input) => ({ op: 'get', value: machine.kv.machine.get((input as KvInput).key) }),
    output: (result, input): RouterOutput => {
      if (isQuorateError(result)) return { refused: result.code }
      if (input.m === undefined) return result as KvOutput
      if (input.m === 'session') return typeof result === 'number' ? { id: result } : { refused: String(result) }
      const ok = (result as { ok?: unknown } | null)?.ok
      return typeof ok === 'boolean' ? { ok } : { refused: String(result) }
    },
    model: routerModel
  }
}

/**
 * The state machines a B2 node process (node-process.ts) can run, chosen by its `machine`
 * option, and how a proposal's result becomes the response body (ha-wire.ts):
 *
 * - 'counter': CounterMachine, the plain B2 (every command counted).
 * - 'graph': a StateMachineRouter with the GraphStateMachine (and so its events queue)
 *   mounted as 'graph', as the README's graph example and production mount it. An events
 *   consumer on the leader handles (trims) queued events in batches, as a coordinator
 *   would, so the queue stays bounded during a long emit run instead of filling up with
 *   EVENTS_QUEUE_FULL.
 * - 'level': a StateMachineRouter with a LevelStateMachine over classic-level (its own
 *   directory beside the node's Raft log) mounted as 'level'.
 *
 * Clients send routed commands (route prefix + the member's encoded command); the result of
 * the proposal is mapped to a status by `respond`, the same for every kind.
 */
import { ClassicLevel } from 'classic-level'
import { isQuorateError } from '../src/errors.js'
import { defineSchema } from '../src/graph/schema.js'
import { encodeCommand } from '../src/graph/codec.js'
import { GraphStateMachine } from '../src/graph/state-machine.js'
import { LevelStateMachine } from '../src/level/machine.js'
import type { StateMachine } from '../src/node/state-machine.js'
import { StateMachineRouter } from '../src/sm/router.js'
import { CounterMachine } from './counter-machine.js'
import { encodeHaResponse, STATUS_DUPLICATE, STATUS_OK, STATUS_REFUSED } from './ha-wire.js'

export const BENCH_MACHINE_KINDS = ['counter', 'graph', 'level'] as const
export type BenchMachineKind = typeof BENCH_MACHINE_KINDS[number]

/** The route ids the members are mounted under (clients prefix their commands with them). */
export const GRAPH_ROUTE = 'graph'
export const LEVEL_ROUTE = 'level'

/** The graph benchmark's schema: hosts with disks, a disk on at most one host. */
export const BENCH_SCHEMA = defineSchema({
  kinds: {
    host: { fields: { address: 'string' } },
    disk: { fields: { serial: 'string', sizeGiB: 'integer', healthy: 'boolean' } }
  },
  relations: { holds: { from: 'host', to: 'disk', outgoing: 'many', incoming: 'one' } },
  roots: ['host']
})

/** The consumer trims once this many events are queued, at most this many per handle entry. */
export const TRIM_AT = 4096

export interface BenchMachineContext {
  /** The node's data directory; a level machine keeps its database at `${dataDir}-level`. */
  readonly dataDir: string
  /** Proposes a command on the node (called only after the node opened). */
  readonly propose: (command: Uint8Array) => Promise<unknown>
  /** Whether the node is the leader now. */
  readonly isLeader: () => boolean
}

export interface BenchMachine {
  readonly kind: BenchMachineKind
  readonly stateMachine: StateMachine
  /** Commands applied (log entries for the router kinds: the members' applied index). */
  readonly applied: number
  /** Kind-specific figures for the meter (events remembered for dedup, trims). */
  stats: () => Record<string, number>
  /** After the node closed: closes what the machine opened (the level database). */
  close: () => Promise<void>
}

/** The response body for what a proposal resolved with (see ha-wire.ts). */
export function respond (result: unknown): Uint8Array {
  if (isQuorateError(result)) return encodeHaResponse(STATUS_REFUSED, -1, result.code)
  if (result === null || typeof result !== 'object' || !('status' in result)) return encodeHaResponse(STATUS_OK)
  const r = result as { status: string, index: number, code?: string }
  switch (r.status) {
    case 'ok':
    case 'stored': return encodeHaResponse(STATUS_OK, r.index)
    case 'duplicate': return encodeHaResponse(STATUS_DUPLICATE, r.index)
    default: return encodeHaResponse(STATUS_REFUSED, -1, r.code ?? 'UNKNOWN')
  }
}

export function createBenchMachine (kind: BenchMachineKind, ctx: BenchMachineContext): BenchMachine {
  switch (kind) {
    case 'counter': {
      const machine = new CounterMachine()
      return { kind, stateMachine: machine, get applied () { return machine.applied }, stats: () => ({}), close: async () => {} }
    }
    case 'graph': return graphMachine(ctx)
    case 'level': {
      const router = new StateMachineRouter()
      const level = router.mount(LEVEL_ROUTE, new LevelStateMachine({ db: new ClassicLevel(`${ctx.dataDir}-level`) })).machine
      return { kind, stateMachine: router, get applied () { return level.lastIndex }, stats: () => ({}), close: async () => await level.close() }
    }
    default: throw new Error(`machine must be one of ${BENCH_MACHINE_KINDS.join(', ')} (got ${JSON.stringify(kind)})`)
  }
}

function graphMachine (ctx: BenchMachineContext): BenchMachine {
  const router = new StateMachineRouter()
  const route = router.mount(GRAPH_ROUTE, new GraphStateMachine(BENCH_SCHEMA))
  const graph = route.machine
  let trimming = false
  let trims = 0
  let trimmed = 0
  let trimFailures = 0
  let stored = 0
  const trim = (): void => {
    const ids = graph.events.list(0, TRIM_AT).map((e) => e.id)
    ctx.propose(route.command(encodeCommand({ type: 'tx', time: Date.now(), expect: [], ops: [], trim: ids }))).then(
      (result) => {
        if ((result as { status?: string }).status === 'ok') { trims++; trimmed += ids.length } else trimFailures++
      },
      () => { trimFailures++ }
    ).finally(() => { trimming = false })
  }
  graph.onChange((change) => {
    if (change.type !== 'emit') return
    stored++
    if (trimming || graph.events.size < TRIM_AT || !ctx.isLeader()) return
    trimming = true
    // Proposed after this apply returns, not from inside it.
    queueMicrotask(trim)
  })
  return {
    kind: 'graph',
    stateMachine: router,
    get applied () { return graph.appliedIndex },
    stats: () => ({ eventsStored: stored, eventsRemembered: graph.events.remembered, eventsQueued: graph.events.size, resources: graph.graph.size, trims, trimmed, trimFailures }),
    close: async () => {}
  }
}

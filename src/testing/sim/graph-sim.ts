/**
 * The graph + events workload for the simulator: every node runs a GraphStateMachine, and
 * clients under faults issue
 * - emits of producer UUIDs, often retried (the same UUID again, as a producer does after a
 *   timeout or a leader change): the model answers 'duplicate' for an id stored within the
 *   dedup window, so one UUID is never stored twice and a retry of a committed event is told so;
 * - handles: trim one event in the same entry as a graph write (both or neither), under the
 *   consumer's own fencing token, so that a handle from a deposed consumer is refused and
 *   must leave its event queued;
 * - claims (create-if-absent, a compare-and-set on version 0) and releases of a slot, each
 *   under a fencing token that clients sometimes hold stale: the machine must refuse an older
 *   token than the newest applied (LEASE_FENCED) inside apply, on every replica alike;
 * - linearizable reads (ReadIndex) of the slot and of the whole untrimmed queue, from any node:
 *   a reader is a consumer that may be replaced at any time and must see every event that was
 *   acknowledged and not yet handled, in commit order.
 * The history is checked for linearizability against `graphSimModel`, a plain model; with the
 * simulator's faults (crashes, partitions, disk loss of a minority, snapshots) that shows
 * acknowledged events survive and trims never run ahead of their change.
 *
 * @example
 * const r = await runSimulation({ seed: 7, workload: graphSimWorkload() })
 */
import { GraphStateMachine } from '../../graph/state-machine.js'
import type { GraphStateMachineOptions } from '../../graph/state-machine.js'
import { defineSchema } from '../../graph/schema.js'
import { encodeCommand } from '../../graph/codec.js'
import type { GraphCommand, GraphResult } from '../../graph/codec.js'
import { randomInt } from '../../util/random.js'
import type { Random } from '../../util/random.js'
import { REJECT, UNKNOWN } from '../model.js'
import type { Model, StepResult, Unknown } from '../model.js'
import type { Operation } from '../history.js'
import type { SimWorkload } from './workload.js'
import { runSimulation } from './simulator.js'
import type { SimulationOptions, SimulationResult } from './simulator.js'

export const GRAPH_SIM_DEFAULTS = {
  /** Replicated ms an id is remembered; the generator advances time 10 ms per operation. */
  dedupWindowMs: 3000,
  /** A small queue, so producers meet EVENTS_QUEUE_FULL. */
  maxQueuedEvents: 10,
  /** Share of emits that retry the client's previous event. */
  retryShare: 0.5,
  /** Share of fenced writes that use a token one epoch old. */
  staleTokenShare: 0.25,
  snapshotChunkBytes: 64
} as const

/**
 * A claim also records a marker resource held by the slot (an at-most-one edge each way), and
 * a release deletes the slot and collects what became unreachable: edges, cardinality and GC
 * then travel through the log and snapshots under faults, and replicas are compared on them.
 */
export const graphSimSchema = defineSchema({
  kinds: { slot: { fields: { value: 'string' } }, marker: { fields: { by: 'string' } } },
  relations: { holds: { from: 'slot', to: 'marker', outgoing: 'one', incoming: 'one' } },
  roots: ['slot']
})

export type GraphSimInput =
  | { readonly op: 'emit', readonly id: string, readonly time: number }
  | { readonly op: 'handle', readonly id: string, readonly value: string, readonly token: number, readonly time: number }
  | { readonly op: 'claim', readonly value: string, readonly token: number, readonly time: number }
  | { readonly op: 'release', readonly token: number, readonly time: number }
  | { readonly op: 'readSlot' }
  | { readonly op: 'readQueue' }

export type GraphSimOutput =
  | { readonly op: 'emit', readonly status: 'stored' | 'duplicate' | 'full' }
  | { readonly op: 'handle' | 'claim' | 'release', readonly status: 'ok' | 'conflict' | 'fenced' | 'not-found' }
  | { readonly op: 'readSlot', readonly claimed: string | null }
  | { readonly op: 'readQueue', readonly queue: readonly string[], readonly handled: string | null }

/** The lock part (slot claims under fencing) and the events part (queue + the handled write). */
export interface LockState { readonly claimed: string | null, readonly fence: number }
export interface EventsState {
  readonly time: number
  readonly queue: readonly string[]
  /** Stored ids with the replicated time they were stored at, oldest first. */
  readonly seen: ReadonlyArray<readonly [string, number]>
  readonly handled: string | null
  /** The consumers' fence (a lease name of its own, so the two parts stay independent). */
  readonly consumerFence: number
}
/** Both parts; each sub-history of the partition steps only its own. */
export type GraphSimState = LockState & EventsState

const SLOT = 'slot'
const HANDLED = 'handled'

function fenced (token: number, time: number, ops: Extract<GraphCommand, { type: 'tx' }>['ops'], expectAbsent: boolean): GraphCommand {
  return { type: 'tx', time, fence: { name: 'coordinator', token }, expect: expectAbsent ? [{ id: SLOT, version: 0 }] : [], ops, trim: [] }
}

function encode (input: GraphSimInput): Uint8Array {
  switch (input.op) {
    case 'emit': return encodeCommand({ type: 'emit', time: input.time, id: input.id, payload: new TextEncoder().encode(input.id) })
    case 'handle':
      return encodeCommand({
        type: 'tx', time: input.time, fence: { name: 'consumer', token: input.token }, expect: [], ops: [{ op: 'put', id: HANDLED, kind: 'slot', fields: { value: input.value } }], trim: [input.id]
      })
    case 'claim': {
      const marker = `m-${input.value}`
      return encodeCommand(fenced(input.token, input.time, [
        { op: 'put', id: SLOT, kind: 'slot', fields: { value: input.value } },
        { op: 'put', id: marker, kind: 'marker', fields: { by: input.value } },
        { op: 'connect', relation: 'holds', from: SLOT, to: marker }
      ], true))
    }
    case 'release': return encodeCommand(fenced(input.token, input.time, [{ op: 'delete', id: SLOT }, { op: 'gc', ids: null }], false))
    default: throw new Error(`${input.op} is a read`)
  }
}

const REFUSALS: Record<string, 'conflict' | 'fenced' | 'not-found'> = { GRAPH_CONFLICT: 'conflict', LEASE_FENCED: 'fenced', EVENTS_NOT_FOUND: 'not-found' }

function output (value: unknown, input: GraphSimInput): GraphSimOutput {
  const r = value as GraphResult
  if (input.op === 'emit') {
    if (r.status === 'stored' || r.status === 'duplicate') return { op: 'emit', status: r.status }
    if (r.status === 'refused' && r.code === 'EVENTS_QUEUE_FULL') return { op: 'emit', status: 'full' }
  } else if (input.op === 'handle' || input.op === 'claim' || input.op === 'release') {
    if (r.status === 'ok') return { op: input.op, status: 'ok' }
    const status = r.status === 'refused' ? REFUSALS[r.code] : undefined
    if (status !== undefined) return { op: input.op, status }
  }
  // Anything else is a bug the model rejects (it never produces this output).
  return { op: input.op, status: `unexpected ${JSON.stringify(r)}` } as unknown as GraphSimOutput
}

function query (machine: GraphStateMachine, input: GraphSimInput): GraphSimOutput {
  const value = (id: string): string | null => (machine.graph.get(id)?.fields.value as string | undefined) ?? null
  if (input.op === 'readQueue') return { op: 'readQueue', queue: machine.events.list().map((e) => e.id), handled: value(HANDLED) }
  return { op: 'readSlot', claimed: value(SLOT) }
}

// ------------------------------------------------------------------ the model

function sameOutput (a: GraphSimOutput, b: GraphSimOutput): boolean { return JSON.stringify(a) === JSON.stringify(b) }

function stepLock (s: GraphSimState, input: GraphSimInput, out: GraphSimOutput | Unknown): StepResult<GraphSimState> {
  let next: GraphSimState = s
  let expected: GraphSimOutput
  if (input.op === 'readSlot') expected = { op: 'readSlot', claimed: s.claimed }
  else if (input.op === 'claim' || input.op === 'release') {
    // Fencing first, then the compare-and-set; the token is recorded only when the write applies.
    let status: 'ok' | 'conflict' | 'fenced'
    if (input.token < s.fence) status = 'fenced'
    else if (input.op === 'claim' && s.claimed !== null) status = 'conflict'
    else status = 'ok'
    if (status === 'ok') next = { ...s, claimed: input.op === 'claim' ? input.value : null, fence: input.token }
    expected = { op: input.op, status }
  } else return REJECT
  return out === UNKNOWN || sameOutput(out, expected) ? { ok: true, state: next } : REJECT
}

/** The handled value also lives in the events part: a handle writes it in the trimming entry. */
function stepEvents (s: GraphSimState, input: GraphSimInput, out: GraphSimOutput | Unknown, window: number, cap: number): StepResult<GraphSimState> {
  if (input.op === 'readQueue') {
    return out === UNKNOWN || sameOutput(out, { op: 'readQueue', queue: s.queue, handled: s.handled }) ? { ok: true, state: s } : REJECT
  }
  if (input.op !== 'emit' && input.op !== 'handle') return REJECT
  // Every applied command moves replicated time, whatever its outcome.
  const time = Math.max(s.time, input.time)
  let next: GraphSimState
  let expected: GraphSimOutput
  if (input.op === 'emit') {
    const seen = s.seen.filter(([, t]) => t + window > time)
    if (s.queue.includes(input.id) || seen.some(([id]) => id === input.id)) {
      expected = { op: 'emit', status: 'duplicate' }
      next = { ...s, time, seen }
    } else if (s.queue.length >= cap) {
      expected = { op: 'emit', status: 'full' }
      next = { ...s, time, seen }
    } else {
      expected = { op: 'emit', status: 'stored' }
      next = { ...s, time, queue: [...s.queue, input.id], seen: [...seen, [input.id, time]] }
    }
  } else if (input.token < s.consumerFence) {
    expected = { op: 'handle', status: 'fenced' }
    next = { ...s, time }
  } else if (s.queue.includes(input.id)) {
    expected = { op: 'handle', status: 'ok' }
    next = { ...s, time, queue: s.queue.filter((id) => id !== input.id), handled: input.value, consumerFence: input.token }
  } else {
    expected = { op: 'handle', status: 'not-found' }
    next = { ...s, time }
  }
  return out === UNKNOWN || sameOutput(out, expected) ? { ok: true, state: next } : REJECT
}

const isLockOp = (input: GraphSimInput): boolean => input.op === 'claim' || input.op === 'release' || input.op === 'readSlot'

/**
 * The sequential specification, split into two independent parts (P-compositionality): the
 * fenced slot with its readers, and the events queue with the write that handles make (read
 * together with the queue, so a trim seen without its write is caught).
 */
export function graphSimModel (window: number = GRAPH_SIM_DEFAULTS.dedupWindowMs, cap: number = GRAPH_SIM_DEFAULTS.maxQueuedEvents): Model<GraphSimState, GraphSimInput, GraphSimOutput> {
  return {
    init: () => ({ claimed: null, fence: 0, time: 0, queue: [], seen: [], handled: null, consumerFence: 0 }),
    step: (state, input, out) => isLockOp(input) ? stepLock(state, input, out) : stepEvents(state, input, out, window, cap),
    partition: (history) => {
      const lock: Array<Operation<GraphSimInput, GraphSimOutput>> = []
      const events: Array<Operation<GraphSimInput, GraphSimOutput>> = []
      for (const op of history) {
        if (isLockOp(op.input)) lock.push(op)
        else events.push(op)
      }
      return new Map([['lock', lock], ['events', events]])
    },
    describeOperation: (input, out) => `${JSON.stringify(input)} -> ${out === UNKNOWN ? '?' : JSON.stringify(out)}`
  }
}

/** Options of `graphSimWorkload`. */
export interface GraphSimOptions {
  /** @default GRAPH_SIM_DEFAULTS.dedupWindowMs */
  dedupWindowMs?: number
  /** @default GRAPH_SIM_DEFAULTS.maxQueuedEvents */
  maxQueuedEvents?: number
  /** Called with every state machine created (one per node incarnation), for post-run checks. */
  onMachine?: (machine: GraphStateMachine) => void
  /** Builds each node's machine (a test passes a deliberately broken subclass). @default new GraphStateMachine */
  createMachine?: (schema: typeof graphSimSchema, options: GraphStateMachineOptions) => GraphStateMachine
}

export function graphSimWorkload (options: GraphSimOptions = {}): SimWorkload<GraphSimInput, GraphSimOutput, GraphStateMachine> {
  const window = options.dedupWindowMs ?? GRAPH_SIM_DEFAULTS.dedupWindowMs
  const cap = options.maxQueuedEvents ?? GRAPH_SIM_DEFAULTS.maxQueuedEvents
  const model = graphSimModel(window, cap)
  return {
    createStateMachine: () => {
      const create = options.createMachine ?? ((schema, o) => new GraphStateMachine(schema, o))
      const m = create(graphSimSchema, {
        events: { dedupWindowMs: window, maxQueuedEvents: cap },
        snapshotChunkBytes: GRAPH_SIM_DEFAULTS.snapshotChunkBytes,
        historyEntries: 0
      })
      options.onMachine?.(m)
      return m
    },
    createGenerator: (random) => new GraphSimGenerator(random),
    isRead: (input) => input.op === 'readSlot' || input.op === 'readQueue',
    encode,
    query,
    output,
    model
  }
}

/** Draws client operations; time advances 10 ms per operation (the proposers' clocks). */
class GraphSimGenerator {
  readonly #random: Random
  #ops = 0
  #events = 0
  #epoch = 1
  readonly #lastEmit = new Map<number, string>()
  readonly #emitted: string[] = []

  constructor (random: Random) { this.#random = random }

  next (client: number): GraphSimInput {
    const r = this.#random
    const time = ++this.#ops * 10
    if (r.next() < 0.05) this.#epoch++
    const token = r.next() < GRAPH_SIM_DEFAULTS.staleTokenShare ? this.#epoch - 1 : this.#epoch
    const roll = r.next()
    if (roll < 0.3) {
      const retry = this.#lastEmit.get(client)
      const id = retry !== undefined && r.next() < GRAPH_SIM_DEFAULTS.retryShare ? retry : `e${++this.#events}`
      this.#lastEmit.set(client, id)
      if (id !== retry) this.#emitted.push(id)
      return { op: 'emit', id, time }
    }
    if (roll < 0.5 && this.#emitted.length > 0) {
      // Mostly the oldest events (what a consumer handles first), sometimes any.
      const at = r.next() < 0.7 ? randomInt(r, 0, Math.min(3, this.#emitted.length)) : randomInt(r, 0, this.#emitted.length)
      const id = this.#emitted[at]!
      // Usually forgotten once handled; kept sometimes, so a second handler meets EVENTS_NOT_FOUND.
      if (r.next() < 0.8) this.#emitted.splice(at, 1)
      return { op: 'handle', id, value: `h${this.#ops}`, token, time }
    }
    if (roll < 0.62) return { op: 'claim', value: `c${this.#ops}`, token, time }
    if (roll < 0.7) return { op: 'release', token, time }
    return r.next() < 0.5 ? { op: 'readQueue' } : { op: 'readSlot' }
  }
}

/** What a replica holds, canonically: equal for replicas that applied the same entries. */
export function renderGraphReplica (m: GraphStateMachine): string {
  const resources = [...m.graph.resources()].map((r) => [r.id, r.kind, r.version, r.keep, JSON.stringify(r.fields)]).sort()
  const edges = [...m.graph.edges()].map((e) => `${e.relation} ${e.from} ${e.to}`).sort()
  const events = m.events.list().map((e) => [e.id, e.index, e.time])
  const fences = [m.fenceToken('coordinator'), m.fenceToken('consumer')]
  return JSON.stringify({ resources, edges, events, dedup: [...m.events.dedupEntries()], fences, time: m.time })
}

export interface GraphSimulationResult extends SimulationResult {
  /** Replicas that applied the same index but hold different states (must be empty). */
  readonly divergence: readonly string[]
  /** The most advanced replica at the end: its applied index and untrimmed event ids. */
  readonly latest: { readonly appliedIndex: number, readonly queue: readonly string[] }
}

/**
 * One simulation of the graph workload, plus a replica check: every state machine any node
 * incarnation ran is compared at the end with every other that stopped at the same applied
 * index (a deterministic machine fed the same committed entries must agree byte for byte).
 */
export async function runGraphSimulation (options: Omit<SimulationOptions, 'workload'> & Omit<GraphSimOptions, 'onMachine'>): Promise<GraphSimulationResult> {
  const { dedupWindowMs, maxQueuedEvents, createMachine, ...sim } = options
  const machines: GraphStateMachine[] = []
  const workload = graphSimWorkload({
    ...(dedupWindowMs === undefined ? {} : { dedupWindowMs }),
    ...(maxQueuedEvents === undefined ? {} : { maxQueuedEvents }),
    ...(createMachine === undefined ? {} : { createMachine }),
    onMachine: (m) => { machines.push(m) }
  })
  const result = await runSimulation({ ...sim, workload })
  const byIndex = new Map<number, string>()
  const divergence: string[] = []
  for (const m of machines) {
    if (m.appliedIndex === 0) continue
    const state = renderGraphReplica(m)
    const other = byIndex.get(m.appliedIndex)
    if (other === undefined) byIndex.set(m.appliedIndex, state)
    else if (other !== state) divergence.push(`two replicas at index ${m.appliedIndex} differ:\n  ${other}\n  ${state}`)
  }
  const top = machines.reduce<GraphStateMachine | undefined>((a, m) => (a === undefined || m.appliedIndex > a.appliedIndex ? m : a), undefined)
  const latest = { appliedIndex: top?.appliedIndex ?? 0, queue: top?.events.list().map((e) => e.id) ?? [] }
  return { ...result, divergence, latest, ok: result.ok && divergence.length === 0 }
}

/**
 * Shared pieces of the coordinator tests: a graph machine with a direct submit (each command
 * applied at once, at the next index: the single replica of a one-node group), fixture
 * graphs of nodes and instances, and an agent channel that records what it was sent and
 * fences and dedupes like a real agent.
 */
import { GraphStateMachine } from '../../src/graph/state-machine.js'
import { Graph } from '../../src/graph/client.js'
import { EventsQueue } from '../../src/graph/events-client.js'
import { encodeHaEvent } from '../../src/agent/protocol.js'
import type { AgentCommand, AgentReply, CommandChannel, HaEvent } from '../../src/agent/protocol.js'
import { FencingGuard } from '../../src/lease/fencing.js'
import { isQuorateError } from '../../src/errors.js'
import { coordinatorSchema, ref } from './imports.js'
import type { HaSpec } from './imports.js'

export const schema = coordinatorSchema()

export interface Host {
  readonly machine: GraphStateMachine
  readonly graph: Graph<HaSpec>
  readonly events: EventsQueue
  /** Every committed command's decoded fence token (0 for unfenced), in apply order, and whether it applied. */
  readonly applied: Array<{ readonly index: number, readonly status: string }>
  /** Every command submitted, in index order (index i+1 is log[i]): replay it into another machine. */
  readonly log: Uint8Array[]
  submit: (command: Uint8Array) => Promise<unknown>
  time: number
}

export function host (): Host {
  const machine = new GraphStateMachine(schema)
  let index = 0
  const applied: Host['applied'] = []
  const log: Uint8Array[] = []
  const h: Host = {
    machine,
    applied,
    log,
    time: 1000,
    submit: async (command) => {
      log.push(command)
      const r = machine.apply(command, ++index) as { status: string }
      applied.push({ index, status: r.status })
      return r
    },
    graph: undefined as unknown as Graph<HaSpec>,
    events: undefined as unknown as EventsQueue
  }
  const options = { machine, submit: async (c: Uint8Array) => await h.submit(c), now: () => h.time }
  ;(h as { graph: Graph<HaSpec> }).graph = new Graph(schema as never, options)
  ;(h as { events: EventsQueue }).events = new EventsQueue(options)
  return h
}

export interface NodeSpec { readonly id: string, readonly kind?: string, readonly labels?: readonly string[], readonly state?: string }
export interface InstanceSpec {
  readonly id: string
  readonly on?: string
  readonly nodeKind?: string
  readonly label?: string
  readonly group?: string
  readonly state?: string
  readonly failures?: number
  readonly failuresSince?: number
  readonly attempt?: number
  readonly avoid?: Record<string, number>
}

/** Writes nodes and instances (placed with ha.runs) in one transaction. */
export async function populate (h: Host, nodes: readonly NodeSpec[], instances: readonly InstanceSpec[]): Promise<void> {
  const tx = h.graph.transaction()
  for (const n of nodes) tx.put(ref('ha.node', n.id), { kind: n.kind ?? 'worker', labels: (n.labels ?? []).join(','), state: n.state ?? 'up' })
  for (const i of instances) {
    tx.put(ref('ha.instance', i.id), {
      service: JSON.stringify({ command: 'svc', args: [i.id] }),
      parameters: '{}',
      ...(i.nodeKind === undefined ? {} : { nodeKind: i.nodeKind }),
      ...(i.label === undefined ? {} : { label: i.label }),
      ...(i.group === undefined ? {} : { group: i.group }),
      state: i.state ?? 'running',
      failures: i.failures ?? 0,
      failuresSince: i.failuresSince ?? 0,
      attempt: i.attempt ?? 1,
      avoid: JSON.stringify(i.avoid ?? {})
    })
    if (i.on !== undefined) tx.connect('ha.runs', ref('ha.node', i.on), ref('ha.instance', i.id))
  }
  await tx.commit()
}

export async function emit (h: Host, id: string, event: HaEvent): Promise<void> {
  await h.events.emit({ id, payload: encodeHaEvent(event) })
}

/** A channel of agents that fence by token, dedupe by id, and record each executed command. */
export class RecordingAgents implements CommandChannel {
  readonly executed: Array<{ node: string, command: AgentCommand }> = []
  readonly refused: Array<{ node: string, command: AgentCommand, code: string }> = []
  readonly #guards = new Map<string, FencingGuard>()
  readonly #replies = new Map<string, AgentReply>()
  /** Nodes whose agents do not answer. */
  readonly down = new Set<string>()

  async send (node: string, command: AgentCommand): Promise<AgentReply> {
    if (this.down.has(node)) throw Object.assign(new Error('unreachable'), { code: 'AGENT_UNREACHABLE' })
    const guard = this.#guards.get(node) ?? new FencingGuard()
    this.#guards.set(node, guard)
    try { guard.admit(command.fence.lease, command.fence.token) } catch (err) {
      if (!isQuorateError(err, 'LEASE_FENCED')) throw err
      this.refused.push({ node, command, code: 'LEASE_FENCED' })
      return { id: command.id, ok: false, code: 'LEASE_FENCED', message: err.message }
    }
    const key = `${node}/${command.id}`
    const seen = this.#replies.get(key)
    if (seen !== undefined) return seen
    this.executed.push({ node, command })
    const reply: AgentReply = { id: command.id, ok: true, instances: [] }
    this.#replies.set(key, reply)
    return reply
  }
}

/** A fresh machine that applied the first `index` entries of `h`'s log (the graph as it was at `index`). */
export function machineAt (h: Host, index: number): GraphStateMachine {
  const m = new GraphStateMachine(schema)
  for (let i = 0; i < index; i++) m.apply(h.log[i]!, i + 1)
  return m
}

/** Lets promise chains run, then moves the clock `stepMs` at a time until `done()` or `maxMs` passed. */
export async function until (clock: { advance: (ms: number) => void, now: () => number }, done: () => boolean, maxMs = 60_000, stepMs = 10): Promise<void> {
  const end = clock.now() + maxMs
  for (;;) {
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => { setImmediate(resolve) })
    if (done()) return
    if (clock.now() >= end) throw new Error(`condition not met within ${maxMs} ms of virtual time`)
    clock.advance(stepMs)
  }
}

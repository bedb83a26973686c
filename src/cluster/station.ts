/**
 * A tracking-station node's HA part (config `coordinator`): beside its Raft replica of the
 * lease table and the resource graph, it runs
 *
 * - a coordinator Supervisor: contends for the coordinator lease and, where this node holds
 *   it, runs the recovery Coordinator (built-in rules, plus `place-new` unless turned off)
 *   under the lease's fencing token; commands reach the node agents through an AgentClient
 *   over mutual TLS with this node's certificate;
 * - optionally a HeartbeatMonitor: heartbeats with the agents (and the other station nodes);
 *   its verdicts on agent nodes go into the graph's events queue, where the coordinator
 *   turns a `node-dead` into moving that node's instances. Verdicts on station nodes are only
 *   logged: the station is Raft's business, not the graph's;
 * - a graph watcher: logs, from this replica, each new decision record and the placement of
 *   every instance when it changes, so an operator (and the demo) sees what was decided
 *   without a graph query API.
 *
 * Invariant: everything the coordinator does goes through the graph's fenced writes and
 * fenced agent commands (src/coordinator); this module only wires them to this process.
 */
import { AgentClient } from '../agent/agent-client.js'
import { HeartbeatMonitor } from '../agent/heartbeat-monitor.js'
import { decodeHaEvent } from '../agent/protocol.js'
import type { HaEvent } from '../agent/protocol.js'
import type { TcpTlsOptions } from '../transport/tcp-options.js'
import { BUILTIN_RULES } from '../coordinator/builtin-rules.js'
import { Coordinator } from '../coordinator/coordinator.js'
import { placeNewRule } from '../coordinator/place-rule.js'
import { checkCoordinatorSchema, EPOCH_ID } from '../coordinator/schema.js'
import type { HaSpec } from '../coordinator/schema.js'
import { Supervisor, SUPERVISOR_DEFAULTS } from '../coordinator/supervisor.js'
import { EventsQueue } from '../graph/events-client.js'
import type { GraphStateMachine } from '../graph/state-machine.js'
import type { Schema } from '../graph/schema.js'
import { ref } from '../graph/schema.js'
import { GraphView } from '../graph/view.js'
import { LeaseManager } from '../lease/manager.js'
import type { Logger } from '../util/logger.js'
import type { ClusterCoordinatorConfig } from './config.js'
import type { KvNode } from './cluster-node.js'

/** How often the watcher looks at this replica's graph. */
const WATCH_MS = 100
/** How long the station's heartbeat monitor waits for a never-heard agent before judging it, ms. */
const STARTUP_GRACE_MS = 10_000

export interface StationOptions {
  readonly id: string
  readonly config: ClusterCoordinatorConfig
  /** The node's parts; `graph` must be mounted. */
  readonly parts: KvNode
  /** This node's certificate (it names the node) and the CA; absent: plain TCP. */
  readonly tls: TcpTlsOptions | undefined
  readonly logger: Logger
}

export interface Station {
  /** Stops the coordinator (releasing the lease), the heartbeats and the watcher. Idempotent. */
  close (): Promise<void>
}

export async function startStation (options: StationOptions): Promise<Station> {
  const { id, config, parts, logger } = options
  const graphRoute = parts.graph!
  const machine = graphRoute.machine
  const schema = machine.schema as Schema<HaSpec>
  checkCoordinatorSchema(schema, `node ${id} coordinator`)
  const routed = graphRoute.bind(parts.node)
  const client = { machine, submit: async (c: Uint8Array, o?: { signal?: AbortSignal }) => await routed.propose(c, o), barrier: async (o?: { signal?: AbortSignal }) => { await routed.read(o) } }
  const leaseMs = config.leaseMs ?? SUPERVISOR_DEFAULTS.durationMs
  const leases = new LeaseManager({ node: parts.lease.bind(parts.node), table: parts.lease.machine, maxLeaseDurationMs: Math.max(leaseMs, 2000), defaultDurationMs: leaseMs })
  const security = options.tls === undefined ? { insecure: true } : { tls: options.tls }
  const channel = new AgentClient({ agents: config.agents, ...security, requestTimeoutMs: 5000 })
  const rules = config.placeNew === false ? BUILTIN_RULES : [...BUILTIN_RULES, placeNewRule]
  const supervisor = new Supervisor({
    leases,
    durationMs: leaseMs,
    create: ({ fence, isLive }) => new Coordinator({ ...client, schema, channel, fence, isLive, holder: id, rules })
  })
  supervisor.on('start', ({ token, run }) => { logger.info({ token, run }, 'coordinator started') })
  supervisor.on('stop', ({ token, reason, killed }) => { logger.info({ token, reason, killed }, 'coordinator stopped') })
  supervisor.open()

  const agents = new Set(Object.keys(config.agents))
  let heartbeat: HeartbeatMonitor | null = null
  if (config.heartbeat !== undefined) {
    const events = new EventsQueue(client)
    heartbeat = new HeartbeatMonitor({
      self: id,
      peers: config.heartbeat.peers,
      listen: { host: '127.0.0.1', port: config.heartbeat.port },
      ...security,
      // The agents start after the station: a peer not heard from yet is not judged for this long.
      detector: { startupGraceMs: STARTUP_GRACE_MS },
      // Only verdicts on agent nodes are graph facts; the rest are logged and dropped here.
      events: {
        emit: async (event, o) => {
          const decoded = decodeHaEvent(event.payload)
          if (decoded instanceof Error || !agents.has((decoded as { node: string }).node)) return 'dropped'
          return await events.emit(event, o)
        }
      },
      onEvent: (event) => { if (isNodeEvent(event)) logger.info({ about: event.node, observer: id }, event.type) }
    })
    await heartbeat.open()
  }
  const stopWatch = watchGraph(machine, schema, logger)
  let closing: Promise<void> | null = null
  return {
    close: async () => {
      closing ??= (async () => {
        stopWatch()
        await supervisor.close()
        await heartbeat?.close()
        channel.close()
        await leases.close()
      })()
      await closing
    }
  }
}

function isNodeEvent (e: HaEvent): e is Extract<HaEvent, { type: 'node-suspect' | 'node-dead' | 'node-alive' }> {
  return e.type === 'node-suspect' || e.type === 'node-dead' || e.type === 'node-alive'
}

/**
 * Logs each decision record this replica applies (in sequence order) and the placement when
 * it changes. Polls: the records are few, and polling keeps the replica's apply path untouched.
 */
function watchGraph (machine: GraphStateMachine, schema: Schema<HaSpec>, logger: Logger): () => void {
  const view = new GraphView(machine, schema)
  let lastSeq = -1
  let lastPlacement = ''
  const timer = setInterval(() => {
    const decisions = view.byKind('ha.decision').filter((d) => d.fields.seq > lastSeq).sort((a, b) => a.fields.seq - b.fields.seq)
    for (const d of decisions) {
      lastSeq = d.fields.seq
      const input = JSON.parse(d.fields.input) as { kind: string, id?: string }
      logger.info({ seq: d.fields.seq, token: d.fields.token, rule: d.fields.rule, input: input.id ?? input.kind, commands: (JSON.parse(d.fields.commands) as unknown[]).length, note: d.fields.note }, 'decision')
    }
    const placement: Record<string, string> = {}
    for (const inst of view.byKind('ha.instance')) {
      const node = view.neighbours(inst.id, 'ha.runs', 'in')[0]?.id ?? '-'
      placement[inst.id] = `${node}:${inst.fields.state}`
    }
    const epoch = view.get(ref('ha.epoch', EPOCH_ID))
    const summary = JSON.stringify({ placement, token: epoch?.fields.token ?? 0, queued: machine.events.size, outbox: view.byKind('ha.outbox').length })
    if (summary !== lastPlacement) {
      lastPlacement = summary
      logger.info(JSON.parse(summary) as Record<string, unknown>, 'graph')
    }
  }, WATCH_MS)
  timer.unref()
  return () => { clearInterval(timer) }
}

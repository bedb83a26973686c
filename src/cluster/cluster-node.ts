/**
 * Assembles one key-value cluster node: a RaftNode whose state machine is a router with the
 * KvStateMachine mounted as 'kv', a LeaseTable as 'lease', a SessionStateMachine as 'session'
 * and, if configured, a GraphStateMachine as 'graph' (the layers above mount beside them),
 * answering the client protocol through a KvService. `createKvNode` takes any storage and transport
 * (the in-process demo uses the MemoryNetwork); `startClusterNode` builds the production
 * set from a ClusterNodeConfig — classic-level storage, tcpTransport, an HTTP endpoint.
 */
import type { Logger } from '../util/logger.js'
import { readFile } from 'node:fs/promises'
import { RaftNode } from '../node/node.js'
import { LevelStorage } from '../storage/level-storage.js'
import type { RaftStorage } from '../storage/storage.js'
import type { NodeId } from '../raft/types.js'
import type { Transport } from '../transport/transport.js'
import { tcpTransport } from '../transport/tcp.js'
import type { TcpAddress, TcpTransportOptions } from '../transport/tcp.js'
import { KvStateMachine } from '../kv/state-machine.js'
import { LeaseTable } from '../lease/table.js'
import { defineSchema } from '../graph/schema.js'
import type { Schema } from '../graph/schema.js'
import { GraphStateMachine } from '../graph/state-machine.js'
import type { GraphStateMachineOptions } from '../graph/state-machine.js'
import { SessionStateMachine } from '../sessions/state-machine.js'
import { StateMachineRouter } from '../sm/router.js'
import type { Route } from '../sm/route.js'
import type { Random } from '../util/random.js'
import { checkKnownKeys, checkObject } from '../util/validate.js'
import { DEFAULT_CLUSTER_ELECTION_TICKS, DEFAULT_CLUSTER_ID, DEFAULT_CLUSTER_TICK_MS, validateClusterNodeConfig } from './config.js'
import type { ClusterNodeConfig, ClusterTlsFiles } from './config.js'
import { serveClientEndpoint } from './http-endpoint.js'
import type { ClientEndpoint, ClientEndpointOptions } from './http-endpoint.js'
import { KvService } from './kv-service.js'
import { GRAPH_MEMBER, SESSION_MEMBER } from './quorate-client.js'
import type { RejectionLogger } from './rejections.js'
import { ViewRoutes } from './views/routes.js'

export interface KvNodeOptions {
  readonly id: NodeId
  readonly voters: readonly NodeId[]
  readonly storage: RaftStorage
  readonly transport: Transport
  /** @default DEFAULT_CLUSTER_TICK_MS (50) */
  readonly tickMs?: number
  /** @default DEFAULT_CLUSTER_ELECTION_TICKS (10) */
  readonly electionTicks?: number
  /** @default true */
  readonly sync?: boolean
  /** @default DEFAULT_REQUEST_TIMEOUT_MS (5000) */
  readonly requestTimeoutMs?: number
  /** @default Math.random */
  readonly random?: Random
  /** Also mount the resource graph and events queue as member 'graph' with this schema. @default none */
  readonly graph?: { readonly schema: Schema, readonly options?: GraphStateMachineOptions }
  /** The node's logger (RaftNodeOptions.logger). @default silent */
  readonly logger?: Logger
  /** RaftNodeOptions.forwardProposals: a follower forwards its own members' proposals (leases, a coordinator's graph writes). @default false */
  readonly forwardProposals?: boolean
}

export interface KvNode {
  readonly node: RaftNode
  /** The node's state machine: every member of this node's log. */
  readonly router: StateMachineRouter
  /** The key-value member (`kv.machine` is the KvStateMachine). */
  readonly kv: Route<KvStateMachine>
  /** The lease table member, for a LeaseManager: `new LeaseManager({ node: lease.bind(node), table: lease.machine })`. */
  readonly lease: Route<LeaseTable>
  /** Exactly-once commands for every other member (QuorateClient proposes through it). */
  readonly session: Route<SessionStateMachine>
  /** The graph member, if `graph` was given. */
  readonly graph: Route<GraphStateMachine> | null
  readonly service: KvService
}

/** Ids of the members every cluster node mounts, in this order. */
export const CLUSTER_MEMBERS = ['kv', 'lease', SESSION_MEMBER] as const

const KV_NODE_KEYS = Object.keys({
  id: true, voters: true, storage: true, transport: true, tickMs: true, electionTicks: true, sync: true, requestTimeoutMs: true, random: true, graph: true, logger: true, forwardProposals: true
} satisfies Record<keyof KvNodeOptions, true>)

/** A not yet opened RaftNode over fresh members, and the service answering for it. */
export function createKvNode (options: KvNodeOptions): KvNode {
  checkObject(options as unknown, 'KvNodeOptions', '(options)')
  checkKnownKeys(options, 'KvNodeOptions', KV_NODE_KEYS)
  const router = new StateMachineRouter()
  const kv = router.mount('kv', new KvStateMachine())
  const lease = router.mount('lease', new LeaseTable())
  // Its envelopes carry routed commands for the other members (router.dispatcher()).
  const session = router.mount(SESSION_MEMBER, new SessionStateMachine(router.dispatcher()))
  const graph = options.graph === undefined ? null : router.mount(GRAPH_MEMBER, new GraphStateMachine(options.graph.schema, options.graph.options))
  const node = new RaftNode({
    id: options.id,
    voters: options.voters,
    storage: options.storage,
    transport: options.transport,
    stateMachine: router,
    tickMs: options.tickMs ?? DEFAULT_CLUSTER_TICK_MS,
    electionTicks: options.electionTicks ?? DEFAULT_CLUSTER_ELECTION_TICKS,
    sync: options.sync,
    random: options.random,
    ...(options.forwardProposals === true ? { forwardProposals: true } : {}),
    ...(options.logger === undefined ? {} : { logger: options.logger })
  })
  const service = new KvService({ node, kv, router, requestTimeoutMs: options.requestTimeoutMs, transportStats: () => options.transport.stats() })
  return { node, router, kv, lease, session, graph, service }
}

export interface RunningClusterNode extends KvNode {
  /** Where Raft traffic is accepted (the real port if the config said 0). */
  readonly raftAddress: TcpAddress
  /** Where the client endpoint listens (the real port if the config said 0). */
  readonly clientAddress: TcpAddress
  /** Stops the endpoint, then the node (which closes its transport and storage). Idempotent. */
  close (): Promise<void>
}

export async function readTls (files: ClusterTlsFiles): Promise<{ key: Buffer, cert: Buffer, ca: Buffer }> {
  const [key, cert, ca] = await Promise.all([files.keyFile, files.certFile, files.caFile].map(async (f) => await readFile(f)))
  return { key: key!, cert: cert!, ca: ca! }
}

async function transportSecurity (config: ClusterNodeConfig): Promise<Pick<TcpTransportOptions, 'tls' | 'insecure'>> {
  if (config.tls === undefined) return { insecure: true }
  return { tls: await readTls(config.tls) }
}

async function endpointSecurity (config: ClusterNodeConfig): Promise<Pick<ClientEndpointOptions, 'tls' | 'insecure' | 'tokens' | 'maxRequestBytes'>> {
  const client = config.client ?? {}
  const rest = { tokens: client.tokens, maxRequestBytes: client.maxRequestBytes }
  if (client.insecure === true) return { insecure: true, ...rest }
  return { tls: await readTls((client.tls ?? config.tls)!), ...rest }
}

function graphOptions (g: NonNullable<ClusterNodeConfig['graph']>): GraphStateMachineOptions {
  const { schema: _schema, ...options } = g
  return options
}

export interface StartClusterNodeOptions {
  readonly signal?: AbortSignal
  /** Told every request the client endpoint refuses (rate-limited per code). @default none */
  readonly log?: RejectionLogger
  /** The node's logger for its state transitions (elections, leadership, snapshots). @default silent */
  readonly logger?: Logger
}

/** Opens a node as `config` describes and serves its client endpoint. */
export async function startClusterNode (config: ClusterNodeConfig, options: StartClusterNodeOptions = {}): Promise<RunningClusterNode> {
  validateClusterNodeConfig(config)
  const self = config.members[config.id]!
  const peers: Record<NodeId, TcpAddress> = {}
  for (const [id, m] of Object.entries(config.members)) {
    if (id !== config.id) peers[id] = { host: m.host, port: m.raftPort }
  }
  const transport = tcpTransport({
    id: config.id,
    clusterId: config.clusterId ?? DEFAULT_CLUSTER_ID,
    listen: { host: self.host, port: self.raftPort },
    peers,
    // Redial a lost peer at least once per election timeout, so a restarted node is reached
    // (and catches up) about as fast as a failed one is replaced.
    reconnectMaxMs: (config.tickMs ?? DEFAULT_CLUSTER_TICK_MS) * (config.electionTicks ?? DEFAULT_CLUSTER_ELECTION_TICKS),
    ...await transportSecurity(config)
  })
  const parts = createKvNode({
    id: config.id,
    voters: Object.keys(config.members),
    storage: new LevelStorage({ location: config.dataDir }),
    transport,
    tickMs: config.tickMs,
    electionTicks: config.electionTicks,
    sync: config.sync,
    requestTimeoutMs: config.requestTimeoutMs,
    // A station node's supervisor and coordinator propose on their own replica's node, leader or not.
    forwardProposals: config.coordinator !== undefined,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(config.graph === undefined ? {} : { graph: { schema: defineSchema(config.graph.schema), options: graphOptions(config.graph) } })
  })
  await parts.node.open({ signal: options.signal })
  let endpoint: ClientEndpoint
  try {
    const security = await endpointSecurity(config)
    const views = new ViewRoutes({
      node: parts.node,
      lease: parts.lease.machine,
      graph: parts.graph?.machine ?? null,
      members: Object.fromEntries(Object.entries(config.members).map(([id, m]) => [id, { host: m.clientHost ?? m.host, port: m.clientPort }])),
      // Peers' /health needs no credentials; their certificates are checked against this endpoint's CA.
      peerCredentials: security.tls === undefined ? { insecure: true } : { ca: security.tls.ca },
      dashboard: config.dashboard === true
    })
    endpoint = await serveClientEndpoint(parts.service, { listen: { host: self.clientHost ?? self.host, port: self.clientPort }, log: options.log, views, ...security })
  } catch (err) {
    await parts.node.close()
    throw err
  }
  let closing: Promise<void> | null = null
  return {
    ...parts,
    raftAddress: transport.address() ?? { host: self.host, port: self.raftPort },
    clientAddress: endpoint.address,
    close: async () => {
      closing ??= endpoint.close().finally(async () => { await parts.node.close() })
      await closing
    }
  }
}

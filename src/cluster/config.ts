/**
 * The configuration of one node process (node-process.ts): who it is, where its data lives,
 * every member's addresses (Raft and client endpoint apart), how Raft traffic and the client
 * endpoint are secured, and which optional members it mounts. Written as JSON by the launcher
 * (launcher.ts) or by hand; see docs/cluster.md.
 *
 * @example
 * {
 *   "id": "n1", "clusterId": "demo", "dataDir": "/var/lib/quorate/n1",
 *   "members": {
 *     "n1": { "host": "127.0.0.1", "raftPort": 7001, "clientPort": 8001 },
 *     "n2": { "host": "127.0.0.1", "raftPort": 7002, "clientPort": 8002 },
 *     "n3": { "host": "127.0.0.1", "raftPort": 7003, "clientPort": 8003 }
 *   },
 *   "tls": { "keyFile": "certs/0.key", "certFile": "certs/0.crt", "caFile": "certs/ca.crt" }
 * }
 */
import { readFile } from 'node:fs/promises'
import { QuorateError } from '../errors.js'
import type { NodeId } from '../raft/types.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { validateClientTokens } from './auth.js'
import type { ClientToken } from './auth.js'
import { defineSchema } from '../graph/schema.js'
import type { SchemaSpec } from '../graph/schema.js'
import type { GraphStateMachineOptions } from '../graph/state-machine.js'

export const DEFAULT_CLUSTER_ID = 'quorate-cluster'
/** Short ticks so that failover takes about a second, yet a loaded 2-core machine keeps up. */
export const DEFAULT_CLUSTER_TICK_MS = 50
export const DEFAULT_CLUSTER_ELECTION_TICKS = 10

export interface ClusterMemberAddress {
  /** Host the Raft port listens on and is dialed at. */
  readonly host: string
  /** Raft traffic (tcpTransport). */
  readonly raftPort: number
  /** Host the client endpoint listens on and clients dial (e.g. a public interface while Raft stays on a private one). @default host */
  readonly clientHost?: string
  /** The client endpoint (http-endpoint.ts: HTTPS and the binary protocol). */
  readonly clientPort: number
}

/** The client endpoint's security. TLS with client authentication unless `insecure: true`. */
export interface ClusterClientEndpointConfig {
  /** Plaintext HTTP without authentication. @default false */
  readonly insecure?: boolean
  /** The endpoint's key and certificate, and the CA client certificates must chain to. @default the node's `tls` */
  readonly tls?: ClusterTlsFiles
  /** Accepted bearer tokens, as SHA-256 hashes (`hashClientToken`). @default [] */
  readonly tokens?: readonly ClientToken[]
  /** Largest request body or binary frame. @default MAX_REQUEST_BYTES (8 MiB) */
  readonly maxRequestBytes?: number
}

export interface ClusterTlsFiles {
  /** PEM private key of this node. */
  readonly keyFile: string
  /** PEM certificate of this node, with SAN URI quorate://node/<id>. */
  readonly certFile: string
  /** PEM certificate of the cluster CA. */
  readonly caFile: string
}

export interface ClusterNodeConfig {
  /** This node's id; must be a key of `members`. */
  readonly id: NodeId
  /** Peers with another cluster id are refused. @default DEFAULT_CLUSTER_ID ('quorate-cluster') */
  readonly clusterId?: string
  /** Directory of this node's classic-level database (created if missing). */
  readonly dataDir: string
  /** Every voter, this node included, with its addresses. */
  readonly members: Readonly<Record<NodeId, ClusterMemberAddress>>
  /** Mutual TLS for Raft traffic. Exactly one of `tls` and `insecure: true` is required. */
  readonly tls?: ClusterTlsFiles
  /** Plain TCP for Raft traffic (no authentication). @default false */
  readonly insecure?: boolean
  /** Milliseconds per Raft tick. @default DEFAULT_CLUSTER_TICK_MS (50) */
  readonly tickMs?: number
  /** Election timeout in ticks (randomized in [T, 2T)). @default DEFAULT_CLUSTER_ELECTION_TICKS (10) */
  readonly electionTicks?: number
  /** fsync every durable write. @default true */
  readonly sync?: boolean
  /** Client requests pending longer than this are answered ABORTED. @default DEFAULT_REQUEST_TIMEOUT_MS (5000) */
  readonly requestTimeoutMs?: number
  /** The client endpoint's security (TLS with the node's certificate and cluster CA by default). @default {} */
  readonly client?: ClusterClientEndpointConfig
  /**
   * Mount the resource graph and events queue (quorate/graph) as router member 'graph': its
   * schema (the JSON `defineSchema` takes) and the GraphStateMachine's options. Every member
   * must use the same. @default none (no graph member)
   */
  readonly graph?: { readonly schema: SchemaSpec } & GraphStateMachineOptions
  /**
   * Run a coordinator supervisor on this node (a tracking-station node): it contends for the
   * coordinator lease and, where this node holds it, runs the recovery coordinator with the
   * built-in rules under the lease's fencing token (station.ts). Needs `graph` (a schema with
   * the coordinator's ha.* kinds) and turns on proposal forwarding. @default none
   */
  readonly coordinator?: ClusterCoordinatorConfig
  /**
   * Serve the live web dashboard on the client endpoint: `GET /dashboard` (the page) and
   * `/dashboard/stream` (its server-sent events, same credentials as every other route); see
   * docs/dashboard.md. @default false
   */
  readonly dashboard?: boolean
}

/** A station node's coordinator: how it reaches the node agents and watches their nodes. */
export interface ClusterCoordinatorConfig {
  /** Every node agent's command endpoint (AgentEndpoint), by node id. */
  readonly agents: Readonly<Record<string, { readonly host: string, readonly port: number }>>
  /** The coordinator lease's duration, ms. @default 2000 (SUPERVISOR_DEFAULTS.durationMs) */
  readonly leaseMs?: number
  /** Also place instances that no node runs yet, when a node announces itself alive (place-rule.ts). @default true */
  readonly placeNew?: boolean
  /**
   * Heartbeats with the agents (HeartbeatMonitor): this node listens on `port` and sends to
   * `peers` (the agents' and the other station nodes' heartbeat ports); the verdicts on agent
   * nodes go into the events queue as node-suspect / node-dead / node-alive. @default none
   */
  readonly heartbeat?: { readonly port: number, readonly peers: Readonly<Record<string, { readonly host: string, readonly port: number }>> }
}

function checkPort (port: unknown, field: string, min: number): void {
  checkInt(port as number, 'ClusterNodeConfig', field, min, 65535)
}

/** Throws OPTIONS_INVALID naming the first bad field. */
const CONFIG_KEYS = Object.keys({
  id: true, clusterId: true, dataDir: true, members: true, tls: true, insecure: true, tickMs: true, electionTicks: true, sync: true, requestTimeoutMs: true, client: true, graph: true, coordinator: true, dashboard: true
} satisfies Record<keyof ClusterNodeConfig, true>)
const MEMBER_KEYS = Object.keys({ host: true, raftPort: true, clientHost: true, clientPort: true } satisfies Record<keyof ClusterMemberAddress, true>)
const TLS_KEYS = Object.keys({ keyFile: true, certFile: true, caFile: true } satisfies Record<keyof ClusterTlsFiles, true>)
const CLIENT_KEYS = Object.keys({ insecure: true, tls: true, tokens: true, maxRequestBytes: true } satisfies Record<keyof ClusterClientEndpointConfig, true>)

function checkTlsFiles (t: ClusterTlsFiles | undefined, field: string): void {
  check(typeof t === 'object' && t !== null && [t.keyFile, t.certFile, t.caFile].every((f) => typeof f === 'string' && f.length > 0),
    'ClusterNodeConfig', field, 'an object { keyFile, certFile, caFile } of file paths', t)
  checkKnownKeys(t!, `ClusterNodeConfig ${field}`, TLS_KEYS)
}

function validateClientEndpointConfig (config: ClusterNodeConfig): void {
  const C = 'ClusterNodeConfig'
  const client = config.client ?? {}
  checkObject(client as unknown, C, 'client')
  checkKnownKeys(client, `${C} client`, CLIENT_KEYS)
  check(client.insecure === undefined || typeof client.insecure === 'boolean', C, 'client.insecure', 'a boolean', client.insecure)
  if (client.tls !== undefined) checkTlsFiles(client.tls, 'client.tls')
  if (client.insecure === true) check(client.tls === undefined, C, 'client.tls', 'absent when client.insecure is true', client.tls)
  else check(client.tls !== undefined || config.tls !== undefined, C, 'client.insecure', 'true (plaintext without authentication) when neither tls nor client.tls is set', client.insecure)
  if (client.tokens !== undefined) validateClientTokens(client.tokens, C, 'client.tokens')
  if (client.maxRequestBytes !== undefined) checkInt(client.maxRequestBytes, C, 'client.maxRequestBytes', 1, 0xfffffff0)
}

export function validateClusterNodeConfig (config: ClusterNodeConfig): void {
  const C = 'ClusterNodeConfig'
  checkObject(config as unknown, C, '(config)')
  // A config file is typed by hand: a misspelt key ("electionTick") must not silently fall back to a default.
  checkKnownKeys(config, C, CONFIG_KEYS)
  check(typeof config.id === 'string' && config.id.length > 0, C, 'id', 'a non-empty string', config.id)
  check(config.clusterId === undefined || (typeof config.clusterId === 'string' && config.clusterId.length > 0), C, 'clusterId', 'a non-empty string', config.clusterId)
  check(typeof config.dataDir === 'string' && config.dataDir.length > 0, C, 'dataDir', 'a directory path', config.dataDir)
  check(typeof config.members === 'object' && config.members !== null && Object.hasOwn(config.members, config.id), C, 'members', `an object with an entry for "${config.id}"`, config.members)
  for (const [id, m] of Object.entries(config.members)) {
    check(typeof m === 'object' && m !== null && typeof m.host === 'string' && m.host.length > 0, C, `members.${id}.host`, 'a non-empty string', m?.host)
    checkKnownKeys(m, `${C} members.${id}`, MEMBER_KEYS)
    check(m.clientHost === undefined || (typeof m.clientHost === 'string' && m.clientHost.length > 0), C, `members.${id}.clientHost`, 'a non-empty string', m.clientHost)
    checkPort(m.raftPort, `members.${id}.raftPort`, id === config.id ? 0 : 1)
    checkPort(m.clientPort, `members.${id}.clientPort`, id === config.id ? 0 : 1)
  }
  if (config.tls !== undefined) {
    checkTlsFiles(config.tls, 'tls')
    check(config.insecure !== true, C, 'insecure', 'false or absent when tls is set', config.insecure)
  } else {
    check(config.insecure === true, C, 'tls', 'set (mutual TLS) unless insecure: true is given', undefined)
  }
  checkInt(config.tickMs ?? DEFAULT_CLUSTER_TICK_MS, C, 'tickMs', 1)
  checkInt(config.electionTicks ?? DEFAULT_CLUSTER_ELECTION_TICKS, C, 'electionTicks', 2)
  check(config.sync === undefined || typeof config.sync === 'boolean', C, 'sync', 'a boolean', config.sync)
  validateClientEndpointConfig(config)
  check(config.dashboard === undefined || typeof config.dashboard === 'boolean', C, 'dashboard', 'a boolean', config.dashboard)
  if (config.graph !== undefined) {
    checkObject(config.graph as unknown, C, 'graph')
    checkKnownKeys(config.graph, `${C} graph`, ['schema', 'events', 'historyEntries', 'snapshotChunkBytes'])
    // Throws GRAPH_SCHEMA_INVALID naming what is wrong; the machine's options are checked when it is built.
    defineSchema(config.graph.schema)
  }
  if (config.coordinator !== undefined) validateCoordinatorConfig(config)
}

function checkAddresses (value: unknown, field: string): void {
  checkObject(value, 'ClusterNodeConfig', field)
  for (const [id, a] of Object.entries(value as Record<string, { host?: unknown, port?: unknown }>)) {
    check(typeof a === 'object' && a !== null && typeof a.host === 'string' && a.host.length > 0, 'ClusterNodeConfig', `${field}.${id}.host`, 'a non-empty string', a?.host)
    checkKnownKeys(a, `ClusterNodeConfig ${field}.${id}`, ['host', 'port'])
    checkPort(a.port, `${field}.${id}.port`, 1)
  }
}

function validateCoordinatorConfig (config: ClusterNodeConfig): void {
  const C = 'ClusterNodeConfig'
  const c = config.coordinator!
  checkObject(c as unknown, C, 'coordinator')
  checkKnownKeys(c, `${C} coordinator`, ['agents', 'leaseMs', 'placeNew', 'heartbeat'])
  // The coordinator keeps everything in the graph: without one it has nothing to act on.
  check(config.graph !== undefined, C, 'graph', 'set when coordinator is (a schema with the ha.* kinds: coordinatorSchema)', undefined)
  checkAddresses(c.agents, 'coordinator.agents')
  if (c.leaseMs !== undefined) checkInt(c.leaseMs, C, 'coordinator.leaseMs', 100, 60_000)
  check(c.placeNew === undefined || typeof c.placeNew === 'boolean', C, 'coordinator.placeNew', 'a boolean', c.placeNew)
  if (c.heartbeat !== undefined) {
    checkObject(c.heartbeat as unknown, C, 'coordinator.heartbeat')
    checkKnownKeys(c.heartbeat, `${C} coordinator.heartbeat`, ['port', 'peers'])
    checkPort(c.heartbeat.port, 'coordinator.heartbeat.port', 0)
    checkAddresses(c.heartbeat.peers, 'coordinator.heartbeat.peers')
  }
}

/** Reads and validates a JSON config file. */
export async function loadClusterNodeConfig (path: string): Promise<ClusterNodeConfig> {
  let config: ClusterNodeConfig
  try {
    config = JSON.parse(await readFile(path, 'utf8')) as ClusterNodeConfig
  } catch (err) {
    throw new QuorateError('OPTIONS_INVALID', `cannot read the node config ${path}: ${(err as Error).message}`, { cause: err })
  }
  validateClusterNodeConfig(config)
  return config
}

/**
 * The configuration of one node process (node-process.ts): who it is, where its data lives,
 * every member's addresses, and how Raft traffic is secured. Written as JSON by the launcher
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

export const DEFAULT_CLUSTER_ID = 'quorate-cluster'
/** Short ticks so that failover takes about a second, yet a loaded 2-core machine keeps up. */
export const DEFAULT_CLUSTER_TICK_MS = 50
export const DEFAULT_CLUSTER_ELECTION_TICKS = 10

export interface ClusterMemberAddress {
  /** Host both of its ports listen on and are dialed at (use loopback for the unauthenticated client port). */
  readonly host: string
  /** Raft traffic (tcpTransport). */
  readonly raftPort: number
  /** Client protocol over HTTP (http-endpoint.ts). */
  readonly clientPort: number
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
}

function checkPort (port: unknown, field: string, min: number): void {
  checkInt(port as number, 'ClusterNodeConfig', field, min, 65535)
}

/** Throws OPTIONS_INVALID naming the first bad field. */
const CONFIG_KEYS = Object.keys({
  id: true, clusterId: true, dataDir: true, members: true, tls: true, insecure: true, tickMs: true, electionTicks: true, sync: true, requestTimeoutMs: true
} satisfies Record<keyof ClusterNodeConfig, true>)
const MEMBER_KEYS = Object.keys({ host: true, raftPort: true, clientPort: true } satisfies Record<keyof ClusterMemberAddress, true>)
const TLS_KEYS = Object.keys({ keyFile: true, certFile: true, caFile: true } satisfies Record<keyof ClusterTlsFiles, true>)

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
    checkPort(m.raftPort, `members.${id}.raftPort`, id === config.id ? 0 : 1)
    checkPort(m.clientPort, `members.${id}.clientPort`, id === config.id ? 0 : 1)
  }
  if (config.tls !== undefined) {
    const t = config.tls
    check(typeof t === 'object' && t !== null && [t.keyFile, t.certFile, t.caFile].every((f) => typeof f === 'string' && f.length > 0),
      C, 'tls', 'an object { keyFile, certFile, caFile } of file paths', t)
    checkKnownKeys(t, `${C} tls`, TLS_KEYS)
    check(config.insecure !== true, C, 'insecure', 'false or absent when tls is set', config.insecure)
  } else {
    check(config.insecure === true, C, 'tls', 'set (mutual TLS) unless insecure: true is given', undefined)
  }
  checkInt(config.tickMs ?? DEFAULT_CLUSTER_TICK_MS, C, 'tickMs', 1)
  checkInt(config.electionTicks ?? DEFAULT_CLUSTER_ELECTION_TICKS, C, 'electionTicks', 2)
  check(config.sync === undefined || typeof config.sync === 'boolean', C, 'sync', 'a boolean', config.sync)
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

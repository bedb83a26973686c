/**
 * Running quorate as separate processes: a node process (RaftNode + classic-level + mutual-TLS
 * TCP + a key-value service behind an authenticated client endpoint: HTTPS/JSON for tools, a
 * pipelined binary protocol for QuorateClient, /metrics and /health), a launcher that spawns,
 * kills and restarts them, and clients that follow the leader (QuorateClient: exactly-once
 * through client sessions, any router member).
 *
 * @example
 * import { ProcessCluster } from 'quorate/cluster'
 * const cluster = await ProcessCluster.create({ nodes: 3 })
 * await cluster.startAll()
 * await cluster.client.put('k', 'v')
 * await cluster.close()
 *
 * May import: every folder except testing (production code never depends on the test harness).
 */
export * from './client.js'
export { CLIENT_ROLES, CLIENT_IDENTITY_PREFIX, clientIdentityUri, hashClientToken, certificatePrincipal } from './auth.js'
export type { ClientRole, ClientToken, Principal } from './auth.js'
export * from './client-certs.js'
export * from './http-client.js'
export { prometheusText, PROMETHEUS_CONTENT_TYPE } from './prometheus.js'
export type { MetricsScrape } from './prometheus.js'
export { QuorateClient, QUORATE_CLIENT_DEFAULTS, SESSION_MEMBER, GRAPH_MEMBER, validateQuorateClientOptions } from './quorate-client.js'
export type { QuorateClientOptions, KvClient, RemoteGraph, CallOptions } from './quorate-client.js'
export type { ClientCredentials } from './stream-connection.js'
export { REJECTION_CODES } from './rejections.js'
export type { RejectionCode, RejectionLog, RejectionLogger } from './rejections.js'
export { STREAM_PROTOCOL } from './wire.js'
export * from './cluster-handle.js'
export * from './cluster-node.js'
export * from './config.js'
export * from './http-endpoint.js'
export * from './in-process.js'
export { DEFAULT_REQUEST_TIMEOUT_MS, validateKvServiceOptions, KvService } from './kv-service.js'
export type { KvServiceOptions } from './kv-service.js'
export {
  DEFAULT_CLUSTER_NODES, DEFAULT_CLUSTER_HOST, DEFAULT_READY_TIMEOUT_MS, DEFAULT_STOP_GRACE_MS,
  validateProcessClusterOptions, ProcessCluster
} from './launcher.js'
export type { ProcessClusterOptions, NodeProcessInfo, NodeExit } from './launcher.js'
export * from './protocol.js'

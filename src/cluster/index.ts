/**
 * Running quorate as separate processes: a node process (RaftNode + classic-level + mutual-TLS
 * TCP + a key-value service with a loopback HTTP client endpoint), a launcher that spawns,
 * kills and restarts them, and a client that finds the leader and retries.
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

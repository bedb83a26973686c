/**
 * What the demo and tests need from a running cluster, whether its nodes are OS processes
 * (ProcessCluster, launcher.ts) or RaftNodes in this process (InProcessCluster, in-process.ts).
 */
import type { NodeId } from '../raft/types.js'
import type { ClusterClient } from './client.js'

export interface ClusterHandle {
  readonly ids: readonly NodeId[]
  /** Where certificates, configs and data live. */
  readonly dir: string
  /** A retrying client for the whole cluster. */
  readonly client: ClusterClient
  /** Starts (or restarts, with its data) one node; resolves once it serves requests. */
  start (id: NodeId): Promise<unknown>
  startAll (): Promise<unknown>
  /** Stops one node abruptly (a process gets SIGKILL); its data stays for a restart. */
  kill (id: NodeId): Promise<unknown>
  isRunning (id: NodeId): boolean
  /** Stops every node and removes `dir` if the cluster created it. Idempotent. */
  close (): Promise<void>
  /** close(), for `await using cluster = ...`. */
  [Symbol.asyncDispose] (): Promise<void>
}

/**
 * A 3-node ProcessCluster for the operator-view tests: each node mounts the graph with the
 * coordinator's schema, serves the dashboard, and accepts a read-only bearer token; the graph
 * is seeded the way a coordinator and its agents would leave it (two agent nodes, instances
 * placed on them, the epoch record, a decision, an event).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ProcessCluster, hashClientToken } from '../../src/cluster/index.js'
import type { ClusterNodeConfig } from '../../src/cluster/index.js'
import { HA_KINDS, HA_RELATIONS, coordinatorSchema } from '../../src/coordinator/schema.js'
import { ref } from '../../src/graph/schema.js'

export const VIEWER_TOKEN = 'viewer-token-for-tests'

export async function viewsCluster (): Promise<ProcessCluster> {
  const cluster = await ProcessCluster.create({ nodes: 3 })
  for (const id of cluster.ids) {
    const file = join(cluster.dir, `${id}.json`)
    const config = JSON.parse(await readFile(file, 'utf8')) as ClusterNodeConfig
    const updated: ClusterNodeConfig = {
      ...config,
      dashboard: true,
      graph: { schema: { kinds: HA_KINDS, relations: HA_RELATIONS } as never },
      client: { ...config.client, tokens: [{ name: 'viewer', role: 'read-only', sha256: hashClientToken(VIEWER_TOKEN) }] }
    }
    await writeFile(file, JSON.stringify(updated, null, 2))
  }
  await cluster.startAll()
  return cluster
}

/** What a coordinator on n1 and two agents would have written. */
export async function seedGraph (cluster: ProcessCluster): Promise<void> {
  const client = cluster.quorateClient()
  try {
    const graph = client.graph(coordinatorSchema())
    const tx = graph.transaction()
    const instance = { parameters: '{}', state: 'running', failures: 0, failuresSince: 0, attempt: 1, avoid: '{}' }
    tx.put(ref('ha.node', 'w1'), { kind: 'worker', labels: '', state: 'up' })
    tx.put(ref('ha.node', 'w2'), { kind: 'worker', labels: '', state: 'up' })
    tx.put(ref('ha.instance', 'web-1'), { ...instance, service: '{"command":"web"}' })
    tx.put(ref('ha.instance', 'db-1'), { ...instance, service: '{"command":"db"}', state: 'starting' })
    tx.connect('ha.runs', ref('ha.node', 'w1'), ref('ha.instance', 'web-1'))
    tx.connect('ha.runs', ref('ha.node', 'w2'), ref('ha.instance', 'db-1'))
    tx.put(ref('ha.epoch', 'ha.epoch'), { token: 7, holder: 'n1', seq: 1 })
    tx.put(ref('ha.decision', 'ha.decision/1'), { seq: 1, rule: 'place', input: '{}', graphIndex: 1, ops: '[]', commands: '[]', phases: '[]', token: 7, note: 'placed web-1 on w1' })
    await tx.commit()
    await graph.emit({ id: 'w2-suspect', payload: new TextEncoder().encode('{"type":"node-suspect","node":"w2"}') })
  } finally {
    await client.close()
  }
}

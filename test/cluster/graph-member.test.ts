/**
 * A node that mounts the graph by config, written to remotely through QuorateClient's typed
 * graph helper: transactions checked against the schema and committed exactly once, refusals
 * with their codes, events deduplicated by id. One node in this process, a plaintext endpoint.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { createKvNode } from '../../src/cluster/cluster-node.js'
import { validateClusterNodeConfig } from '../../src/cluster/config.js'
import type { ClusterNodeConfig } from '../../src/cluster/config.js'
import { serveClientEndpoint } from '../../src/cluster/http-endpoint.js'
import { QuorateClient } from '../../src/cluster/quorate-client.js'
import { isQuorateError } from '../../src/errors.js'
import { defineSchema, ref } from '../../src/graph/schema.js'
import { LevelStorage } from '../../src/storage/level-storage.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { eventually } from '../harness/index.js'

const spec = {
  kinds: { host: { fields: { address: 'string' } }, service: { fields: { port: 'integer' } } },
  relations: { runs: { from: 'host', to: 'service', outgoing: 'many', incoming: 'one' } }
} as const

test('graph transactions and events reach a node\'s graph member through QuorateClient; refusals keep their codes', async () => {
  const schema = defineSchema(spec)
  const network = new MemoryNetwork()
  const parts = createKvNode({ id: 'n1', voters: ['n1'], storage: new LevelStorage({ db: new MemoryLevel() }), transport: network.transport('n1'), tickMs: 10, graph: { schema } })
  await parts.node.open()
  const endpoint = await serveClientEndpoint(parts.service, { listen: { host: '127.0.0.1', port: 0 }, insecure: true })
  const client = new QuorateClient({ nodes: { n1: endpoint.address }, credentials: { insecure: true }, deadlineMs: 5000 })
  try {
    await eventually('n1 leads', () => parts.node.status().role === 'leader')
    const graph = client.graph(schema)
    const h1 = ref('host', 'h1')
    const s1 = ref('service', 's1')
    const committed = await graph.transaction().put(h1, { address: '10.0.0.1' }).put(s1, { port: 80 }).connect('runs', h1, s1).commit()
    assert.equal([...committed.touched].sort(), ['h1', 's1'])
    assert.equal(parts.graph!.machine.graph.get('h1')?.fields, { address: '10.0.0.1' })
    // A compare-and-set on a resource that exists (version 0 = must not exist) is refused.
    let code = ''
    try { await graph.transaction().expect(h1, 0).put(h1, { address: 'x' }).commit() } catch (err) { code = isQuorateError(err) ? err.code : String(err) }
    assert.equal(code, 'GRAPH_CONFLICT')
    assert.equal(parts.graph!.machine.graph.get('h1')?.fields, { address: '10.0.0.1' })
    // The schema is checked on the client, before anything is sent.
    assert.throws(() => graph.transaction().put(s1, { port: 'eighty' } as never), (err: unknown) => isQuorateError(err, 'GRAPH_FIELD_INVALID'))
    const payload = new TextEncoder().encode('node h1 down')
    assert.equal(await graph.emit({ id: 'e-1', payload }), 'stored')
    assert.equal(await graph.emit({ id: 'e-1', payload }), 'duplicate')
    assert.equal(parts.graph!.machine.events.size, 1)
  } finally {
    await client.close()
    await endpoint.close()
    await parts.node.close()
    await network.close()
  }
})

test('a node config mounts a graph only with a valid schema', () => {
  const base: ClusterNodeConfig = { id: 'n1', dataDir: '/tmp/n1', members: { n1: { host: '127.0.0.1', raftPort: 7001, clientPort: 8001 } }, insecure: true, client: { insecure: true } }
  validateClusterNodeConfig({ ...base, graph: { schema: spec as never } })
  assert.throws(() => { validateClusterNodeConfig({ ...base, graph: { schema: { kinds: { host: { fields: { address: 'text' } } }, relations: {} } as never } }) }, (err: unknown) => isQuorateError(err, 'GRAPH_SCHEMA_INVALID'))
  assert.throws(() => { validateClusterNodeConfig({ ...base, graph: { schema: spec as never, histories: 5 } as never }) }, (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID'))
})

test.run()

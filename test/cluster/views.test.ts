/**
 * The operator views on one in-process node: the pure ClusterView (a leader's view carries
 * match and lag, a peer that did not answer is down), the routes' strict parameters, the
 * dashboard only when enabled (with its CSP), and its stream's first server-sent event.
 */
import * as http from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { createKvNode } from '../../src/cluster/cluster-node.js'
import { serveClientEndpoint } from '../../src/cluster/http-endpoint.js'
import type { ClientEndpoint } from '../../src/cluster/http-endpoint.js'
import { ViewRoutes } from '../../src/cluster/views/routes.js'
import { composeClusterView } from '../../src/cluster/views/view.js'
import { HA_KINDS, HA_RELATIONS } from '../../src/coordinator/schema.js'
import { isQuorateError } from '../../src/errors.js'
import { defineSchema } from '../../src/graph/schema.js'
import type { NodeStatus } from '../../src/node/node.js'
import { LevelStorage } from '../../src/storage/level-storage.js'
import { MemoryNetwork } from '../../src/transport/memory.js'

const base: NodeStatus = {
  id: 'n1', role: 'leader', leader: 'n1', term: 4, vote: 'n1', commitIndex: 10, appliedIndex: 10, lastIndex: 12, lastTerm: 4, durableIndex: 12,
  voters: ['n1', 'n2', 'n3'], learners: [], transferee: null, lifecycle: 'open', failure: null,
  progress: { n1: { match: 12, next: 13, state: 'replicate', inflight: 0, recentActive: true }, n2: { match: 9, next: 10, state: 'replicate', inflight: 1, recentActive: true }, n3: { match: 0, next: 1, state: 'probe', inflight: 0, recentActive: false } }
}
const members = { n1: { host: 'h1', port: 1 }, n2: { host: 'h2', port: 2 }, n3: { host: 'h3', port: 3 } }

test('a leader\'s view gives every member its match and lag; a peer that did not answer is down', () => {
  const view = composeClusterView({
    status: base, members, leases: [{ name: 'ha.coordinator', holder: 'n1', token: 5, durationMs: 3000, version: 5 }], graph: null, at: 1,
    peers: new Map([['n2', { ok: true, id: 'n2', role: 'follower' as const, term: 4, leader: 'n1', lifecycle: 'open' }], ['n3', null]])
  })
  assert.equal(view.members.map((m) => [m.id, m.up, m.role, m.match, m.lag]), [['n1', true, 'leader', 12, 0], ['n2', true, 'follower', 9, 3], ['n3', false, null, 0, 12]])
  assert.equal(view.leases, [{ name: 'ha.coordinator', holder: 'n1', token: 5, durationMs: 3000 }])
  assert.is(view.coordinator, null)
  const follower = composeClusterView({ status: { ...base, role: 'follower', leader: 'n2', progress: null }, members, leases: [], graph: null, at: 1, peers: new Map() })
  assert.equal(follower.members.map((m) => [m.id, m.match, m.lag, m.commitIndex]), [['n1', null, null, 10], ['n2', null, null, null], ['n3', null, null, null]])
})

async function get (endpoint: ClientEndpoint, path: string): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }> {
  return await new Promise((resolve, reject) => {
    http.get({ host: endpoint.address.host, port: endpoint.address.port, path }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        body += d
        // A stream never ends: its first event is enough.
        if (res.headers['content-type'] === 'text/event-stream' && body.includes('\n\n')) { res.destroy(); resolve({ status: res.statusCode!, headers: res.headers, body }) }
      })
      res.on('end', () => { resolve({ status: res.statusCode!, headers: res.headers, body }) })
    }).on('error', reject)
  })
}

async function node (dashboard: boolean): Promise<{ endpoint: ClientEndpoint, close: () => Promise<void> }> {
  const network = new MemoryNetwork()
  const parts = createKvNode({ id: 'n1', voters: ['n1'], storage: new LevelStorage({ db: new MemoryLevel() }), transport: network.transport('n1'), tickMs: 10, graph: { schema: defineSchema({ kinds: HA_KINDS, relations: HA_RELATIONS }) } })
  await parts.node.open()
  await parts.node.waitForLeader()
  const views = new ViewRoutes({ node: parts.node, lease: parts.lease.machine, graph: parts.graph!.machine, members: { n1: { host: '127.0.0.1', port: 1 } }, peerCredentials: { insecure: true }, dashboard })
  const endpoint = await serveClientEndpoint(parts.service, { listen: { host: '127.0.0.1', port: 0 }, insecure: true, views })
  return { endpoint, close: async () => { await endpoint.close(); await parts.node.close(); await network.close() } }
}

test('the dashboard is served only when enabled, with a CSP that allows its own script only', async () => {
  const off = await node(false)
  try {
    const page = await get(off.endpoint, '/dashboard')
    assert.is(page.status, 404)
    assert.is(JSON.parse(page.body).code, 'CLUSTER_ROUTE_UNKNOWN')
    assert.is((await get(off.endpoint, '/view')).status, 200, '/view does not need the dashboard')
  } finally { await off.close() }
  const on = await node(true)
  try {
    const page = await get(on.endpoint, '/dashboard')
    assert.is(page.status, 200)
    assert.match(page.body, /<script>/)
    assert.match(String(page.headers['content-security-policy']), /script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-/)
    const stream = await get(on.endpoint, '/dashboard/stream')
    assert.is(stream.headers['content-type'], 'text/event-stream')
    const data = /^event: view\ndata: (.*)$/m.exec(stream.body)
    assert.ok(data !== null, stream.body)
    const view = JSON.parse(data[1]!) as { from: string, leader: string, graph: { resources: number } }
    assert.is(view.from, 'n1')
    assert.is(view.leader, 'n1')
    assert.is(view.graph.resources, 0)
  } finally { await on.close() }
})

test('graph and events routes refuse unknown or malformed parameters with CLUSTER_REQUEST_INVALID', async () => {
  const n = await node(false)
  try {
    for (const path of ['/graph?colour=red', '/graph?kind=nope', '/graph?kind=ha.node&id=x', '/graph?neighbours=1', '/events?limit=5000', '/events?from=-1', '/view?x=1']) {
      const answer = await get(n.endpoint, path)
      assert.is(answer.status, 400, path)
      assert.is(JSON.parse(answer.body).code, 'CLUSTER_REQUEST_INVALID', path)
    }
    const counts = JSON.parse((await get(n.endpoint, '/graph')).body) as { kinds: Record<string, number> }
    assert.is(counts.kinds['ha.node'], 0)
  } finally { await n.close() }
})

test('ViewRoutes refuses options it does not know and members without this node', async () => {
  const network = new MemoryNetwork()
  const parts = createKvNode({ id: 'n1', voters: ['n1'], storage: new LevelStorage({ db: new MemoryLevel() }), transport: network.transport('n1') })
  const ok = { node: parts.node, lease: parts.lease.machine, graph: null, members: { n1: { host: 'h', port: 1 } }, peerCredentials: { insecure: true } }
  assert.throws(() => new ViewRoutes({ ...ok, dashbord: true } as never), (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID'))
  assert.throws(() => new ViewRoutes({ ...ok, members: { n2: { host: 'h', port: 1 } } }), (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID'))
  await network.close()
})

test.run()

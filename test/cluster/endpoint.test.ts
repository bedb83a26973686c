/**
 * The client protocol and its HTTP endpoint, on three RaftNodes in this process (memory-level
 * storage, MemoryNetwork): redirects from followers, bad input, status reports, and the
 * validation of configs, command lines and client options.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as http from 'node:http'
import * as net from 'node:net'
import { MemoryLevel } from 'memory-level'
import { ClusterClient } from '../../src/cluster/client.js'
import { createKvNode } from '../../src/cluster/cluster-node.js'
import type { KvNode } from '../../src/cluster/cluster-node.js'
import { validateClusterNodeConfig } from '../../src/cluster/config.js'
import type { ClusterNodeConfig } from '../../src/cluster/config.js'
import { MAX_REQUEST_BYTES, serveClientEndpoint } from '../../src/cluster/http-endpoint.js'
import { httpClientCall } from '../../src/cluster/http-client.js'
import type { ClientEndpoint } from '../../src/cluster/http-endpoint.js'
import { parseNodeProcessArgs } from '../../src/cluster/node-process.js'
import type { ClientResponse } from '../../src/cluster/protocol.js'
import { isQuorateError } from '../../src/errors.js'
import { LevelStorage } from '../../src/storage/level-storage.js'
import type { NodeId } from '../../src/raft/types.js'
import type { TcpAddress } from '../../src/transport/tcp.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { encodeFrame, frameReader, OP_PROPOSE, OP_READ, OP_STATUS, STATUS_FAILED, STATUS_OK, STREAM_PROTOCOL } from '../../src/cluster/wire.js'
import { eventually } from '../harness/index.js'

interface TestCluster {
  readonly nodes: Map<NodeId, KvNode>
  readonly endpoints: Map<NodeId, ClientEndpoint>
  readonly client: ClusterClient
  close (): Promise<void>
}

async function startCluster (): Promise<TestCluster> {
  const ids = ['n1', 'n2', 'n3']
  const network = new MemoryNetwork()
  const nodes = new Map<NodeId, KvNode>()
  const endpoints = new Map<NodeId, ClientEndpoint>()
  for (const id of ids) {
    const parts = createKvNode({ id, voters: ids, storage: new LevelStorage({ db: new MemoryLevel() }), transport: network.transport(id), tickMs: 10 })
    await parts.node.open()
    nodes.set(id, parts)
    endpoints.set(id, await serveClientEndpoint(parts.service, { listen: { host: '127.0.0.1', port: 0 }, insecure: true }))
  }
  const client = new ClusterClient({ members: ids, call: async (id, request, signal) => await httpClientCall(endpoints.get(id)!.address, request, signal) })
  return {
    nodes,
    endpoints,
    client,
    close: async () => {
      await Promise.all([...endpoints.values()].map(async (e) => { await e.close() }))
      await Promise.all([...nodes.values()].map(async (n) => { await n.node.close() }))
      await network.close()
    }
  }
}

async function raw (address: TcpAddress, method: string, path: string, body?: string | Buffer): Promise<{ status: number, json: ClientResponse }> {
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: address.host, port: address.port, method, path, agent: false }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => parts.push(d))
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(parts).toString('utf8')) as ClientResponse })
        } catch (err) { reject(err) }
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function leaderOf (cluster: TestCluster): Promise<NodeId> {
  await cluster.client.put('warm-up', 'x')
  return cluster.client.leader!
}

/**
 * Runs `ask(leader)` until leadership held still across it (same leader, same term): with real
 * timers a loaded machine can hold an election at any moment, and a test asserting who leads
 * must then look again rather than flip.
 */
async function withStableLeader<T> (cluster: TestCluster, ask: (leader: NodeId) => Promise<T>): Promise<{ leader: NodeId, result: T }> {
  for (let attempt = 1; ; attempt++) {
    const leader = await leaderOf(cluster)
    const term = cluster.nodes.get(leader)!.node.status().term
    const result = await ask(leader)
    const after = cluster.nodes.get(leader)!.node.status()
    if (after.role === 'leader' && after.term === term) return { leader, result }
    if (attempt >= 20) throw new Error('leadership changed during each of 20 attempts')
  }
}

test('a follower answers RAFT_NOT_LEADER naming the leader (HTTP 421) and the client follows it', async () => {
  const cluster = await startCluster()
  try {
    // Each attempt appends to its own key, so one retried after an election changes nothing.
    let attempt = 0
    const { leader, result: seen } = await withStableLeader(cluster, async (leader) => {
      const key = `log${++attempt}`
      const follower = [...cluster.nodes.keys()].find((id) => id !== leader && cluster.nodes.get(id)!.node.status().leader === leader)!
      const refused = await raw(cluster.endpoints.get(follower)!.address, 'POST', '/', JSON.stringify({ type: 'kv', input: { op: 'put', key: 'k', value: 'v' } }))
      const viaFollower = new ClusterClient({ members: [follower, leader], call: async (id, request, signal) => await httpClientCall(cluster.endpoints.get(id)!.address, request, signal) })
      const appended = await viaFollower.command({ op: 'append', key, value: 'a' })
      return { key, follower, refused, appended, followed: viaFollower.leader }
    })
    const { key, follower, refused } = seen
    assert.equal(refused.status, 421)
    assert.equal(refused.json, { ok: false, code: 'RAFT_NOT_LEADER', message: refused.json.ok ? '' : refused.json.message, leader })
    assert.equal(seen.appended, { op: 'append', value: 'a' })
    assert.equal(seen.followed, leader)
    // Reads are linearizable on followers too (ReadIndex through the leader).
    const read = await raw(cluster.endpoints.get(follower)!.address, 'POST', '/', JSON.stringify({ type: 'read', keys: [key, 'nothing'] }))
    assert.equal(read.status, 200)
    assert.equal(read.json.ok && read.json.type === 'read' ? read.json.values : null, ['a', null])
  } finally {
    await cluster.close()
  }
})

test('malformed requests get CLUSTER_REQUEST_INVALID (400), unknown routes CLUSTER_ROUTE_UNKNOWN (404), oversized bodies CLUSTER_REQUEST_TOO_LARGE (413); the node keeps serving and counts each', async () => {
  const cluster = await startCluster()
  try {
    await leaderOf(cluster)
    const address = cluster.endpoints.get(cluster.client.leader!)!.address
    const bad: Array<[string, string, string | Buffer]> = [
      ['POST', '/', '{not json'],
      ['POST', '/', '42'],
      ['POST', '/', JSON.stringify({ type: 'launch' })],
      ['POST', '/', JSON.stringify({ type: 'kv', input: { op: 'put', key: 1, value: 'v' } })],
      ['POST', '/', JSON.stringify({ type: 'kv', input: { op: 'cas', key: 'k', expected: 5, value: 'v' } })],
      ['POST', '/', JSON.stringify({ type: 'read', keys: 'k' })],
      ['POST', '/', JSON.stringify({ type: 'status', hash: 'yes' })]
    ]
    for (const [method, path, body] of bad) {
      const r = await raw(address, method, path, body)
      assert.equal(r.status, 400, `${method} ${path} ${String(body).slice(0, 40)}`)
      assert.equal(r.json.ok ? null : r.json.code, 'CLUSTER_REQUEST_INVALID')
    }
    const other: Array<[string, string, string | Buffer, number, string]> = [
      ['GET', '/admin', '', 404, 'CLUSTER_ROUTE_UNKNOWN'],
      ['PUT', '/', '{}', 404, 'CLUSTER_ROUTE_UNKNOWN'],
      ['POST', '/', Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x20), 413, 'CLUSTER_REQUEST_TOO_LARGE']
    ]
    for (const [method, path, body, status, code] of other) {
      const r = await raw(address, method, path, body)
      assert.equal([r.status, r.json.ok ? null : r.json.code], [status, code], `${method} ${path}`)
    }
    const counts = cluster.endpoints.get(cluster.client.leader!)!.rejections()
    assert.equal([counts.CLUSTER_REQUEST_INVALID, counts.CLUSTER_ROUTE_UNKNOWN, counts.CLUSTER_REQUEST_TOO_LARGE], [bad.length, 2, 1])
    await cluster.client.put('after', 'garbage')
    assert.equal(await cluster.client.read(['after']), ['garbage'])
  } finally {
    await cluster.close()
  }
})

test('GET /status reports role and indexes; replicas at the same applied index report the same state hash', async () => {
  const cluster = await startCluster()
  try {
    for (let i = 0; i < 20; i++) await cluster.client.put(`k${i}`, `v${i}`)
    // Looked at again if an election (and its no-op entry) happened meanwhile.
    const { leader, result: reports } = await withStableLeader(cluster, async (leader) => {
      const index = (await cluster.client.status(leader)).commitIndex
      await eventually(`every node to apply ${index}`, () => [...cluster.nodes.values()].every((n) => n.node.status().appliedIndex >= index))
      return await Promise.all([...cluster.endpoints.values()].map(async (e) => await raw(e.address, 'GET', '/status')))
    })
    const statuses = reports.map((r) => r.json.ok && r.json.type === 'status' ? r.json.status : null)
    assert.equal(statuses.filter((s) => s?.role === 'leader').map((s) => s!.id), [leader])
    assert.equal(new Set(statuses.map((s) => `${s!.appliedIndex}/${s!.keys}/${s!.stateHash}`)).size, 1)
    assert.equal(statuses[0]!.keys, 21)
    assert.match(statuses[0]!.stateHash, /^[0-9a-f]{64}$/)
    // The report carries the transport's counters (rejections by reason, for operators).
    assert.ok((statuses[0]!.transport?.sent ?? 0) > 0)
    assert.equal((await cluster.client.status(leader, { hash: false })).stateHash, '')
  } finally {
    await cluster.close()
  }
})

test('a client whose nodes never answer gives up with RAFT_TIMEOUT at its deadline', async () => {
  const client = new ClusterClient({ members: ['a', 'b'], retryDelayMs: 1, call: async () => { throw new Error('connection refused') } })
  try {
    await client.put('k', 'v', { signal: AbortSignal.timeout(50) })
    assert.unreachable('put succeeded')
  } catch (err) {
    assert.ok(isQuorateError(err, 'RAFT_TIMEOUT'), String(err))
    assert.match((err as Error).message, /connection refused/)
  }
})

/** Upgrades a plain connection to the binary protocol and returns the socket and every frame it receives. */
async function rawStream (address: TcpAddress): Promise<{ socket: net.Socket, frames: Array<{ id: number, status: number, body: string }>, closed: Promise<void> }> {
  const socket = net.connect(address.port, address.host)
  const frames: Array<{ id: number, status: number, body: string }> = []
  const closed = new Promise<void>((resolve) => { socket.once('close', () => { resolve() }) })
  socket.on('error', () => {})
  await new Promise<void>((resolve) => {
    let head = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      assert.match(head.subarray(0, end).toString(), /^HTTP\/1\.1 101/)
      socket.off('data', onData)
      socket.on('data', frameReader(1 << 20, (id, status, body) => { frames.push({ id, status, body: body.toString('utf8') }) }, () => {}))
      resolve()
    }
    socket.on('data', onData)
    socket.write(`GET / HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: ${STREAM_PROTOCOL}\r\n\r\n`)
  })
  return { socket, frames, closed }
}

test('malformed binary frames are refused one by one and the node keeps serving; a frame too short to read closes only that connection', async () => {
  const cluster = await startCluster()
  try {
    await leaderOf(cluster)
    const address = cluster.endpoints.get(cluster.client.leader!)!.address
    const { socket, frames, closed } = await rawStream(address)
    socket.write(encodeFrame(1, 99, Buffer.from('x')))                       // unknown op
    socket.write(encodeFrame(2, OP_READ, Buffer.from('{not json')))          // READ without a JSON array
    socket.write(encodeFrame(3, OP_PROPOSE, Uint8Array.of(3, 0x6e, 0x6f)))   // a route prefix longer than the command
    socket.write(encodeFrame(4, OP_PROPOSE, Buffer.from('\u0004nope-payload')))  // a member nobody mounted
    socket.write(encodeFrame(5, OP_STATUS, Uint8Array.of(0)))                 // and a good one after them
    await eventually('five answers', () => frames.length === 5)
    const byId = new Map(frames.map((f) => [f.id, f]))
    for (const id of [1, 2, 3, 4]) {
      assert.equal(byId.get(id)!.status, STATUS_FAILED, `frame ${id}`)
      assert.equal((JSON.parse(byId.get(id)!.body) as { code: string }).code, 'CLUSTER_REQUEST_INVALID')
    }
    assert.equal(byId.get(5)!.status, STATUS_OK)
    // A length below the header's: answered (id 0) and the connection closed.
    socket.write(Buffer.from([0, 0, 0, 2, 0, 0]))
    await closed
    assert.equal(frames.at(-1)!.id, 0)
    assert.equal(cluster.endpoints.get(cluster.client.leader!)!.rejections().CLUSTER_REQUEST_INVALID, 5)
    await cluster.client.put('still', 'serving')
    assert.equal(await cluster.client.read(['still']), ['serving'])
  } finally {
    await cluster.close()
  }
})

const goodConfig: ClusterNodeConfig = {
  id: 'n1',
  dataDir: '/tmp/n1',
  members: { n1: { host: '127.0.0.1', raftPort: 7001, clientPort: 8001 }, n2: { host: '127.0.0.1', raftPort: 7002, clientPort: 8002 } },
  insecure: true,
  client: { insecure: true }
}

test('a node config is validated and the error names the field', () => {
  validateClusterNodeConfig(goodConfig)
  const cases: Array<[Partial<ClusterNodeConfig>, string]> = [
    [{ id: 'n9' }, 'members'],
    [{ insecure: undefined }, 'tls'],
    [{ tls: { keyFile: 'k', certFile: 'c', caFile: 'a' } }, 'insecure'],
    [{ members: { ...goodConfig.members, n2: { host: '127.0.0.1', raftPort: 0, clientPort: 8002 } } }, 'members.n2.raftPort'],
    [{ tickMs: 0 }, 'tickMs'],
    [{ dataDir: '' }, 'dataDir'],
    // A hand-written config with a misspelt key must not fall back to the default silently.
    [{ electionTick: 5 } as Partial<ClusterNodeConfig>, 'electionTick'],
    [{ members: { ...goodConfig.members, n2: { host: '127.0.0.1', raftPort: 7002, clientPort: 8002, raftport: 7 } as never } }, 'raftport'],
    // The client endpoint is TLS unless plaintext is asked for explicitly.
    [{ client: undefined }, 'client.insecure'],
    [{ client: { insecure: true, tls: { keyFile: 'k', certFile: 'c', caFile: 'a' } } }, 'client.tls'],
    [{ client: { insecure: true, tokens: [{ name: 'ci', role: 'admin' as never, sha256: 'ab'.repeat(32) }] } }, 'client.tokens[0].role'],
    [{ client: { insecure: true, tokens: [{ name: 'ci', role: 'read-only', sha256: 'not-hex' }] } }, 'client.tokens[0].sha256'],
    [{ client: { insecure: true, insecur: true } as never }, 'insecur'],
    [{ members: { ...goodConfig.members, n2: { host: '127.0.0.1', raftPort: 7002, clientHost: '', clientPort: 8002 } } }, 'members.n2.clientHost']
  ]
  for (const [change, field] of cases) {
    try {
      validateClusterNodeConfig({ ...goodConfig, ...change })
      assert.unreachable(field)
    } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'), String(err))
      assert.equal((err as { info?: { field?: string } }).info?.field, field)
    }
  }
})

test('the cluster components refuse unknown option keys, naming the key and the nearest known one', async () => {
  const { validateClusterClientOptions } = await import('../../src/cluster/client.js')
  const { validateProcessClusterOptions } = await import('../../src/cluster/launcher.js')
  const { validateInProcessClusterOptions } = await import('../../src/cluster/in-process.js')
  const cases: Array<[() => void, string]> = [
    [() => { validateClusterClientOptions({ members: ['n1'], call: async () => ({ ok: true }) as never, attemptTimeoutMS: 5 } as never) }, 'attemptTimeoutMS'],
    [() => { validateProcessClusterOptions({ node: 3 } as never) }, 'node'],
    [() => { validateInProcessClusterOptions({ tickMS: 5 } as never) }, 'tickMS'],
    [() => { createKvNode({ id: 'n1', voters: ['n1'], storage: null as never, transport: null as never, electionTick: 5 } as never) }, 'electionTick']
  ]
  for (const [fn, key] of cases) {
    try {
      fn()
      assert.unreachable(key)
    } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'), String(err))
      assert.equal((err as { info?: { field?: string } }).info?.field, key)
      assert.match((err as Error).message, /did you mean/)
    }
  }
})

test('the node process command line needs --config and refuses unknown arguments', () => {
  assert.equal(parseNodeProcessArgs(['--config', 'n1.json', '--exit-with-stdin']), { kind: 'run', args: { configPath: 'n1.json', exitWithStdin: true } })
  assert.equal(parseNodeProcessArgs(['--config=n1.json']), { kind: 'run', args: { configPath: 'n1.json', exitWithStdin: false } })
  assert.equal(parseNodeProcessArgs(['--help']), { kind: 'help' })
  assert.equal(parseNodeProcessArgs(['--version']), { kind: 'version' })
  for (const argv of [[], ['--config'], ['--config', 'n1.json', '--verbose'], ['--config', 'n1.json', 'extra'], ['--exit-with-stdin=yes', '--config', 'n1.json']]) {
    assert.throws(() => parseNodeProcessArgs(argv), (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID') && /Usage:/.test((err as Error).message), JSON.stringify(argv))
  }
})

test.run()

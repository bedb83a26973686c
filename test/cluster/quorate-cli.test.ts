/**
 * The `quorate` bin, run as a process against a running 3-node ProcessCluster (graph mounted
 * and seeded as a coordinator and agents would leave it): its status table and JSON, graph and
 * events queries, health, and its exit statuses for usage errors (2), unreachable endpoints
 * (3) and refused credentials (4).
 */
import { execFile, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { validateClusterNodeConfig } from '../../src/cluster/index.js'
import type { ProcessCluster } from '../../src/cluster/index.js'
import { getJson } from '../../src/cluster/views/get-json.js'
import type { ClusterView } from '../../src/cluster/views/view.js'
import { coordinatorSchema } from '../../src/coordinator/schema.js'
import { isQuorateError } from '../../src/errors.js'
import { VIEWER_TOKEN, seedGraph, viewsCluster } from './views-cluster.js'

const BIN = fileURLToPath(new URL('../../src/cluster/cli/quorate.js', import.meta.url))

interface Run { readonly code: number, readonly stdout: string, readonly stderr: string }

async function quorate (args: readonly string[]): Promise<Run> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), stdout, stderr })
    })
  })
}

let cluster: ProcessCluster
const endpoints = (): string[] => cluster.ids.flatMap((id) => ['--endpoint', `${cluster.clientAddress(id).host}:${cluster.clientAddress(id).port}`])
const withToken = (): string[] => [...endpoints(), '--ca', `${cluster.dir}/certs/ca.crt`, '--token', VIEWER_TOKEN]
const withCert = (): string[] => [...endpoints(), '--ca', `${cluster.dir}/certs/ca.crt`, '--cert', `${cluster.dir}/certs/client-launcher.crt`, '--key', `${cluster.dir}/certs/client-launcher.key`]

test.before(async () => {
  cluster = await viewsCluster()
  await seedGraph(cluster)
})
test.after(async () => { await cluster.close() })

test('status prints a table of every member with one leader, the coordinator and the agents\' services', async () => {
  const run = await quorate(['status', ...withToken()])
  assert.is(run.code, 0, run.stderr)
  const rows = run.stdout.split('\n').filter((l) => /^n\d\s/.test(l))
  assert.is(rows.length, 3, run.stdout)
  assert.is(rows.filter((r) => /\sleader\s/.test(r)).length, 1, run.stdout)
  assert.ok(rows.every((r) => /\sup\s/.test(r)), run.stdout)
  assert.match(run.stdout, /coordinator: n1, fencing token 7/)
  assert.match(run.stdout, /w1\s+worker\s+up\s+web-1 \(running\)/)
  assert.match(run.stdout, /w2\s+worker\s+up\s+db-1 \(starting\)/)
})

test('status --json gives the leader\'s view with match, lag and every member\'s own indexes', async () => {
  const run = await quorate(['status', '--json', ...withCert()])
  assert.is(run.code, 0, run.stderr)
  const view = JSON.parse(run.stdout) as ClusterView
  assert.is(view.from, view.leader, 'the view comes from the leader')
  assert.is(view.members.length, 3)
  for (const m of view.members) {
    assert.ok(m.up)
    assert.type(m.commitIndex, 'number', `${m.id} commit index`)
    assert.type(m.lag, 'number', `${m.id} lag`)
  }
  assert.equal(view.coordinator, { holder: 'n1', token: 7, seq: 1 })
  assert.equal(view.graph?.instances.map((i) => [i.id, i.node]), [['db-1', 'w2'], ['web-1', 'w1']])
})

test('graph answers by kind, by id with neighbours, and refuses an unknown kind with a clear error', async () => {
  const byKind = JSON.parse((await quorate(['graph', '--kind', 'ha.node', '--json', ...withToken()])).stdout) as { resources: Array<{ id: string }> }
  assert.equal(byKind.resources.map((r) => r.id), ['w1', 'w2'])
  const near = await quorate(['graph', '--id', 'w1', '--neighbours', ...withToken()])
  assert.match(near.stdout, /ha\.runs\s+out\s+web-1\s+ha\.instance/)
  const bad = await quorate(['graph', '--kind', 'nope', ...withToken()])
  assert.is(bad.code, 1)
  assert.match(bad.stderr, /CLUSTER_REQUEST_INVALID.*unknown kind "nope"/)
})

test('events lists the queue with the payload as text', async () => {
  const run = await quorate(['events', ...withToken()])
  assert.is(run.code, 0, run.stderr)
  assert.match(run.stdout, /w2-suspect\s+35\s+\{"type":"node-suspect","node":"w2"\}/)
})

test('usage errors exit 2, unreachable endpoints 3, a wrong token 4', async () => {
  assert.is((await quorate(['status'])).code, 2)
  assert.is((await quorate(['nope', ...withToken()])).code, 2)
  assert.is((await quorate(['status', '--kind', 'x', ...withToken()])).code, 2)
  const unreachable = await quorate(['status', '--endpoint', '127.0.0.1:1', '--insecure'])
  assert.is(unreachable.code, 3)
  assert.match(unreachable.stderr, /VIEW_UNREACHABLE/)
  const refused = await quorate(['status', ...endpoints(), '--ca', `${cluster.dir}/certs/ca.crt`, '--token', 'wrong'])
  assert.is(refused.code, 4)
  assert.match(refused.stderr, /CLUSTER_AUTH_FAILED/)
  const help = await quorate(['--help'])
  assert.is(help.code, 0)
  assert.match(help.stdout, /Usage: quorate/)
})

test('events --follow prints each new event as it is committed, until interrupted', async () => {
  const child = spawn(process.execPath, [BIN, 'events', '--follow', '--interval', '50', ...withToken()], { stdio: ['ignore', 'pipe', 'pipe'] })
  // One listener for the child's whole life: a line printed between two waits must not be lost.
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8') })
  child.stderr.on('data', (d: Buffer) => { err += d.toString('utf8') })
  const seen = async (pattern: RegExp): Promise<void> => {
    for (const started = Date.now(); !pattern.test(out); await new Promise((resolve) => setTimeout(resolve, 20))) {
      if (Date.now() - started > 15_000) throw new Error(`no ${String(pattern)} in ${out}; stderr: ${err}`)
    }
  }
  try {
    await seen(/w2-suspect/)
    const client = cluster.quorateClient()
    await client.graph(coordinatorSchema()).emit({ id: 'w1-dead', payload: new TextEncoder().encode('gone') })
    await client.close()
    await seen(/w1-dead\s+4\s+gone/)
  } finally {
    child.kill('SIGINT')
  }
})

test('the dashboard stream needs credentials like every other data route', async () => {
  const address = cluster.clientAddress('n1')
  const answer = await getJson(address, '/dashboard/stream', { ca: await readFile(`${cluster.dir}/certs/ca.crt`, 'utf8'), token: 'nobody' }, 5000)
  assert.is(answer.status, 401)
  assert.is((answer.body as { code: string }).code, 'CLUSTER_AUTH_FAILED')
})

test('health exits 0 on a whole cluster and 1 once a member is down, which status shows', async () => {
  assert.is((await quorate(['health', ...withToken()])).code, 0)
  await cluster.kill('n3')
  const health = await quorate(['health', ...withToken()])
  assert.is(health.code, 1, health.stdout)
  assert.match(health.stdout, /UNHEALTHY/)
  assert.match((await quorate(['status', ...withToken()])).stdout, /n3\s+down/)
})

test('the dashboard flag is validated like every other config key', () => {
  const base = { id: 'n1', dataDir: '/tmp/x', insecure: true, client: { insecure: true }, members: { n1: { host: '127.0.0.1', raftPort: 1, clientPort: 2 } } }
  validateClusterNodeConfig({ ...base, dashboard: true })
  assert.throws(() => { validateClusterNodeConfig({ ...base, dashboard: 'yes' as never }) }, (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID') && /dashboard/.test((err as Error).message))
})

test.run()

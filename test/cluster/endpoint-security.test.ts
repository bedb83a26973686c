/**
 * Every way the TLS client endpoint refuses a caller, each with its documented code, counted
 * in /metrics and the status report and logged: no credentials, a certificate from another
 * CA, a node certificate posing as a client, a read-only role writing (JSON and binary), a
 * bad token, plaintext to the TLS port, an oversized body and an oversized binary frame. And
 * what is let through: /health without credentials, the roles' reads, a valid token.
 * One node in this process (memory storage), real TLS sockets on 127.0.0.1.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as http from 'node:http'
import * as https from 'node:https'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryLevel } from 'memory-level'
import { hashClientToken } from '../../src/cluster/auth.js'
import { createClientCertificate } from '../../src/cluster/client-certs.js'
import { createKvNode } from '../../src/cluster/cluster-node.js'
import type { KvNode } from '../../src/cluster/cluster-node.js'
import { serveClientEndpoint } from '../../src/cluster/http-endpoint.js'
import type { ClientEndpoint } from '../../src/cluster/http-endpoint.js'
import { QuorateClient } from '../../src/cluster/quorate-client.js'
import type { RejectionLog } from '../../src/cluster/rejections.js'
import type { ClientCredentials } from '../../src/cluster/stream-connection.js'
import { isQuorateError } from '../../src/errors.js'
import { LevelStorage } from '../../src/storage/level-storage.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { createDevCertificates } from '../../src/transport/tls-certs.js'
import { eventually } from '../harness/index.js'

const TOKEN = 'ci-token-0123456789'
const MAX_BYTES = 4096

interface Fixture {
  readonly node: KvNode
  readonly endpoint: ClientEndpoint
  readonly logs: RejectionLog[]
  readonly ca: string
  readonly readWrite: ClientCredentials
  readonly readOnly: ClientCredentials
  readonly otherCa: ClientCredentials
  readonly nodeCert: ClientCredentials
  close (): Promise<void>
}

async function pemFiles (files: { keyFile: string, certFile: string }, ca: string): Promise<ClientCredentials> {
  return { ca, key: await readFile(files.keyFile, 'utf8'), cert: await readFile(files.certFile, 'utf8') }
}

async function setUp (): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-endpoint-security-'))
  const certs = await createDevCertificates({ nodeIds: ['n1'], dir: join(dir, 'a') })
  await createDevCertificates({ nodeIds: ['x'], dir: join(dir, 'b'), caName: 'another-ca' })
  const issue = async (caDir: string, name: string, role: 'read-only' | 'read-write'): Promise<ClientCredentials> =>
    await pemFiles(await createClientCertificate({ dir: join(dir, 'clients'), caCertFile: join(caDir, 'ca.crt'), caKeyFile: join(caDir, 'ca.key'), name, role, file: `${name}-${role}` }), certs.ca)
  const network = new MemoryNetwork()
  const node = createKvNode({ id: 'n1', voters: ['n1'], storage: new LevelStorage({ db: new MemoryLevel() }), transport: network.transport('n1'), tickMs: 10 })
  await node.node.open()
  const logs: RejectionLog[] = []
  const endpoint = await serveClientEndpoint(node.service, {
    listen: { host: '127.0.0.1', port: 0 },
    tls: { key: certs.nodes.n1!.key, cert: certs.nodes.n1!.cert, ca: certs.ca },
    tokens: [{ name: 'ci', role: 'read-write', sha256: hashClientToken(TOKEN) }],
    maxRequestBytes: MAX_BYTES,
    log: (record) => { logs.push(record) }
  })
  await eventually('n1 leads', () => node.node.status().role === 'leader')
  return {
    node,
    endpoint,
    logs,
    ca: certs.ca,
    readWrite: await issue(join(dir, 'a'), 'app', 'read-write'),
    readOnly: await issue(join(dir, 'a'), 'dashboard', 'read-only'),
    otherCa: await issue(join(dir, 'b'), 'intruder', 'read-write'),
    nodeCert: { ca: certs.ca, key: certs.nodes.n1!.key, cert: certs.nodes.n1!.cert },
    close: async () => {
      await endpoint.close()
      await node.node.close()
      await network.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

interface Answer { status: number, body: string, json: { ok?: boolean, code?: string } }

async function call (f: Fixture, method: string, path: string, credentials: ClientCredentials, body?: string | Buffer, token?: string): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` }
    const req = https.request({
      host: '127.0.0.1', port: f.endpoint.address.port, method, path, agent: false, headers,
      ca: credentials.ca, cert: credentials.cert, key: credentials.key, checkServerIdentity: () => undefined
    }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => parts.push(d))
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8')
        let json = {}
        try { json = JSON.parse(text) as object } catch {}
        resolve({ status: res.statusCode!, body: text, json })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

const put = JSON.stringify({ type: 'kv', input: { op: 'put', key: 'k', value: 'v' } })
const read = JSON.stringify({ type: 'read', keys: ['k'] })

function clientFor (f: Fixture, credentials: ClientCredentials): QuorateClient {
  return new QuorateClient({ nodes: { n1: f.endpoint.address }, credentials, deadlineMs: 5000 })
}

async function refusal (promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'resolved'
  } catch (err) {
    return isQuorateError(err) ? err.code : String(err)
  }
}

test('each refusal of the TLS endpoint carries its documented code, is counted and logged; allowed callers get through', async () => {
  const f = await setUp()
  try {
    const anonymous: ClientCredentials = { ca: f.ca }
    // No certificate, no token.
    const none = await call(f, 'POST', '/', anonymous, put)
    assert.equal([none.status, none.json.code], [401, 'CLUSTER_AUTH_REQUIRED'])
    // A certificate another CA signed, and a node certificate (Raft only) posing as a client.
    for (const creds of [f.otherCa, f.nodeCert]) {
      const r = await call(f, 'POST', '/', creds, put)
      assert.equal([r.status, r.json.code], [401, 'CLUSTER_AUTH_FAILED'])
    }
    // A bad token, then the right one.
    const bad = await call(f, 'POST', '/', anonymous, put, 'wrong-token')
    assert.equal([bad.status, bad.json.code], [401, 'CLUSTER_AUTH_FAILED'])
    const good = await call(f, 'POST', '/', anonymous, put, TOKEN)
    assert.equal([good.status, good.json.ok], [200, true])
    // A read-only role may read, not write.
    const roWrite = await call(f, 'POST', '/', f.readOnly, put)
    assert.equal([roWrite.status, roWrite.json.code], [403, 'CLUSTER_FORBIDDEN'])
    const roRead = await call(f, 'POST', '/', f.readOnly, read)
    assert.equal([roRead.status, (roRead.json as { values?: unknown }).values], [200, ['v']])
    // An oversized body (authenticated).
    const big = await call(f, 'POST', '/', f.readWrite, Buffer.alloc(MAX_BYTES + 1, 0x20))
    assert.equal([big.status, big.json.code], [413, 'CLUSTER_REQUEST_TOO_LARGE'])
    // Plaintext HTTP to the TLS port: the connection is closed during the handshake.
    const plain = await new Promise<string>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: f.endpoint.address.port, method: 'GET', path: '/health', agent: false }, (res) => { resolve(`answered ${String(res.statusCode)}`) })
      req.on('error', (err: NodeJS.ErrnoException) => { resolve(`error ${String(err.code)}`) })
      req.end()
    })
    assert.match(plain, /^error /)
    await eventually('the plaintext attempt is counted', () => f.endpoint.rejections().CLUSTER_TLS_REQUIRED === 1)
    // /health needs no credentials; /metrics needs some.
    const health = await call(f, 'GET', '/health', anonymous)
    assert.equal([health.status, health.json.ok], [200, true])
    assert.equal((await call(f, 'GET', '/metrics', anonymous)).status, 401)
    const counts = f.endpoint.rejections()
    assert.equal(counts, {
      CLUSTER_AUTH_REQUIRED: 2,
      CLUSTER_AUTH_FAILED: 3,
      CLUSTER_FORBIDDEN: 1,
      CLUSTER_TLS_REQUIRED: 1,
      CLUSTER_REQUEST_TOO_LARGE: 1,
      CLUSTER_ROUTE_UNKNOWN: 0,
      CLUSTER_REQUEST_INVALID: 0
    })
    const metrics = await call(f, 'GET', '/metrics', f.readOnly)
    assert.equal(metrics.status, 200)
    assert.match(metrics.body, 'quorate_client_rejections_total{node="n1",code="CLUSTER_AUTH_FAILED"} 3')
    assert.match(metrics.body, 'quorate_role{node="n1",role="leader"} 1')
    assert.match(metrics.body, /quorate_proposals_total\{node="n1"\} [1-9]/)
    // Every code refused was logged (at least its first occurrence; the log is rate-limited per code).
    assert.equal(new Set(f.logs.map((l) => l.code)), new Set(Object.entries(counts).filter(([, n]) => n > 0).map(([c]) => c)))
    assert.ok(f.logs.every((l) => l.level === 'warn' && l.remote.startsWith('127.0.0.1')))
  } finally {
    await f.close()
  }
})

test('the binary protocol refuses the same callers with the same codes, and serves certificate and token holders', async () => {
  const f = await setUp()
  try {
    for (const [creds, code] of [[{ ca: f.ca, cert: f.otherCa.cert, key: f.otherCa.key }, 'CLUSTER_AUTH_FAILED'], [{ ca: f.ca, token: 'wrong-token' }, 'CLUSTER_AUTH_FAILED']] as const) {
      const c = clientFor(f, creds)
      assert.equal(await refusal(c.kv.put('k', 'v')), code)
      await c.close()
    }
    const ro = clientFor(f, f.readOnly)
    assert.equal(await refusal(ro.kv.put('k', 'v')), 'CLUSTER_FORBIDDEN')
    assert.equal(await ro.kv.read(['k']), [null])
    await ro.close()
    const rw = clientFor(f, f.readWrite)
    await rw.kv.put('k', 'v1')
    assert.equal(await rw.kv.append('k', '+'), 'v1+')
    // A frame over maxRequestBytes closes that connection; the client reports the code.
    assert.equal(await refusal(rw.propose('kv', new Uint8Array(MAX_BYTES + 100))), 'CLUSTER_REQUEST_TOO_LARGE')
    assert.equal(await rw.kv.read(['k']), ['v1+'])
    await rw.close()
    const tokenClient = clientFor(f, { ca: f.ca, token: TOKEN })
    assert.equal(await tokenClient.kv.cas('k', 'v1+', 'v2'), true)
    await tokenClient.close()
    const counts = f.endpoint.rejections()
    assert.equal([counts.CLUSTER_AUTH_FAILED, counts.CLUSTER_FORBIDDEN, counts.CLUSTER_REQUEST_TOO_LARGE], [2, 1, 1])
  } finally {
    await f.close()
  }
})

test('an endpoint without tls refuses to start unless insecure: true is explicit', async () => {
  const f = await setUp()
  try {
    let code = ''
    try { await serveClientEndpoint(f.node.service, { listen: { host: '127.0.0.1', port: 0 } }) } catch (err) { code = isQuorateError(err) ? `${err.code} ${String(err.info?.field)}` : String(err) }
    assert.equal(code, 'OPTIONS_INVALID tls')
  } finally {
    await f.close()
  }
})

test.run()

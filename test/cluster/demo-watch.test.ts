/**
 * The pieces behind "how to watch the demo" without running it: the printed `quorate status`
 * command and dashboard URL (demo/watch.ts), the `--hold` flag's validation (demo/args.ts), and
 * ProcessCluster's `dashboard` and `tokens` options (written to every node's config, hashes
 * only; mistyped ones are OPTIONS_INVALID).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseDemoArgs } from '../../demo/args.js'
import { createViewerToken, statusArgs, watchLines } from '../../demo/watch.js'
import { hashClientToken } from '../../src/cluster/auth.js'
import type { ClusterNodeConfig } from '../../src/cluster/config.js'
import { ProcessCluster, validateProcessClusterOptions } from '../../src/cluster/launcher.js'
import { isQuorateError } from '../../src/errors.js'

const endpoints = [{ host: '127.0.0.1', port: 21001 }, { host: '127.0.0.1', port: 21002 }]

test('the viewer token is new each run, read-only, and its entry holds only the hash', () => {
  const a = createViewerToken()
  const b = createViewerToken()
  assert.is.not(a.token, b.token)
  assert.equal(a.entry, { name: 'demo-viewer', role: 'read-only', sha256: hashClientToken(a.token) })
  assert.match(a.token, /^[\w-]{32}$/)
})

test('the status command names every endpoint, the CA and the token; --insecure replaces the CA', () => {
  assert.equal(statusArgs({ endpoints, caFile: '/tmp/d/certs/ca.crt', token: 't0k' }),
    ['status', '--endpoint', '127.0.0.1:21001', '--endpoint', '127.0.0.1:21002', '--ca', '/tmp/d/certs/ca.crt', '--token', 't0k'])
  assert.equal(statusArgs({ endpoints, caFile: null, token: 't0k' }).slice(-3), ['--insecure', '--token', 't0k'])
})

test('the printed lines quote a path a shell would split, and put the token in the URL fragment', () => {
  const [command, url, note] = watchLines({ endpoints, caFile: "/tmp/it's here/ca.crt", token: 't0k' }, false)
  assert.ok(command!.endsWith(`--ca '/tmp/it'\\''s here/ca.crt' --token t0k`), command)
  assert.match(url!, /dashboard: {2}https:\/\/127\.0\.0\.1:21001\/dashboard#token=t0k \(/)
  assert.match(note!, /add --hold/)
  const [, plain, held] = watchLines({ endpoints, caFile: null, token: 't0k' }, true)
  assert.match(plain!, /http:\/\/127\.0\.0\.1:21001\/dashboard#token=t0k$/)
  assert.match(held!, /with --hold the cluster stays up/)
})

test('--hold is a flag for node processes: with --in-process it is a usage error', () => {
  const parsed = parseDemoArgs(['--hold'])
  assert.ok(parsed.kind === 'run' && parsed.args.hold, JSON.stringify(parsed))
  const plain = parseDemoArgs([])
  assert.ok(plain.kind === 'run' && !plain.args.hold)
  assert.throws(() => parseDemoArgs(['--hold', '--in-process']), (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID') && /--hold/.test((err as Error).message))
  assert.throws(() => parseDemoArgs(['--hold=yes']), (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID'))
})

test('ProcessCluster refuses a non-boolean dashboard and malformed tokens', () => {
  const invalid = (field: string) => (err: unknown): boolean => isQuorateError(err, 'OPTIONS_INVALID') && (err as Error).message.includes(field)
  assert.throws(() => { validateProcessClusterOptions({ dashboard: 'yes' as never }) }, invalid('dashboard'))
  assert.throws(() => { validateProcessClusterOptions({ tokens: [{ name: 'v', role: 'read-only', sha256: 'not-hex' }] }) }, invalid('tokens[0].sha256'))
  assert.throws(() => { validateProcessClusterOptions({ tokens: [{ name: 'v', role: 'admin' as never, sha256: hashClientToken('x') }] }) }, invalid('tokens[0].role'))
  validateProcessClusterOptions({ dashboard: true, tokens: [createViewerToken().entry] })
})

test('ProcessCluster writes dashboard and tokens into every node\'s config, beside the endpoint\'s own security', async () => {
  const { entry } = createViewerToken()
  const cluster = await ProcessCluster.create({ nodes: 2, insecure: true, dashboard: true, tokens: [entry] })
  try {
    for (const id of cluster.ids) {
      const config = JSON.parse(await readFile(join(cluster.dir, `${id}.json`), 'utf8')) as ClusterNodeConfig
      assert.is(config.dashboard, true)
      assert.equal(config.client, { insecure: true, tokens: [entry] })
    }
  } finally {
    await cluster.close()
  }
  const bare = await ProcessCluster.create({ nodes: 1, insecure: true })
  try {
    const config = JSON.parse(await readFile(join(bare.dir, 'n1.json'), 'utf8')) as ClusterNodeConfig
    assert.is(config.dashboard, undefined, 'off unless asked')
    assert.equal(config.client, { insecure: true })
  } finally {
    await bare.close()
  }
})

test.run()

/**
 * createDevCertificates without openssl on PATH: a clear OPTIONS_INVALID naming openssl and
 * the alternatives, not a bare "openssl req failed:" with an empty stderr. And `concurrency`:
 * more ids than workers still get one certificate each, naming each id; a bad value is refused.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { X509Certificate } from 'node:crypto'
import { createDevCertificates, nodeIdentityUri } from '../../src/transport/tls-certs.js'
import { isQuorateError } from '../../src/errors.js'

test('a missing openssl is reported as such, with what to do', async () => {
  const path = process.env.PATH
  process.env.PATH = '/nonexistent-quorate-path'
  let err: unknown
  try {
    err = await createDevCertificates({ nodeIds: ['n1'] }).then(() => null, (e: unknown) => e)
  } finally {
    process.env.PATH = path
  }
  assert.ok(isQuorateError(err, 'OPTIONS_INVALID'), String(err))
  assert.match((err as Error).message, /needs the openssl command, which is not on PATH/)
  assert.match((err as Error).message, /insecure: true/)
})

test('with fewer workers than ids every id still gets its own certificate; concurrency 0 is refused', async () => {
  const ids = ['n1', 'n2', 'n3', 'n4', 'n5']
  const certs = await createDevCertificates({ nodeIds: ids, concurrency: 2 })
  assert.equal(Object.keys(certs.nodes).sort(), ids)
  for (const id of ids) {
    assert.ok(new X509Certificate(certs.nodes[id]!.cert).subjectAltName?.includes(nodeIdentityUri(id)), id)
    assert.ok(new X509Certificate(certs.nodes[id]!.cert).verify(new X509Certificate(certs.ca).publicKey), `${id} signed by the CA`)
  }
  const err = await createDevCertificates({ nodeIds: ['n1'], concurrency: 0 }).then(() => null, (e: unknown) => e)
  assert.ok(isQuorateError(err, 'OPTIONS_INVALID') && /concurrency/.test(err.message), String(err))
})

test.run()

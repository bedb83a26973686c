/**
 * createDevCertificates without openssl on PATH: a clear OPTIONS_INVALID naming openssl and
 * the alternatives, not a bare "openssl req failed:" with an empty stderr.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createDevCertificates } from '../../src/transport/tls-certs.js'
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

test.run()

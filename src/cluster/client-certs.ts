/**
 * Development client certificates for the client endpoint: a key and a certificate signed by
 * the cluster CA (as createDevCertificates writes it: ca.crt, ca.key) carrying
 * `quorate://client/<name>?role=<role>` as its URI SAN (see auth.ts). Runs the system
 * `openssl`, like createDevCertificates; the equivalent commands are in docs/cluster.md.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { QuorateError } from '../errors.js'
import { CLIENT_ROLES, clientIdentityUri } from './auth.js'
import type { ClientRole } from './auth.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'

export interface ClientCertificateOptions {
  /** Directory to write `<file>.key` and `<file>.crt` into (created if needed). */
  readonly dir: string
  /** PEM file of the cluster CA certificate. */
  readonly caCertFile: string
  /** PEM file of the cluster CA key. */
  readonly caKeyFile: string
  /** The client's name (its certificate's CN and SAN). */
  readonly name: string
  readonly role: ClientRole
  /** Base name of the files. @default `client-<name>` */
  readonly file?: string
  /** Lifetime in days. @default 365 */
  readonly days?: number
  readonly signal?: AbortSignal
}

export interface ClientCertificateFiles {
  readonly keyFile: string
  readonly certFile: string
  readonly caFile: string
}

const KEYS = Object.keys({ dir: true, caCertFile: true, caKeyFile: true, name: true, role: true, file: true, days: true, signal: true } satisfies Record<keyof ClientCertificateOptions, true>)

async function openssl (args: readonly string[], signal: AbortSignal | undefined): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile('openssl', args, { signal }, (err, _stdout, stderr) => {
      if (err === null) resolve()
      else reject(new QuorateError(signal?.aborted === true ? 'ABORTED' : 'OPTIONS_INVALID', `openssl ${args[0]} failed: ${String(stderr).trim() || err.message}`, { cause: err }))
    })
  })
}

/** Issues a client certificate; resolves with the paths a client's `tls` option takes. */
export async function createClientCertificate (options: ClientCertificateOptions): Promise<ClientCertificateFiles> {
  const C = 'createClientCertificate'
  checkObject(options as unknown, C, '(options)')
  checkKnownKeys(options, C, KEYS)
  for (const f of ['dir', 'caCertFile', 'caKeyFile', 'name'] as const) check(typeof options[f] === 'string' && options[f].length > 0, C, f, 'a non-empty string', options[f])
  check(CLIENT_ROLES.includes(options.role), C, 'role', `one of ${CLIENT_ROLES.join(', ')}`, options.role)
  checkInt(options.days ?? 365, C, 'days', 1)
  const base = options.file ?? `client-${encodeURIComponent(options.name)}`
  await mkdir(options.dir, { recursive: true })
  const keyFile = join(options.dir, `${base}.key`)
  const certFile = join(options.dir, `${base}.crt`)
  const csr = join(options.dir, `${base}.csr`)
  const ext = join(options.dir, `${base}.ext`)
  try {
    await writeFile(ext, [
      `subjectAltName=URI:${clientIdentityUri(options.name, options.role)}`,
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=clientAuth'
    ].join('\n') + '\n')
    await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr,
      '-subj', `/CN=${encodeURIComponent(options.name)}`], options.signal)
    await openssl(['x509', '-req', '-in', csr, '-CA', options.caCertFile, '-CAkey', options.caKeyFile, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
      '-days', String(options.days ?? 365), '-out', certFile, '-extfile', ext], options.signal)
  } finally {
    await Promise.all([rm(csr, { force: true }), rm(ext, { force: true })])
  }
  await readFile(certFile) // fails loudly if openssl wrote nothing
  return { keyFile, certFile, caFile: options.caCertFile }
}

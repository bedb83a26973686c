/**
 * Development certificates for `tcpTransport`'s mutual TLS: a cluster CA and, per node, a
 * key and a certificate signed by it that carries the node's identity as the URI SAN
 * `quorate://node/<percent-encoded id>` (see `nodeIdentityUri`). Runs the system `openssl`;
 * the equivalent commands are in docs/transport-tcp.md. Not for production: keys are
 * unencrypted and the CA key is returned to the caller.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QuorateError } from '../errors.js'
import type { NodeId } from '../raft/types.js'

/** The SAN URI prefix tcpTransport reads a peer's node id from. */
export const NODE_IDENTITY_PREFIX = 'quorate://node/'

/** Default certificate lifetime in days. */
export const DEFAULT_CERT_DAYS = 365

/** Nodes whose key and certificate are made at once, by default. */
const DEFAULT_CERT_CONCURRENCY = 16

/** The URI SAN that names `id` in a node certificate. */
export function nodeIdentityUri (id: NodeId): string {
  return NODE_IDENTITY_PREFIX + encodeURIComponent(id)
}

export interface DevCertificateOptions {
  /** Nodes to issue a key and certificate for; non-empty, distinct, non-empty ids. */
  readonly nodeIds: readonly NodeId[]
  /**
   * Directory to write ca.key, ca.crt, <n>.key and <n>.crt into (created if needed; <n> is
   * the node's position in nodeIds). @default a temporary directory, removed afterwards
   */
  readonly dir?: string
  /** Certificate lifetime in days. @default DEFAULT_CERT_DAYS (365) */
  readonly days?: number
  /** Common name of the CA, to tell clusters apart. @default 'quorate-dev-ca' */
  readonly caName?: string
  /** Nodes issued at once (each runs two openssl processes): bounds the processes alive for thousands of ids. @default 16 */
  readonly concurrency?: number
  readonly signal?: AbortSignal
}

export interface NodeCertificate {
  /** PEM private key. */
  readonly key: string
  /** PEM certificate, signed by the cluster CA. */
  readonly cert: string
}

export interface DevCertificates {
  /** PEM certificate of the cluster CA: the `tls.ca` of every node. */
  readonly ca: string
  /** PEM private key of the cluster CA (to issue more node certificates). */
  readonly caKey: string
  readonly nodes: Readonly<Record<NodeId, NodeCertificate>>
}

function openssl (args: readonly string[], signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { signal }, (err, _stdout, stderr) => {
      if (err === null) { resolve(); return }
      if (signal?.aborted === true) {
        reject(new QuorateError('ABORTED', 'Certificate creation was aborted', { cause: signal.reason }))
        return
      }
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new QuorateError('OPTIONS_INVALID', 'createDevCertificates needs the openssl command, which is not on PATH: install it (e.g. apt-get install openssl) or use plain TCP (insecure: true) for development', { cause: err }))
        return
      }
      reject(new QuorateError('OPTIONS_INVALID', `openssl ${args[0]} failed: ${String(stderr).trim()}`, { cause: err }))
    })
  })
}

function validate (options: DevCertificateOptions): void {
  const ids = options.nodeIds
  const ok = Array.isArray(ids) && ids.length > 0 && ids.every((id) => typeof id === 'string' && id.length > 0) &&
    new Set(ids).size === ids.length
  if (!ok) throw new QuorateError('OPTIONS_INVALID', 'createDevCertificates: option "nodeIds" must be a non-empty array of distinct non-empty strings')
  const days = options.days ?? DEFAULT_CERT_DAYS
  if (!Number.isSafeInteger(days) || days < 1) throw new QuorateError('OPTIONS_INVALID', `createDevCertificates: option "days" must be a positive integer (got ${String(days)})`)
  const concurrency = options.concurrency ?? DEFAULT_CERT_CONCURRENCY
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new QuorateError('OPTIONS_INVALID', `createDevCertificates: option "concurrency" must be a positive integer (got ${String(concurrency)})`)
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/** Creates a cluster CA and a key + certificate per node with system `openssl`. */
export async function createDevCertificates (options: DevCertificateOptions): Promise<DevCertificates> {
  validate(options)
  const { signal } = options
  const days = String(options.days ?? DEFAULT_CERT_DAYS)
  const dir = options.dir ?? await mkdtemp(join(tmpdir(), 'quorate-certs-'))
  try {
    await mkdir(dir, { recursive: true })
    const caKey = join(dir, 'ca.key')
    const caCert = join(dir, 'ca.crt')
    await openssl(['req', '-x509', ...EC_KEY, '-keyout', caKey, '-out', caCert, '-days', days,
      '-subj', `/CN=${options.caName ?? 'quorate-dev-ca'}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], signal)
    const nodes: Record<NodeId, NodeCertificate> = {}
    const issue = async (id: NodeId, i: number): Promise<void> => {
      const key = join(dir, `${i}.key`)
      const csr = join(dir, `${i}.csr`)
      const cert = join(dir, `${i}.crt`)
      const ext = join(dir, `${i}.ext`)
      const uri = nodeIdentityUri(id)
      await writeFile(ext, [
        `subjectAltName=URI:${uri}`,
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth,clientAuth'
      ].join('\n') + '\n')
      await openssl(['req', '-new', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', `/CN=${encodeURIComponent(id)}`], signal)
      await openssl(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
        '-days', days, '-out', cert, '-extfile', ext], signal)
      nodes[id] = { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') }
    }
    // A fixed number of workers, each taking the next id: at most `concurrency` nodes in openssl at once.
    let next = 0
    const ids = options.nodeIds
    await Promise.all(Array.from({ length: Math.min(ids.length, options.concurrency ?? DEFAULT_CERT_CONCURRENCY) }, async () => {
      while (next < ids.length) { const i = next++; await issue(ids[i]!, i) }
    }))
    return { ca: await readFile(caCert, 'utf8'), caKey: await readFile(caKey, 'utf8'), nodes }
  } finally {
    if (options.dir === undefined) await rm(dir, { recursive: true, force: true })
  }
}

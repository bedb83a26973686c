/**
 * Certificates for the peers' TLS (etcd's peer and client URLs, hashicorp/raft's TLS stream
 * layer): a CA and, per name, an EC P-256 key and a certificate for 127.0.0.1 usable as both
 * server and client (mutual TLS), made with the system `openssl` the same way
 * createDevCertificates (src/transport/tls-certs.ts) makes quorate's — same curve, same
 * signature — except that these carry the IP SAN 127.0.0.1 that Go's TLS clients check,
 * where quorate's carry the node-identity URI its transport checks.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
const openssl = (args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })

/**
 * Writes ca.crt, ca.key and <name>.crt/<name>.key into `dir`.
 * @returns {{ ca: string, files: (name: string) => { cert: string, key: string } }}
 */
export function createLoopbackCertificates (dir, names) {
  mkdirSync(dir, { recursive: true })
  const ca = join(dir, 'ca.crt')
  const caKey = join(dir, 'ca.key')
  openssl(['req', '-x509', ...EC_KEY, '-keyout', caKey, '-out', ca, '-days', '30', '-subj', '/CN=quorate-bench-peers-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  const ext = join(dir, 'member.ext')
  writeFileSync(ext, [
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth,clientAuth'
  ].join('\n') + '\n')
  const files = (name) => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) })
  for (const [i, name] of names.entries()) {
    const { cert, key } = files(name)
    const csr = join(dir, `${name}.csr`)
    openssl(['req', '-new', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`])
    openssl(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-set_serial', String(1000 + i), '-days', '30', '-out', cert, '-extfile', ext])
  }
  return { ca, files }
}

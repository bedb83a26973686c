/**
 * Peer identity for `tcpTransport`: a certificate names its node in a URI SAN
 * `quorate://node/<id>` (tls-certs.ts); the TLS contexts of both sides require TLS 1.3 and
 * a certificate chaining to the cluster CA.
 */
import type * as tls from 'node:tls'
import type { NodeId } from '../raft/types.js'
import { NODE_IDENTITY_PREFIX } from './tls-certs.js'
import type { TcpTlsOptions } from './tcp-options.js'

/** The node id in a certificate's `quorate://node/<id>` URI SAN, or null if there is not exactly one. */
export function certificateIdentity (cert: { subjectaltname?: string } | null | undefined): NodeId | null {
  const san = cert?.subjectaltname
  if (typeof san !== 'string') return null
  let found: NodeId | null = null
  for (const entry of san.split(', ')) {
    if (!entry.startsWith('URI:')) continue
    let uri = entry.slice(4)
    try {
      if (uri.startsWith('"')) uri = JSON.parse(uri) as string
      if (!uri.startsWith(NODE_IDENTITY_PREFIX)) continue
      const id = decodeURIComponent(uri.slice(NODE_IDENTITY_PREFIX.length))
      if (found !== null && found !== id) return null
      found = id
    } catch (err) {
      // A badly quoted SAN (JSON.parse) or a bad percent-escape (decodeURIComponent) names no
      // node; anything else is a bug, not a peer to refuse quietly.
      if (!(err instanceof SyntaxError) && !(err instanceof URIError)) throw err
      return null
    }
  }
  return found === '' ? null : found
}

/** Server-side TLS options: mutual TLS, peers must present a certificate from the cluster CA. */
export function serverTlsOptions (material: TcpTlsOptions, handshakeTimeoutMs: number): tls.TlsOptions {
  return {
    key: material.key,
    cert: material.cert,
    ca: material.ca as tls.SecureContextOptions['ca'],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    // Node's default is 120 s; the transport's own deadline (connectTimeoutMs from accept)
    // normally fires first, this bounds the TLS phase even if that timer were missed.
    handshakeTimeout: handshakeTimeoutMs
  }
}

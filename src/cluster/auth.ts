/**
 * Who is calling the client endpoint, and what they may do. Two kinds of credential:
 *
 * - A client certificate signed by the cluster CA whose URI SAN is
 *   `quorate://client/<percent-encoded name>?role=<role>`. The role travels in the certificate
 *   the CA signed, so a node needs no table of clients: whoever holds the CA key decides. A
 *   node certificate (`quorate://node/<id>`) is for Raft traffic only and is refused here.
 * - A bearer token (`Authorization: Bearer <token>`) for tools that cannot hold a certificate.
 *   The node's config lists only SHA-256 hashes of tokens (`hashClientToken`); a presented
 *   token is hashed and compared with every configured hash in constant time, so neither the
 *   config file nor the timing of a refusal tells a token.
 *
 * Roles: `read-only` may read (linearizable reads, status, metrics, a kv `get`); `read-write`
 * may also propose. Invariant: `authenticate` never throws; every refusal is a code from
 * ERROR_CODES (CLUSTER_AUTH_REQUIRED, CLUSTER_AUTH_FAILED) with a message for the log.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import { check, checkKnownKeys } from '../util/validate.js'

export const CLIENT_ROLES = ['read-only', 'read-write'] as const
export type ClientRole = typeof CLIENT_ROLES[number]

/** The SAN URI prefix a client certificate names its holder with. */
export const CLIENT_IDENTITY_PREFIX = 'quorate://client/'

/** The URI SAN of a client certificate for `name` with `role`. */
export function clientIdentityUri (name: string, role: ClientRole): string {
  return `${CLIENT_IDENTITY_PREFIX}${encodeURIComponent(name)}?role=${role}`
}

/** A configured bearer token: only its hash is stored. */
export interface ClientToken {
  /** Who holds it (for logs and metrics). */
  readonly name: string
  readonly role: ClientRole
  /** SHA-256 of the token, lowercase hex (see hashClientToken). */
  readonly sha256: string
}

const TOKEN_KEYS = Object.keys({ name: true, role: true, sha256: true } satisfies Record<keyof ClientToken, true>)

/** The hex SHA-256 to put in a config's `tokens[].sha256` for `token`. */
export function hashClientToken (token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

export function validateClientTokens (tokens: unknown, component: string, field: string): void {
  check(Array.isArray(tokens), component, field, 'an array of { name, role, sha256 }', tokens)
  ;(tokens as unknown[]).forEach((t, i) => {
    const f = `${field}[${i}]`
    check(typeof t === 'object' && t !== null, component, f, 'an object { name, role, sha256 }', t)
    checkKnownKeys(t as object, `${component} ${f}`, TOKEN_KEYS)
    const { name, role, sha256 } = t as Record<string, unknown>
    check(typeof name === 'string' && name.length > 0, component, `${f}.name`, 'a non-empty string', name)
    check(CLIENT_ROLES.includes(role as ClientRole), component, `${f}.role`, `one of ${CLIENT_ROLES.join(', ')}`, role)
    check(typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256), component, `${f}.sha256`, '64 lowercase hex digits (hashClientToken(token))', sha256)
  })
}

/** An authenticated caller. */
export interface Principal {
  /** `cert:<name>`, `token:<name>`, or `insecure` on a plaintext endpoint. */
  readonly name: string
  readonly role: ClientRole
}

export type AuthResult =
  | { readonly ok: true, readonly principal: Principal }
  | { readonly ok: false, readonly code: 'CLUSTER_AUTH_REQUIRED' | 'CLUSTER_AUTH_FAILED', readonly message: string }

/** The principal in a certificate's `quorate://client/` URI SAN, or a reason it names none. */
export function certificatePrincipal (cert: { subjectaltname?: string } | null | undefined): Principal | string {
  const san = cert?.subjectaltname
  if (typeof san !== 'string') return 'the certificate has no subject alternative name'
  const found: Principal[] = []
  for (const raw of san.split(', ')) {
    if (!raw.startsWith('URI:')) continue
    let uri = raw.slice(4)
    try {
      if (uri.startsWith('"')) uri = JSON.parse(uri) as string
      if (!uri.startsWith(CLIENT_IDENTITY_PREFIX)) continue
      const url = new URL(uri)
      const name = decodeURIComponent(url.pathname.replace(/^\//, ''))
      const role = url.searchParams.get('role')
      if (name.length === 0 || !CLIENT_ROLES.includes(role as ClientRole)) return `the certificate's ${uri} names no client or no known role (${CLIENT_ROLES.join(', ')})`
      found.push({ name: `cert:${name}`, role: role as ClientRole })
    } catch {
      return `the certificate's URI SAN ${uri} is malformed`
    }
  }
  if (found.length !== 1) return found.length === 0 ? `the certificate carries no ${CLIENT_IDENTITY_PREFIX} URI SAN (node certificates are for Raft traffic only)` : 'the certificate names more than one client'
  return found[0]!
}

/** Checks a request's credentials; see the module comment. */
export class ClientAuthenticator {
  readonly #insecure: boolean
  readonly #tokens: ReadonlyArray<{ readonly principal: Principal, readonly hash: Buffer }>

  constructor (options: { insecure: boolean, tokens: readonly ClientToken[] }) {
    this.#insecure = options.insecure
    this.#tokens = options.tokens.map((t) => ({ principal: { name: `token:${t.name}`, role: t.role }, hash: Buffer.from(t.sha256, 'hex') }))
  }

  authenticate (socket: unknown, authorization: string | undefined): AuthResult {
    if (authorization !== undefined) return this.#token(authorization)
    if (this.#insecure) return { ok: true, principal: { name: 'insecure', role: 'read-write' } }
    const tls = socket as Partial<TLSSocket>
    if (typeof tls.getPeerCertificate !== 'function') return { ok: false, code: 'CLUSTER_AUTH_REQUIRED', message: 'no TLS session' }
    const cert = tls.getPeerCertificate()
    if (cert === null || Object.keys(cert).length === 0) {
      return { ok: false, code: 'CLUSTER_AUTH_REQUIRED', message: 'no client certificate and no bearer token' }
    }
    if (tls.authorized !== true) {
      return { ok: false, code: 'CLUSTER_AUTH_FAILED', message: `the client certificate is not trusted by the cluster CA (${String(tls.authorizationError)})` }
    }
    const principal = certificatePrincipal(cert)
    return typeof principal === 'string' ? { ok: false, code: 'CLUSTER_AUTH_FAILED', message: principal } : { ok: true, principal }
  }

  #token (authorization: string): AuthResult {
    const match = /^Bearer ([\x21-\x7e]+)$/.exec(authorization)
    if (match === null) return { ok: false, code: 'CLUSTER_AUTH_FAILED', message: 'the Authorization header is not "Bearer <token>"' }
    const presented = createHash('sha256').update(match[1]!, 'utf8').digest()
    // Compare with every hash, not stopping at a match, so timing says nothing about which.
    let found: Principal | null = null
    for (const t of this.#tokens) if (timingSafeEqual(presented, t.hash) && found === null) found = t.principal
    return found === null ? { ok: false, code: 'CLUSTER_AUTH_FAILED', message: 'unknown bearer token' } : { ok: true, principal: found }
  }
}

/** Whether `role` may send a request that writes (`writes`: a proposal other than a kv get). */
export function roleAllows (role: ClientRole, writes: boolean): boolean {
  return !writes || role === 'read-write'
}

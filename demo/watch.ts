/**
 * How a person watches the demo while it runs (docs/dashboard.md): a read-only bearer token
 * made for this run, the `quorate status` command that reaches every station node with it,
 * and the dashboard's URL with the token in the fragment.
 *
 * The nodes' configs hold only the token's SHA-256 (hashClientToken); the token itself is only
 * printed. It is read-only, lives as long as the run's endpoints, and is new each run, so a
 * token copied from an old run's output opens nothing. In the URL it sits in the fragment,
 * which a browser never sends, so it stays out of request lines and logs.
 */
import { randomBytes } from 'node:crypto'
import { hashClientToken } from '../src/cluster/auth.js'
import type { ClientToken } from '../src/cluster/auth.js'
import type { TcpAddress } from '../src/transport/tcp.js'

/** A token for this run and the entry the nodes' `client.tokens` accept it by. */
export function createViewerToken (): { readonly token: string, readonly entry: ClientToken } {
  const token = randomBytes(24).toString('base64url')
  return { token, entry: { name: 'demo-viewer', role: 'read-only', sha256: hashClientToken(token) } }
}

export interface WatchTarget {
  /** Every station node's client endpoint; the command tries them in order. */
  readonly endpoints: readonly TcpAddress[]
  /** The cluster CA (PEM file), or null for the plain-TCP demo (--insecure). */
  readonly caFile: string | null
  readonly token: string
}

/** Words a POSIX shell reads back unchanged: anything else is single-quoted. */
function shellWord (word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`
}

/** The arguments after `quorate` for `status` (add `--json` for the machine-readable form). */
export function statusArgs (target: WatchTarget): string[] {
  return [
    'status',
    ...target.endpoints.flatMap((a) => ['--endpoint', `${a.host}:${a.port}`]),
    ...(target.caFile === null ? ['--insecure'] : ['--ca', target.caFile]),
    '--token', target.token
  ]
}

/** The lines the demo prints: the command to paste and the dashboard URL, with what to expect of each. */
export function watchLines (target: WatchTarget, hold: boolean): string[] {
  const first = target.endpoints[0]!
  const scheme = target.caFile === null ? 'http' : 'https'
  const url = `${scheme}://${first.host}:${first.port}/dashboard#token=${target.token}`
  const trust = target.caFile === null
    ? ''
    : ` (its certificate is from this run's CA, ${target.caFile}, and names the node, not ${first.host}: the browser asks you to accept it)`
  return [
    `  watch it:   npx quorate ${statusArgs(target).map(shellWord).join(' ')}`,
    `  dashboard:  ${url}${trust}`,
    `  (a read-only token made for this run; ${hold ? 'with --hold the cluster stays up after the summary, until Ctrl-C' : 'the cluster stops after the summary: add --hold to keep it up'})`
  ]
}

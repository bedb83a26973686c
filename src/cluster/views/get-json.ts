/**
 * One `GET` of a JSON route on a node's client endpoint (HTTPS checking that the endpoint
 * presents a quorate node certificate from the CA, or plain HTTP when insecure), for the
 * read-only views: a node probing its peers' `/health`, the `quorate` command.
 *
 * Never pending forever: `timeoutMs` bounds the whole exchange. Resolves with the HTTP
 * status and the parsed body (any status); rejects only when the node could not be asked
 * or answered something that is not JSON.
 */
import * as http from 'node:http'
import * as https from 'node:https'
import type { NodeId } from '../../raft/types.js'
import type { TcpAddress } from '../../transport/tcp.js'
import { nodeTlsOptions } from '../stream-connection.js'
import type { ClientCredentials } from '../stream-connection.js'

export interface JsonAnswer { readonly status: number, readonly body: unknown }

/** `id`: the node the certificate must name (null: any node of the CA). */
export async function getJson (address: TcpAddress, path: string, credentials: ClientCredentials, timeoutMs: number, id: NodeId | null = null): Promise<JsonAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (credentials.token !== undefined) headers.authorization = `Bearer ${credentials.token}`
  const secure = credentials.insecure !== true
  const options = { host: address.host, port: address.port, path, method: 'GET', headers, signal: AbortSignal.timeout(timeoutMs), agent: false as const }
  return await new Promise<JsonAnswer>((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage): void => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => { parts.push(d) })
      res.on('error', reject)
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) })
        } catch (err) {
          reject(new Error(`${address.host}:${address.port}${path} answered HTTP ${String(res.statusCode)} without JSON`, { cause: err }))
        }
      })
    }
    const req = secure ? https.request({ ...options, ...nodeTlsOptions(credentials, id) }, onResponse) : http.request(options, onResponse)
    req.on('error', reject)
    req.end()
  })
}

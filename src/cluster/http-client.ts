/**
 * The JSON protocol's client side: one request to one node's endpoint over HTTPS (a client
 * certificate or a bearer token) or, for an `insecure: true` endpoint, plain HTTP. What the
 * retrying ClusterClient calls; QuorateClient uses the faster binary protocol instead.
 */
import * as http from 'node:http'
import * as https from 'node:https'
import type { NodeId } from '../raft/types.js'
import type { TcpAddress } from '../transport/tcp.js'
import type { ClientRequest, ClientResponse } from './protocol.js'
import { nodeTlsOptions } from './stream-connection.js'
import type { ClientCredentials } from './stream-connection.js'

const plainAgent = new http.Agent({ keepAlive: true, maxSockets: 64 })

/** Sends one JSON request; resolves with the node's response (failures included), rejects if the node cannot be reached, answers garbage, or `signal` fires. */
async function jsonCall (address: TcpAddress, request: ClientRequest, signal: AbortSignal | undefined, agent: http.Agent, secure: boolean, token: string | undefined): Promise<ClientResponse> {
  const body = JSON.stringify(request)
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  return await new Promise<ClientResponse>((resolve, reject) => {
    const req = (secure ? https : http).request({ host: address.host, port: address.port, method: 'POST', path: '/', agent, signal, headers }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => { parts.push(d) })
      res.on('error', reject)
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(parts).toString('utf8')) as ClientResponse)
        } catch (err) {
          reject(err)
        }
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** One request to an `insecure: true` endpoint over plain HTTP. */
export async function httpClientCall (address: TcpAddress, request: ClientRequest, signal?: AbortSignal): Promise<ClientResponse> {
  return await jsonCall(address, request, signal, plainAgent, false, undefined)
}

/** A function sending JSON requests with `credentials`, checking that the node at `address` presents node `id`'s certificate. */
export function httpsClientCaller (credentials: ClientCredentials): (id: NodeId, address: TcpAddress, request: ClientRequest, signal?: AbortSignal) => Promise<ClientResponse> {
  if (credentials.insecure === true) return async (_id, address, request, signal) => await jsonCall(address, request, signal, plainAgent, false, credentials.token)
  const agents = new Map<NodeId, https.Agent>()
  return async (id, address, request, signal) => {
    let agent = agents.get(id)
    if (agent === undefined) {
      agent = new https.Agent({ keepAlive: true, maxSockets: 64, ...nodeTlsOptions(credentials, id) })
      agents.set(id, agent)
    }
    return await jsonCall(address, request, signal, agent, true, credentials.token)
  }
}

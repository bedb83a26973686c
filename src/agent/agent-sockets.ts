/**
 * The sockets the agent's two network channels (commands: endpoint.ts / agent-client.ts;
 * heartbeats: heartbeat-monitor.ts) open, in one place so both check identities alike:
 * mutual TLS 1.3 where each side's certificate chains to the cluster CA and names its node in
 * the URI SAN quorate://node/<id> (tcpTransport's helpers), or plain TCP when the caller chose
 * `insecure: true` explicitly.
 */
import * as net from 'node:net'
import * as tls from 'node:tls'
import { check, checkBool, checkKnownKeys, checkObject } from '../util/validate.js'
import { certificateIdentity, serverTlsOptions } from '../transport/tcp-identity.js'
import type { TcpTlsOptions } from '../transport/tcp-options.js'

/** Validates the TLS-or-insecure choice: exactly one of them. */
export function checkTlsChoice (component: string, t: TcpTlsOptions | undefined, insecure: boolean | undefined): void {
  if (insecure !== undefined) checkBool(insecure, component, 'insecure')
  if (t === undefined) {
    check(insecure === true, component, 'tls', 'set (mutual TLS) unless insecure: true is given explicitly', t)
    return
  }
  checkObject(t, component, 'tls')
  checkKnownKeys(t, `${component}.tls`, ['key', 'cert', 'ca'])
  check(t.key !== undefined && t.cert !== undefined && t.ca !== undefined, component, 'tls', 'an object { key, cert, ca }', Object.keys(t))
  check(insecure !== true, component, 'insecure', 'false or absent when tls is set', insecure)
}

/**
 * Connects to `node` at `address`; with TLS the server's certificate must name `node`.
 * `connected` fires once the socket is usable (after the TLS handshake).
 */
export function dialNode (address: { host: string, port: number }, node: string, t: TcpTlsOptions | undefined, connected: () => void): net.Socket {
  const socket = t === undefined
    ? net.connect({ host: address.host, port: address.port })
    : tls.connect({
      host: address.host,
      port: address.port,
      key: t.key,
      cert: t.cert,
      ca: t.ca as tls.SecureContextOptions['ca'],
      minVersion: 'TLSv1.3',
      checkServerIdentity: (_host, cert) => certificateIdentity(cert) === node ? undefined : new Error(`the certificate does not name node ${node}`)
    })
  socket.once(t === undefined ? 'connect' : 'secureConnect', connected)
  return socket
}

/** A listening server (TLS unless `t` is undefined); a failed client handshake is that client's problem. */
export async function listenServer (listen: { host?: string, port: number }, t: TcpTlsOptions | undefined, handshakeTimeoutMs: number, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
  const server = t === undefined ? net.createServer(onConnection) : tls.createServer(serverTlsOptions(t, handshakeTimeoutMs), onConnection)
  server.on('tlsClientError', () => {})
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(listen.port, listen.host ?? '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  server.on('error', () => {})
  return server
}

/** The node a TLS peer's certificate names (undefined on plain TCP, null if it names none). */
export function peerIdentity (socket: net.Socket, secure: boolean): string | null | undefined {
  return secure ? certificateIdentity((socket as tls.TLSSocket).getPeerCertificate()) : undefined
}

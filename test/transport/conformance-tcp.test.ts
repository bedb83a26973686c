import { test } from 'uvu'
import type { NodeId } from '../../src/raft/types.js'
import { transportConformance, type TransportCluster } from '../../src/testing/transport-conformance.js'
import { tcpTransport, type TcpTransport } from '../../src/transport/tcp.js'
import { createDevCertificates, type DevCertificates } from '../../src/transport/tls-certs.js'
import type { Transport } from '../../src/transport/transport.js'
import { LOCAL } from './tcp-helpers.js'

let certs: DevCertificates | null = null

/**
 * Wraps a transport so that, once it listens on its ephemeral port, every other transport
 * of the cluster learns the address (the suite opens transports itself, in any order).
 */
function announcing (t: TcpTransport, cluster: ReadonlyMap<NodeId, TcpTransport>): Transport {
  return {
    get id () { return t.id },
    get status () { return t.status },
    async open (handler, options) {
      await t.open(handler, options)
      const address = t.address()
      if (address !== null) for (const other of cluster.values()) if (other !== t) other.addPeer(t.id, address)
    },
    send: (messages) => { t.send(messages) },
    close: async () => { await t.close() },
    stats: () => t.stats()
  }
}

function createCluster (secure: boolean) {
  return async (ids: readonly NodeId[]): Promise<TransportCluster> => {
    if (secure) certs ??= await createDevCertificates({ nodeIds: ['a', 'b', 'c'] })
    const inner = new Map<NodeId, TcpTransport>()
    for (const id of ids) {
      const node = certs?.nodes[id]
      inner.set(id, tcpTransport({
        id,
        clusterId: 'conformance',
        listen: { host: LOCAL, port: 0 },
        ...(secure && certs !== null && node !== undefined ? { tls: { key: node.key, cert: node.cert, ca: certs.ca } } : { insecure: true })
      }))
    }
    return {
      transports: new Map([...inner].map(([id, t]) => [id, announcing(t, inner)])),
      close: async () => { await Promise.all([...inner.values()].map(async (t) => await t.close())) }
    }
  }
}

transportConformance(test, { name: 'tcpTransport (mutual TLS)', fifo: true, createCluster: createCluster(true) })
transportConformance(test, { name: 'tcpTransport (insecure)', fifo: true, createCluster: createCluster(false) })

test.run()

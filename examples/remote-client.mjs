// Three node processes on three addresses (loopback aliases standing in for three machines),
// and a remote application that holds only the cluster CA, its own client certificate and
// the nodes' client addresses.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ProcessCluster, QuorateClient, createClientCertificate } from 'quorate/cluster'

const cluster = await ProcessCluster.create({ nodes: 3, hosts: ['127.0.0.1', '127.0.0.2', '127.0.0.3'] })
try {
  await cluster.startAll()
  // The operator issues the application a read-write certificate from the cluster CA.
  const certs = join(cluster.dir, 'certs')
  const app = await createClientCertificate({
    dir: certs, caCertFile: join(certs, 'ca.crt'), caKeyFile: join(certs, 'ca.key'), name: 'billing', role: 'read-write'
  })
  const client = new QuorateClient({
    nodes: Object.fromEntries(cluster.ids.map((id) => [id, cluster.clientAddress(id)])),
    credentials: { ca: readFileSync(app.caFile), cert: readFileSync(app.certFile), key: readFileSync(app.keyFile) }
  })
  await client.kv.put('invoice:1', 'open')
  // Applied exactly once, even if the leader dies and the client retries on the next one.
  console.log('appended:', await client.kv.append('invoice:1', '+paid'))
  console.log('read:', await client.kv.read(['invoice:1']))
  console.log('leader:', client.leader)
  await client.close()
} finally {
  await cluster.close()
}

/**
 * The load generator of bench/client-path.ts, in its own process: closed-loop clients over
 * one QuorateClient (its default path: TLS with a client certificate, the pipelined binary
 * protocol, exactly-once sessions), each putting 100-byte values to its own key. Reports
 * `{ window }` and finally `{ result }` over IPC, like tcp-client.ts.
 */
import { readFileSync } from 'node:fs'
import { QuorateClient } from '../src/cluster/quorate-client.js'
import type { TcpAddress } from '../src/transport/tcp.js'
import { closedLoop } from './closed-loop.js'

interface LoadConfig {
  readonly nodes: Record<string, TcpAddress>
  /** Plaintext (an insecure cluster, to price TLS); otherwise the PEM files below. */
  readonly insecure?: boolean
  readonly caFile?: string
  readonly certFile?: string
  readonly keyFile?: string
  readonly concurrency: number
  readonly warmupMs: number
  readonly measureMs: number
}
const config = JSON.parse(process.argv[2] ?? '{}') as LoadConfig

const client = new QuorateClient({
  nodes: config.nodes,
  credentials: config.insecure === true ? { insecure: true } : { ca: readFileSync(config.caFile!), cert: readFileSync(config.certFile!), key: readFileSync(config.keyFile!) }
})
// Registers the session and finds the leader before the clock starts.
await client.kv.put('warm-up', 'x')
const keys = Array.from({ length: config.concurrency }, (_, i) => `bench-${i}`)
const result = await closedLoop(async (cmd) => {
  // The first 4 bytes of a command name its closed-loop client; the bytes are the value.
  const slot = ((cmd[0]! << 24) | (cmd[1]! << 16) | (cmd[2]! << 8) | cmd[3]!) >>> 0
  await client.kv.put(keys[slot % keys.length]!, Buffer.from(cmd.buffer, cmd.byteOffset, cmd.byteLength).toString('latin1'))
}, {
  concurrency: config.concurrency,
  warmupMs: config.warmupMs,
  measureMs: config.measureMs,
  onWindow: (phase) => process.send?.({ window: phase })
})
await client.close()
process.send?.({ result }, () => process.exit(0))

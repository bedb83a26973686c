/**
 * One node's HeartbeatMonitor as its own OS process (for the heartbeat test, bench/agent.ts
 * and the soak): `node heartbeat-main.js <self> <port> <peers-json>` where peers-json maps
 * node ids to ports on 127.0.0.1. Prints {"ready":true} and then one JSON line per event.
 */
import { HeartbeatMonitor } from '../../src/agent/index.js'

const [self, port, peersJson] = process.argv.slice(2) as [string, string, string]
const peers = Object.fromEntries(Object.entries(JSON.parse(peersJson) as Record<string, number>).map(([id, p]) => [id, { host: '127.0.0.1', port: p }]))
const monitor = new HeartbeatMonitor({
  self,
  peers,
  listen: { port: Number(port) },
  insecure: true,
  onEvent: (event) => { process.stdout.write(JSON.stringify({ event, mono: performance.timeOrigin + performance.now() }) + '\n') }
})
await monitor.open()
process.stdout.write(JSON.stringify({ ready: true }) + '\n')
process.on('SIGTERM', () => { void monitor.close().then(() => process.exit(0)) })

/**
 * The general client's own CPU per request, apart from any cluster: QuorateClient (plaintext,
 * sessions, `kv.put` of 100-byte values) against a fake node in a child process that answers
 * every frame at once (bench/client-cpu-node.ts). CPU is this process's `process.cpuUsage()`,
 * so the figure holds on a loaded machine where throughput figures do not. Writes
 * bench/results/client-cpu.json (or --out NAME).
 *
 *   npm run build && node dist/bench/client-cpu.js [--concurrency 1,16,256] [--requests 100000] [--out NAME]
 */
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { QuorateClient } from '../src/cluster/quorate-client.js'
import { checkFlags } from './cli.js'
import { writeResult } from './measure.js'
import { forkScript, nextMessage } from './proc.js'

const argv = process.argv.slice(2)
checkFlags('client-cpu', argv, ['--concurrency', '--requests', '--out'])
const flag = (name: string): string | undefined => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined }
const CONCURRENCY = (flag('--concurrency') ?? '1,16,256').split(',').map(Number)
const REQUESTS = Number(flag('--requests') ?? 100_000)
if (!CONCURRENCY.every((c) => Number.isInteger(c) && c > 0) || !Number.isInteger(REQUESTS) || REQUESTS < 1) {
  process.stderr.write('client-cpu: --concurrency takes positive integers (1,16,256), --requests a positive integer\n')
  process.exit(2)
}

const node = forkScript(fileURLToPath(new URL('./client-cpu-node.js', import.meta.url)), {})
const port = await nextMessage<number>(node, 'port')
const client = new QuorateClient({ nodes: { n1: { host: '127.0.0.1', port } }, credentials: { insecure: true } })
const value = 'v'.repeat(100)

async function run (concurrency: number, total: number): Promise<void> {
  let left = total
  await Promise.all(Array.from({ length: concurrency }, async (_, i) => {
    const key = `bench-${i}`
    while (left-- > 0) await client.kv.put(key, value)
  }))
}

const load = { start: loadavg()[0] }
const rows = []
for (const concurrency of CONCURRENCY) {
  await run(concurrency, Math.min(20_000, REQUESTS))
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await run(concurrency, REQUESTS)
  const cpu = process.cpuUsage(cpu0)
  const ms = performance.now() - t0
  const row = {
    concurrency,
    requests: REQUESTS,
    requestsPerSec: Math.round(REQUESTS / ms * 1000),
    cpuUsPerRequest: Math.round((cpu.user + cpu.system) / REQUESTS * 10) / 10,
    userCpuUsPerRequest: Math.round(cpu.user / REQUESTS * 10) / 10
  }
  rows.push(row)
  console.log(`client-cpu c=${String(concurrency).padStart(3)}: ${row.cpuUsPerRequest} µs CPU per request (user ${row.userCpuUsPerRequest}), ${row.requestsPerSec} req/s against an instant node`)
}
await client.close()
node.disconnect()
const file = writeResult(flag('--out') ?? 'client-cpu', {
  name: 'QuorateClient CPU per kv.put against a fake node that answers at once (plaintext, sessions)',
  date: new Date().toISOString(),
  node: process.version,
  command: `node dist/bench/client-cpu.js ${argv.join(' ')}`.trim(),
  loadAverage1m: { ...load, end: loadavg()[0] },
  rows
})
console.log(`wrote ${file}`)

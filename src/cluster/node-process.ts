/**
 * A cluster node as its own OS process:
 *
 *   node dist/src/cluster/node-process.js --config n1.json [--exit-with-stdin]
 *
 * Once the node is open and its client endpoint listens, it prints one line
 *   QUORATE_NODE_READY {"id":"n1","pid":1234,"raft":{...},"client":{...}}
 * on stdout (the launcher waits for it). SIGTERM or SIGINT closes the node cleanly and exits
 * 0 (a second signal exits at once); a fatal node error (NODE_FAILED) exits 1. With
 * `--exit-with-stdin` the process also shuts down when its stdin ends — a launcher passes its
 * own pipe, so a launcher that dies, even by SIGKILL, takes its nodes with it.
 */
import { pathToFileURL } from 'node:url'
import { QuorateError } from '../errors.js'
import { startClusterNode } from './cluster-node.js'
import { loadClusterNodeConfig } from './config.js'

/** The prefix of the line a node process prints once it is ready. */
export const READY_PREFIX = 'QUORATE_NODE_READY '

export const NODE_PROCESS_USAGE = `Usage: node dist/src/cluster/node-process.js --config <file.json> [--exit-with-stdin]
Runs one quorate key-value cluster node (see docs/cluster.md for the config and the client protocol).`

export interface NodeProcessArgs {
  readonly configPath: string
  readonly exitWithStdin: boolean
}

/** Parses the command line; throws OPTIONS_INVALID with the usage text. */
export function parseNodeProcessArgs (argv: readonly string[]): NodeProcessArgs {
  let configPath: string | undefined
  let exitWithStdin = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--config') configPath = argv[++i]
    else if (arg === '--exit-with-stdin') exitWithStdin = true
    else throw new QuorateError('OPTIONS_INVALID', `unknown argument ${JSON.stringify(arg)}\n${NODE_PROCESS_USAGE}`)
  }
  if (configPath === undefined || configPath.length === 0) throw new QuorateError('OPTIONS_INVALID', `--config is required\n${NODE_PROCESS_USAGE}`)
  return { configPath, exitWithStdin }
}

async function main (argv: readonly string[]): Promise<void> {
  const args = parseNodeProcessArgs(argv)
  const config = await loadClusterNodeConfig(args.configPath)
  const running = await startClusterNode(config)
  let stopping = false
  const stop = (code: number): void => {
    if (stopping) process.exit(code)
    stopping = true
    running.close().then(() => { process.exit(code) }, (err: unknown) => {
      process.stderr.write(`node ${config.id}: close failed: ${String(err)}\n`)
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => { stop(0) })
  process.on('SIGINT', () => { stop(0) })
  running.node.on('failed', (err) => {
    process.stderr.write(`node ${config.id}: ${err.message}\n`)
    stop(1)
  })
  if (args.exitWithStdin) {
    process.stdin.on('end', () => { stop(0) })
    process.stdin.on('error', () => { stop(0) })
    process.stdin.resume()
  }
  logRejections(config.id, () => running.service.report(false).transport ?? {})
  const ready = { id: config.id, pid: process.pid, raft: running.raftAddress, client: running.clientAddress }
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(ready)}\n`)
}

/** How often a node process checks its transport's rejection counters for its log. */
const REJECTION_LOG_INTERVAL_MS = 10_000

/**
 * Writes one stderr line whenever the transport's rejection counters (`rejected*`) changed
 * since the last check, so an operator sees handshake floods and bad certificates in the log;
 * the same counters are in every status report.
 */
function logRejections (id: string, stats: () => Readonly<Record<string, number>>): void {
  let last = ''
  const timer = setInterval(() => {
    const rejections = Object.fromEntries(Object.entries(stats()).filter(([k]) => k.startsWith('rejected')))
    const line = JSON.stringify(rejections)
    if (line !== last && Object.values(rejections).some((n) => n > 0)) process.stderr.write(`node ${id}: transport rejections ${line}\n`)
    last = line
  }, REJECTION_LOG_INTERVAL_MS)
  timer.unref()
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const code = err instanceof QuorateError ? `${err.code}: ` : ''
    process.stderr.write(`${code}${String((err as Error)?.message ?? err)}\n`)
    process.exit(1)
  })
}

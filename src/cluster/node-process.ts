#!/usr/bin/env node
/**
 * A cluster node as its own OS process (the package's `quorate-node` bin):
 *
 *   quorate-node --config n1.json [--exit-with-stdin]
 *
 * Once the node is open and its client endpoint listens, it prints one line
 *   QUORATE_NODE_READY {"id":"n1","pid":1234,"raft":{...},"client":{...}}
 * on stdout (the launcher waits for it). SIGTERM or SIGINT closes the node cleanly and exits
 * 0 (a second signal exits at once); a fatal node error (NODE_FAILED) exits 1. With
 * `--exit-with-stdin` the process also shuts down when its stdin ends — a launcher passes its
 * own pipe, so a launcher that dies, even by SIGKILL, takes its nodes with it. A usage error
 * (an unknown option, a missing --config) exits 2 with the usage text.
 */
import { readTls, startClusterNode } from './cluster-node.js'
import { startStation } from './station.js'
import { jsonLogger, LEVEL_NAMES } from '../util/logger.js'
import type { LogLevel } from '../util/logger.js'
import { loadClusterNodeConfig } from './config.js'
import type { CliParsed, CliSpec, CliValues } from '../util/cli.js'
import { flagOption, isMainModule, parseCommandLine, runCommandLine, stopOnSignals, stringOption, usageError } from '../util/cli.js'

/** The prefix of the line a node process prints once it is ready. */
export const READY_PREFIX = 'QUORATE_NODE_READY '

export const NODE_PROCESS_CLI: CliSpec = {
  name: 'quorate-node',
  usage: `Usage: quorate-node --config <file.json> [--exit-with-stdin]
Runs one quorate key-value cluster node (see docs/cluster.md for the config and the client protocol).

  --config <file>      the node's JSON config (required)
  --exit-with-stdin    also shut down when stdin ends (the launcher passes its own pipe)
  --help, -h           print this text
  --version            print the version`,
  options: { config: { type: 'string' }, 'exit-with-stdin': { type: 'boolean' } }
}

export interface NodeProcessArgs {
  readonly configPath: string
  readonly exitWithStdin: boolean
}

function interpretNodeProcessArgs (values: CliValues): NodeProcessArgs {
  const configPath = stringOption(values, 'config')
  if (configPath === undefined || configPath.length === 0) throw usageError(NODE_PROCESS_CLI, '--config is required')
  return { configPath, exitWithStdin: flagOption(values, 'exit-with-stdin') }
}

/** Parses the command line; throws OPTIONS_INVALID with the usage text. */
export function parseNodeProcessArgs (argv: readonly string[]): CliParsed<NodeProcessArgs> {
  return parseCommandLine(NODE_PROCESS_CLI, argv, interpretNodeProcessArgs)
}

/** Starts the node; resolves once it is ready (the process then runs until a signal). */
async function serve (args: NodeProcessArgs): Promise<undefined> {
  const config = await loadClusterNodeConfig(args.configPath)
  // One JSON line per refused client request (rate-limited per code by the endpoint).
  // The node's own transitions as JSON lines on stderr (pino's layout), beside the endpoint's
// refusals; QUORATE_LOG_LEVEL picks the level (default info: elections, leadership, snapshots).
const logger = jsonLogger({ level: logLevel(process.env.QUORATE_LOG_LEVEL), bindings: { node: config.id } })
const running = await startClusterNode(config, { logger, log: (record) => { process.stderr.write(`${JSON.stringify({ node: config.id, ...record })}\n`) } })
  const station = config.coordinator === undefined
    ? null
    : await startStation({ id: config.id, config: config.coordinator, parts: running, tls: config.tls === undefined ? undefined : await readTls(config.tls), logger })
  let stopping = false
  const stop = (code: number): void => {
    if (stopping) process.exit(code)
    stopping = true
    Promise.resolve(station?.close()).then(async () => { await running.close() }).then(() => { process.exit(code) }, (err: unknown) => {
      process.stderr.write(`node ${config.id}: close failed: ${String(err)}\n`)
      process.exit(1)
    })
  }
  stopOnSignals(stop, args.exitWithStdin)
  running.node.on('failed', (err) => {
    process.stderr.write(`node ${config.id}: ${err.message}\n`)
    stop(1)
  })
  logRejections(config.id, () => running.service.report(false).transport ?? {})
  const ready = { id: config.id, pid: process.pid, raft: running.raftAddress, client: running.clientAddress }
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(ready)}\n`)
  return undefined
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

if (isMainModule(import.meta.url)) await runCommandLine(NODE_PROCESS_CLI, process.argv.slice(2), interpretNodeProcessArgs, serve)

/** QUORATE_LOG_LEVEL as a level name; an unknown one is a usage error, not silently ignored. */
function logLevel (value: string | undefined): LogLevel {
  if (value === undefined || value === '') return 'info'
  if ((LEVEL_NAMES as readonly string[]).includes(value)) return value as LogLevel
  process.stderr.write(`quorate-node: QUORATE_LOG_LEVEL must be one of ${LEVEL_NAMES.join(', ')} (got ${JSON.stringify(value)})\n`)
  process.exit(2)
}

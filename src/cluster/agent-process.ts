#!/usr/bin/env node
/**
 * A worker node's agent as its own OS process (the package's `quorate-agent` bin):
 *
 *   quorate-agent --config w1.json [--exit-with-stdin] [--stop-services-on-exit]
 *
 * It runs a NodeAgent behind an AgentEndpoint (mutual TLS with this node's certificate from
 * the cluster CA, unless the config says `insecure`), heartbeats with the station and the
 * other agents (HeartbeatMonitor), and reports every event into the tracking station's events
 * queue through a QuorateClient (exactly once: retried under one id until committed). Once it
 * listens it announces itself with a `node-alive` event about its own node.
 *
 * Lives in src/cluster, not src/agent: it needs the cluster client (QuorateClient), and the
 * agent layer may not import the cluster layer.
 *
 * stdout, one line each (the demo reads them; everything else goes to stderr):
 *   QUORATE_AGENT_READY {"node","pid","agent":{host,port},"heartbeat":{host,port}|null}
 *   QUORATE_AGENT_COMMAND {"id","kind","instance","token"}    a command as it arrives
 *   QUORATE_AGENT_EVENT {"id","status",...the HaEvent}         an event, once the queue committed it
 *
 * SIGTERM / SIGINT close the agent and leave its services running for the next agent to adopt
 * (with --stop-services-on-exit: stop them first). A usage error exits 2, a failed start 1.
 */
import { readFile } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { QuorateError, isQuorateError } from '../errors.js'
import { AgentEndpoint } from '../agent/endpoint.js'
import { HeartbeatMonitor } from '../agent/heartbeat-monitor.js'
import { NodeAgent } from '../agent/node-agent.js'
import { encodeHaEvent, decodeHaEvent } from '../agent/protocol.js'
import type { AgentCommand } from '../agent/protocol.js'
import type { HaEventSink } from '../agent/event-reporter.js'
import { coordinatorSchema } from '../coordinator/schema.js'
import type { TcpTlsOptions } from '../transport/tcp-options.js'
import type { CliSpec, CliValues } from '../util/cli.js'
import { flagOption, isMainModule, runCommandLine, stopOnSignals, stringOption, usageError } from '../util/cli.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import type { ClusterTlsFiles } from './config.js'
import { QuorateClient } from './quorate-client.js'
import type { ClientCredentials } from './stream-connection.js'

export const AGENT_READY_PREFIX = 'QUORATE_AGENT_READY '
export const AGENT_COMMAND_PREFIX = 'QUORATE_AGENT_COMMAND '
export const AGENT_EVENT_PREFIX = 'QUORATE_AGENT_EVENT '

type Address = { readonly host: string, readonly port: number }

export interface AgentProcessConfig {
  /** This node's id (its certificate must name it). */
  readonly node: string
  /** The agent's data directory (fence file, instance records, logs). */
  readonly dir: string
  /** Where the coordinator's commands arrive; port 0 picks one (printed in the ready line). */
  readonly listen: Address
  /** This node's certificate and key, and the cluster CA. Exactly one of `tls` and `insecure: true`. */
  readonly tls?: ClusterTlsFiles
  readonly insecure?: boolean
  /** The tracking station's client endpoints and the client certificate to write events with. */
  readonly station: { readonly nodes: Readonly<Record<string, Address>>, readonly client?: ClusterTlsFiles }
  /** Heartbeats: this agent's port and its peers' (the station nodes and the other agents). @default none */
  readonly heartbeat?: { readonly port: number, readonly peers: Readonly<Record<string, Address>> }
  /** SIGTERM → SIGKILL grace for services whose spec gives none, ms. @default NodeAgent's (10000) */
  readonly stopGraceMs?: number
}

const C = 'AgentProcessConfig'

function checkAddress (a: unknown, field: string, minPort: number): void {
  checkObject(a, C, field)
  checkKnownKeys(a, `${C} ${field}`, ['host', 'port'])
  check(typeof a.host === 'string' && a.host.length > 0, C, `${field}.host`, 'a non-empty string', a.host)
  checkInt(a.port as number, C, `${field}.port`, minPort, 65535)
}

function checkFiles (t: unknown, field: string): void {
  checkObject(t, C, field)
  checkKnownKeys(t, `${C} ${field}`, ['keyFile', 'certFile', 'caFile'])
  for (const f of ['keyFile', 'certFile', 'caFile']) check(typeof t[f] === 'string' && (t[f] as string).length > 0, C, `${field}.${f}`, 'a file path', t[f])
}

/** Throws OPTIONS_INVALID naming the first bad field. */
export function validateAgentProcessConfig (config: AgentProcessConfig): void {
  checkObject(config as unknown, C, '(config)')
  checkKnownKeys(config, C, ['node', 'dir', 'listen', 'tls', 'insecure', 'station', 'heartbeat', 'stopGraceMs'])
  check(typeof config.node === 'string' && config.node.length > 0, C, 'node', 'a non-empty string', config.node)
  check(typeof config.dir === 'string' && config.dir.length > 0, C, 'dir', 'a directory path', config.dir)
  checkAddress(config.listen, 'listen', 0)
  if (config.tls !== undefined) {
    checkFiles(config.tls, 'tls')
    check(config.insecure !== true, C, 'insecure', 'false or absent when tls is set', config.insecure)
  } else check(config.insecure === true, C, 'tls', 'set (mutual TLS) unless insecure: true is given', undefined)
  checkObject(config.station as unknown, C, 'station')
  checkKnownKeys(config.station, `${C} station`, ['nodes', 'client'])
  checkObject(config.station.nodes as unknown, C, 'station.nodes')
  check(Object.keys(config.station.nodes).length > 0, C, 'station.nodes', 'at least one node', config.station.nodes)
  for (const [id, a] of Object.entries(config.station.nodes)) checkAddress(a, `station.nodes.${id}`, 1)
  if (config.station.client !== undefined) checkFiles(config.station.client, 'station.client')
  else check(config.insecure === true, C, 'station.client', 'set (a client certificate) unless insecure: true is given', undefined)
  if (config.heartbeat !== undefined) {
    checkObject(config.heartbeat as unknown, C, 'heartbeat')
    checkKnownKeys(config.heartbeat, `${C} heartbeat`, ['port', 'peers'])
    checkInt(config.heartbeat.port, C, 'heartbeat.port', 0, 65535)
    checkObject(config.heartbeat.peers as unknown, C, 'heartbeat.peers')
    for (const [id, a] of Object.entries(config.heartbeat.peers)) checkAddress(a, `heartbeat.peers.${id}`, 1)
  }
  if (config.stopGraceMs !== undefined) checkInt(config.stopGraceMs, C, 'stopGraceMs', 0)
}

export const AGENT_PROCESS_CLI: CliSpec = {
  name: 'quorate-agent',
  usage: `Usage: quorate-agent --config <file.json> [--exit-with-stdin] [--stop-services-on-exit]
Runs one node agent: executes the recovery coordinator's fenced commands, supervises the
services it starts, heartbeats with the tracking station, and reports events into the
station's events queue (see docs/demo.md and docs/agent.md).

  --config <file>            the agent's JSON config (required)
  --exit-with-stdin          also shut down when stdin ends (a launcher passes its own pipe)
  --stop-services-on-exit    stop the services on shutdown (default: leave them to the next agent)
  --help, -h                 print this text
  --version                  print the version`,
  options: { config: { type: 'string' }, 'exit-with-stdin': { type: 'boolean' }, 'stop-services-on-exit': { type: 'boolean' } }
}

export interface AgentProcessArgs {
  readonly configPath: string
  readonly exitWithStdin: boolean
  readonly stopServicesOnExit: boolean
}

export function interpretAgentProcessArgs (values: CliValues): AgentProcessArgs {
  const configPath = stringOption(values, 'config')
  if (configPath === undefined || configPath.length === 0) throw usageError(AGENT_PROCESS_CLI, '--config is required')
  return { configPath, exitWithStdin: flagOption(values, 'exit-with-stdin'), stopServicesOnExit: flagOption(values, 'stop-services-on-exit') }
}

async function tlsOf (files: ClusterTlsFiles): Promise<TcpTlsOptions> {
  const [key, cert, ca] = await Promise.all([files.keyFile, files.certFile, files.caFile].map(async (f) => await readFile(f, 'utf8')))
  return { key: key!, cert: cert!, ca: ca! }
}

/** Reads and validates a JSON config file. */
export async function loadAgentProcessConfig (path: string): Promise<AgentProcessConfig> {
  let config: AgentProcessConfig
  try {
    config = JSON.parse(await readFile(path, 'utf8')) as AgentProcessConfig
  } catch (err) {
    throw new QuorateError('OPTIONS_INVALID', `cannot read the agent config ${path}: ${(err as Error).message}`, { cause: err })
  }
  validateAgentProcessConfig(config)
  return config
}

/**
 * The station's events queue as an HaEventSink: each event is proposed through the client
 * (sessions: exactly once) and retried under its id until it commits or the signal fires;
 * `onStored` hears every committed one.
 */
function stationSink (client: QuorateClient, onStored: (id: string, status: string, payload: Uint8Array) => void): HaEventSink {
  const graph = client.graph(coordinatorSchema())
  return {
    emit: async (event, options = {}) => {
      for (;;) {
        try {
          const status = await graph.emit(event, options)
          onStored(event.id, status, event.payload)
          return status
        } catch (err) {
          if (options.signal?.aborted === true || isQuorateError(err, 'EVENTS_EVENT_INVALID')) throw err
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
    }
  }
}

function line (prefix: string, value: unknown): void { process.stdout.write(`${prefix}${JSON.stringify(value)}\n`) }

async function serve (args: AgentProcessArgs): Promise<undefined> {
  const config = await loadAgentProcessConfig(args.configPath)
  const tls = config.tls === undefined ? undefined : await tlsOf(config.tls)
  const security = tls === undefined ? { insecure: true } : { tls }
  const credentials: ClientCredentials = config.station.client === undefined
    ? { insecure: true }
    : await tlsOf(config.station.client).then(({ key, cert, ca }) => ({ key, cert, ca: ca as string }))
  const client = new QuorateClient({ nodes: config.station.nodes, credentials })
  const events = stationSink(client, (id, status, payload) => { line(AGENT_EVENT_PREFIX, { id, status, ...decodeHaEvent(payload) }) })
  const report = (what: string) => (_event: unknown, err: unknown): void => { process.stderr.write(`agent ${config.node}: ${what} event not queued: ${String(err)}\n`) }
  const agent = new NodeAgent({ node: config.node, dir: config.dir, events, onEventError: report('agent'), ...(config.stopGraceMs === undefined ? {} : { stopGraceMs: config.stopGraceMs }) })
  await agent.open()
  const endpoint = new AgentEndpoint({
    agent: {
      handle: async (command: unknown) => {
        const c = command as Partial<AgentCommand> & { instance?: string }
        line(AGENT_COMMAND_PREFIX, { id: c.id, kind: c.kind, instance: c.instance ?? null, token: c.fence?.token ?? null })
        return await agent.handle(command)
      }
    },
    listen: config.listen,
    ...security
  })
  await endpoint.open()
  const heartbeat = config.heartbeat === undefined
    ? null
    : new HeartbeatMonitor({ self: config.node, peers: config.heartbeat.peers, listen: { host: config.listen.host, port: config.heartbeat.port }, ...security, events, onEventError: report('heartbeat') })
  await heartbeat?.open()
  let stopping = false
  const stop = (code: number): void => {
    if (stopping) process.exit(code)
    stopping = true
    void (async () => {
      await endpoint.close()
      await heartbeat?.close()
      if (args.stopServicesOnExit) await agent.stopAll()
      await agent.close()
      await client.close()
    })().then(() => { process.exit(code) }, (err: unknown) => {
      process.stderr.write(`agent ${config.node}: close failed: ${String(err)}\n`)
      process.exit(1)
    })
  }
  stopOnSignals(stop, args.exitWithStdin)
  line(AGENT_READY_PREFIX, { node: config.node, pid: process.pid, agent: endpoint.address(), heartbeat: heartbeat?.address() ?? null })
  // "I am up": the coordinator marks the node up, starts what is placed on it, places what is new.
  void events.emit({ id: `agent-up:${config.node}:${randomUUID()}`, payload: encodeHaEvent({ type: 'node-alive', node: config.node, observer: config.node, at: Date.now() }) }).catch((err: unknown) => { report('announcement')(null, err) })
  return undefined
}

if (isMainModule(import.meta.url)) await runCommandLine(AGENT_PROCESS_CLI, process.argv.slice(2), interpretAgentProcessArgs, serve)

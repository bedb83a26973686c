#!/usr/bin/env node
/**
 * A transponder as its own OS process (the package's `quorate-transponder` bin):
 *
 *   quorate-transponder --config t1.json [--exit-with-stdin]
 *
 * It listens for agents (downlinks, TransponderServer) and holds one uplink to the tracking
 * station (SocketUplink). It is stateless: an agent's event is acknowledged only after the
 * station committed it, so killing the process (even SIGKILL) loses nothing acknowledged —
 * its agents re-home to their next-ranked relay and resend what was not.
 *
 * Once listening it prints one line
 *   QUORATE_TRANSPONDER_READY {"id":"t1","pid":1234,"listen":{"host":"127.0.0.1","port":7101}}
 * on stdout. SIGTERM or SIGINT closes it and exits 0 (a second signal exits at once); with
 * `--exit-with-stdin` it also stops when stdin ends (a launcher's pipe). A usage error or an
 * invalid config exits 2 with the message; a failure to start exits 1.
 */
import type { CliSpec, CliValues } from '../util/cli.js'
import { flagOption, isMainModule, runCommandLine, stopOnSignals, stringOption, usageError } from '../util/cli.js'
import { isQuorateError } from '../errors.js'
import { loadRelayProcessConfig, readRelayTls } from './relay-config.js'
import type { RelayProcessConfig } from './relay-config.js'
import { TransponderServer } from './socket-links.js'
import type { TransponderOptions } from './relay.js'
import { SocketUplink } from './uplink-socket.js'

export const TRANSPONDER_READY_PREFIX = 'QUORATE_TRANSPONDER_READY '

export const TRANSPONDER_PROCESS_CLI: CliSpec = {
  name: 'quorate-transponder',
  usage: `Usage: quorate-transponder --config <file.json> [--exit-with-stdin]
Runs one stateless transponder: agents connect to it (downlinks), it relays to the tracking
station over one uplink (see docs/transponder.md for the config).

  --config <file>      the relay's JSON config (required)
  --exit-with-stdin    also shut down when stdin ends (a launcher passes its own pipe)
  --help, -h           print this text
  --version            print the version`,
  options: { config: { type: 'string' }, 'exit-with-stdin': { type: 'boolean' } }
}

export interface TransponderProcessArgs { readonly configPath: string, readonly exitWithStdin: boolean }

export function interpretTransponderProcessArgs (values: CliValues): TransponderProcessArgs {
  const configPath = stringOption(values, 'config')
  if (configPath === undefined || configPath.length === 0) throw usageError(TRANSPONDER_PROCESS_CLI, '--config is required')
  return { configPath, exitWithStdin: flagOption(values, 'exit-with-stdin') }
}

/** The relay a config describes, not yet open: the uplink and the server behind it. */
export async function relayFromConfig (config: RelayProcessConfig): Promise<{ uplink: SocketUplink, server: TransponderServer }> {
  const tls = config.tls === undefined ? undefined : await readRelayTls(config.tls)
  const security = tls === undefined ? { insecure: true as const } : { tls }
  const uplink = new SocketUplink({
    id: config.id, station: { host: config.station.host, port: config.station.port }, stationId: config.station.id ?? 'station', ...security, ...config.uplink
  })
  const transponder = { id: config.id, uplink: uplink.uplink, ...config.relay } as Omit<TransponderOptions, 'downlink'>
  const server = new TransponderServer({ listen: config.listen, ...security, transponder })
  uplink.serve(async (commands) => await server.transponder.deliver(commands))
  return { uplink, server }
}

async function serve (args: TransponderProcessArgs): Promise<number | undefined> {
  let config: RelayProcessConfig
  try {
    config = await loadRelayProcessConfig(args.configPath)
  } catch (err) {
    if (!isQuorateError(err, 'OPTIONS_INVALID')) throw err
    process.stderr.write(`quorate-transponder: ${err.message}\n`)
    return 2
  }
  const { uplink, server } = await relayFromConfig(config)
  await uplink.open()
  await server.open()
  let stopping = false
  const stop = (code: number): void => {
    if (stopping) process.exit(code)
    stopping = true
    Promise.all([server.close(), uplink.close()]).then(() => { process.exit(code) }, (err: unknown) => {
      process.stderr.write(`transponder ${config.id}: close failed: ${String(err)}\n`)
      process.exit(1)
    })
  }
  stopOnSignals(stop, args.exitWithStdin)
  process.stdout.write(`${TRANSPONDER_READY_PREFIX}${JSON.stringify({ id: config.id, pid: process.pid, listen: server.address() })}\n`)
  return undefined
}

if (isMainModule(import.meta.url)) await runCommandLine(TRANSPONDER_PROCESS_CLI, process.argv.slice(2), interpretTransponderProcessArgs, serve)

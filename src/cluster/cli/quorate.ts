#!/usr/bin/env node
/**
 * The `quorate` command: what an operator types to see a running cluster.
 *
 *   quorate status|graph|events|health --endpoint host:port [...] (--ca --cert --key | --token | --insecure) [--json]
 *
 * It reads the nodes' operator views (views/routes.ts) with the client's credentials. Exit
 * status: 0 success (health: every member up with one leader), 1 a failed command or an
 * unhealthy cluster, 2 a usage error, 3 no endpoint reachable (VIEW_UNREACHABLE), 4 the
 * credentials were refused (CLUSTER_AUTH_REQUIRED, CLUSTER_AUTH_FAILED, CLUSTER_FORBIDDEN).
 */
import { readFileSync } from 'node:fs'
import { QuorateError } from '../../errors.js'
import type { TcpAddress } from '../../transport/tcp.js'
import type { CliSpec, CliValues } from '../../util/cli.js'
import { flagOption, intOption, isMainModule, runCommandLine, stringOption, usageError } from '../../util/cli.js'
import type { ClientCredentials } from '../stream-connection.js'
import { getJson } from '../views/get-json.js'
import type { ClusterView } from '../views/view.js'
import { renderEvents, renderGraph, renderHealth, renderStatus } from './render.js'

export const EXIT_UNREACHABLE = 3
export const EXIT_REFUSED = 4
const COMMANDS = ['status', 'graph', 'events', 'health'] as const
type Command = typeof COMMANDS[number]

export const QUORATE_CLI: CliSpec = {
  name: 'quorate',
  usage: `Usage: quorate <status|graph|events|health> --endpoint <host:port> [options]
Shows a running quorate cluster (docs/dashboard.md).

  status                 members (role, term, leader, indexes, lag), leases, coordinator, agents and services
  graph                  the resource graph: counts by kind, --kind K, --id X [--neighbours]
  events                 the events queue: --from I, --limit N, --follow [--interval ms]
  health                 one line per member; exit 1 unless every member is up with one leader

  --endpoint <host:port> a node's client endpoint (repeat for several; the first that answers is used)
  --ca <file>            the cluster CA certificate (PEM)
  --cert, --key <file>   a client certificate and key issued by the cluster CA
  --token <token>        a bearer token instead of a certificate (or env QUORATE_TOKEN)
  --insecure             plain HTTP to an insecure endpoint
  --json                 machine-readable output
  --timeout <ms>         per request (default 3000)
  --help, -h             print this text
  --version              print the version

Exit status: 0 ok, 1 failed or unhealthy, 2 usage error, 3 unreachable, 4 credentials refused.`,
  options: {
    endpoint: { type: 'string', multiple: true },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    token: { type: 'string' },
    insecure: { type: 'boolean' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
    kind: { type: 'string' },
    id: { type: 'string' },
    neighbours: { type: 'boolean' },
    from: { type: 'string' },
    limit: { type: 'string' },
    follow: { type: 'boolean' },
    interval: { type: 'string' }
  }
}

export interface QuorateCliArgs {
  readonly command: Command
  readonly endpoints: readonly TcpAddress[]
  readonly credentials: ClientCredentials
  readonly json: boolean
  readonly timeoutMs: number
  readonly query: URLSearchParams
  readonly follow: boolean
  readonly intervalMs: number
}

/** Options each command accepts beyond the connection ones. */
const COMMAND_OPTIONS: Readonly<Record<Command, readonly string[]>> = { status: [], health: [], graph: ['kind', 'id', 'neighbours'], events: ['from', 'limit', 'follow', 'interval'] }

function parseAddress (text: string): TcpAddress {
  const m = /^(.+):(\d{1,5})$/.exec(text)
  const port = Number(m?.[2])
  if (m === null || port < 1 || port > 65535) throw usageError(QUORATE_CLI, `--endpoint must be host:port (got ${JSON.stringify(text)})`)
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port }
}

function readPem (flag: string, file: string | undefined): string | undefined {
  if (file === undefined) return undefined
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw usageError(QUORATE_CLI, `--${flag}: cannot read ${file}: ${(err as Error).message}`)
  }
}

function credentialsOf (values: CliValues): ClientCredentials {
  const token = stringOption(values, 'token') ?? (process.env.QUORATE_TOKEN === '' ? undefined : process.env.QUORATE_TOKEN)
  if (flagOption(values, 'insecure')) {
    if (['ca', 'cert', 'key'].some((f) => values[f] !== undefined)) throw usageError(QUORATE_CLI, '--insecure takes no --ca, --cert or --key')
    return token === undefined ? { insecure: true } : { insecure: true, token }
  }
  const ca = readPem('ca', stringOption(values, 'ca'))
  if (ca === undefined) throw usageError(QUORATE_CLI, 'give --ca (with --cert and --key, or --token), or --insecure')
  if ((values.cert === undefined) !== (values.key === undefined)) throw usageError(QUORATE_CLI, '--cert and --key go together')
  if (values.cert === undefined && token === undefined) throw usageError(QUORATE_CLI, 'give --cert and --key, or --token (or QUORATE_TOKEN)')
  const cert = readPem('cert', stringOption(values, 'cert'))
  const key = readPem('key', stringOption(values, 'key'))
  return { ca, ...(cert === undefined ? {} : { cert, key }), ...(token === undefined ? {} : { token }) }
}

/** Parses the arguments after the command name (pure apart from reading PEM files). */
export function interpretQuorateArgs (command: Command, values: CliValues): QuorateCliArgs {
  for (const name of Object.keys(QUORATE_CLI.options)) {
    const own = COMMAND_OPTIONS[command]
    const connection = !Object.values(COMMAND_OPTIONS).some((list) => list.includes(name))
    if (values[name] !== undefined && !connection && !own.includes(name)) throw usageError(QUORATE_CLI, `quorate ${command} takes no --${name}`)
  }
  const endpoints = ((values.endpoint ?? []) as string[]).map(parseAddress)
  if (endpoints.length === 0) throw usageError(QUORATE_CLI, 'give at least one --endpoint host:port')
  const query = new URLSearchParams()
  for (const name of ['kind', 'id', 'from', 'limit']) {
    const v = stringOption(values, name)
    if (v !== undefined) query.set(name, v)
  }
  if (flagOption(values, 'neighbours')) query.set('neighbours', '1')
  if (values.kind !== undefined && values.id !== undefined) throw usageError(QUORATE_CLI, 'give --kind or --id, not both')
  if (values.neighbours !== undefined && values.id === undefined) throw usageError(QUORATE_CLI, '--neighbours needs --id')
  if (values.interval !== undefined && values.follow === undefined) throw usageError(QUORATE_CLI, '--interval goes with --follow')
  return {
    command,
    endpoints,
    credentials: credentialsOf(values),
    json: flagOption(values, 'json'),
    timeoutMs: intOption(QUORATE_CLI, values, 'timeout', 3000, 1),
    query,
    follow: flagOption(values, 'follow'),
    intervalMs: intOption(QUORATE_CLI, values, 'interval', 1000, 10)
  }
}

const REFUSALS = new Set(['CLUSTER_AUTH_REQUIRED', 'CLUSTER_AUTH_FAILED', 'CLUSTER_FORBIDDEN'])

/** GETs `path` from the first endpoint that answers; throws VIEW_UNREACHABLE or the node's refusal. */
async function fetchFirst (args: QuorateCliArgs, path: string, endpoints = args.endpoints): Promise<unknown> {
  const failures: string[] = []
  for (const address of endpoints) {
    let answer
    try {
      answer = await getJson(address, path, args.credentials, args.timeoutMs)
    } catch (err) {
      failures.push(`${address.host}:${address.port}: ${(err as Error).message}`)
      continue
    }
    const body = answer.body as { ok?: boolean, code?: string, message?: string }
    if (answer.status === 200) return body
    throw new QuorateError(typeof body.code === 'string' && REFUSALS.has(body.code) ? body.code as 'CLUSTER_AUTH_FAILED' : body.code === 'CLUSTER_REQUEST_INVALID' ? 'CLUSTER_REQUEST_INVALID' : 'CLUSTER_ROUTE_UNKNOWN',
      `${address.host}:${address.port} answered HTTP ${answer.status}: ${String(body.message ?? body.code)}`)
  }
  throw new QuorateError('VIEW_UNREACHABLE', `no endpoint answered ${path}: ${failures.join('; ')}`)
}

/**
 * The view from the leader when it can be reached (only the leader knows every member's
 * match and lag), with each member's own commit and applied index filled in from its view.
 */
async function clusterView (args: QuorateCliArgs): Promise<ClusterView> {
  const first = await fetchFirst(args, '/view') as ClusterView
  const others = await Promise.all(first.members.filter((m) => m.id !== first.from).map(async (m) => await fetchFirst(args, '/view', [m.client]).catch(() => null) as ClusterView | null))
  const views = [first, ...others.filter((v): v is ClusterView => v !== null)]
  const base = views.find((v) => v.leader === v.from) ?? first
  const own = new Map(views.map((v) => [v.from, v.members.find((m) => m.id === v.from)!]))
  return { ...base, members: base.members.map((m) => ({ ...m, commitIndex: own.get(m.id)?.commitIndex ?? m.commitIndex, appliedIndex: own.get(m.id)?.appliedIndex ?? m.appliedIndex })) }
}

function print (args: QuorateCliArgs, value: unknown, table: () => string): void {
  process.stdout.write(args.json ? `${JSON.stringify(value, null, 2)}\n` : `${table()}\n`)
}

async function followEvents (args: QuorateCliArgs): Promise<number> {
  let from = Number(args.query.get('from') ?? 0)
  let stop = false
  process.once('SIGINT', () => { stop = true })
  process.stdout.on('error', () => { stop = true })
  while (!stop) {
    const query = new URLSearchParams(args.query)
    query.set('from', String(from))
    let page: { events: Array<{ index: number }> }
    try {
      page = await fetchFirst(args, `/events?${query.toString()}`) as typeof page
    } catch (err) {
      // Following outlives a node's restart or a slow moment: only a refusal ends it.
      if (!(err instanceof QuorateError && err.code === 'VIEW_UNREACHABLE')) throw err
      process.stderr.write(`quorate: ${err.message}; retrying\n`)
      await new Promise((resolve) => setTimeout(resolve, args.intervalMs))
      continue
    }
    for (const e of page.events) process.stdout.write(args.json ? `${JSON.stringify(e)}\n` : `${renderEvents({ events: [e] as never }, false)}\n`)
    if (page.events.length > 0) from = page.events[page.events.length - 1]!.index + 1
    else await new Promise((resolve) => setTimeout(resolve, args.intervalMs))
  }
  return 0
}

export async function runQuorate (args: QuorateCliArgs): Promise<number> {
  switch (args.command) {
    case 'status': {
      const view = await clusterView(args)
      print(args, view, () => renderStatus(view))
      return 0
    }
    case 'health': {
      const view = await clusterView(args)
      const leaders = new Set(view.members.filter((m) => m.up && m.role === 'leader').map((m) => m.id))
      const healthy = view.members.every((m) => m.up) && leaders.size === 1
      print(args, { healthy, leader: view.leader, members: view.members.map((m) => ({ id: m.id, up: m.up, role: m.role, term: m.term })) }, () => renderHealth(view, healthy))
      return healthy ? 0 : 1
    }
    case 'graph': {
      const q = args.query.toString()
      const answer = await fetchFirst(args, `/graph${q === '' ? '' : `?${q}`}`)
      print(args, answer, () => renderGraph(answer as never))
      return 0
    }
    case 'events': {
      if (args.follow) return await followEvents(args)
      const q = args.query.toString()
      const answer = await fetchFirst(args, `/events${q === '' ? '' : `?${q}`}`)
      print(args, answer, () => renderEvents(answer as never, true))
      return 0
    }
  }
}

/** Runs the command line; sets the exit status the module comment lists. */
export async function main (argv: readonly string[]): Promise<void> {
  const command = argv[0]
  if (command === undefined || command.startsWith('-')) {
    // --help, --version, or a usage error naming the missing command.
    await runCommandLine(QUORATE_CLI, argv, () => { throw usageError(QUORATE_CLI, `give a command: ${COMMANDS.join(', ')}`) }, async () => 0)
    return
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    process.stderr.write(`quorate: unknown command ${JSON.stringify(command)} (commands: ${COMMANDS.join(', ')})\n${QUORATE_CLI.usage}\n`)
    process.exitCode = 2
    return
  }
  await runCommandLine(QUORATE_CLI, argv.slice(1), (values) => interpretQuorateArgs(command as Command, values), async (args) => {
    try {
      return await runQuorate(args)
    } catch (err) {
      if (!(err instanceof QuorateError)) throw err
      process.stderr.write(`quorate: ${err.code}: ${err.message}\n`)
      return err.code === 'VIEW_UNREACHABLE' ? EXIT_UNREACHABLE : REFUSALS.has(err.code) ? EXIT_REFUSED : 1
    }
  })
}

if (isMainModule(import.meta.url)) await main(process.argv.slice(2))

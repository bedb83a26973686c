/**
 * Command line of the demo (`npm start -- --help`).
 */
import { resolve } from 'node:path'
import type { CliParsed, CliSpec, CliValues } from '../src/util/cli.js'
import { flagOption, intOption, parseCommandLine, runCommandLine, stringOption, usageError } from '../src/util/cli.js'

export const DEFAULT_DEMO_NODES = 3
export const DEFAULT_DEMO_DURATION_S = 12
export const DEFAULT_DEMO_TICK_MS = 50
export const MIN_DEMO_DURATION_S = 4

export interface DemoOptions {
  /** Cluster size (at least 3, so that losing the leader leaves a majority). @default 3 */
  readonly nodes: number
  /** Seconds of workload; the whole run takes a few seconds more. @default 12 */
  readonly durationS: number
  /** Storage directory, kept at exit. @default a temporary directory, removed at exit */
  readonly dir: string | undefined
  /** All nodes in this process on the MemoryNetwork instead of one process each over TCP. @default false */
  readonly inProcess: boolean
  /** Plain TCP between node processes instead of mutual TLS. @default false */
  readonly insecure: boolean
  /** Milliseconds per Raft tick (election timeout is 10 to 20 ticks). @default 50 */
  readonly tickMs: number
  /**
   * After the story and the summary, keep the cluster (nodes, agents, services) running until
   * SIGINT or SIGTERM, for `quorate status` and the dashboard. Node processes only. @default false
   */
  readonly hold: boolean
}

export const USAGE = `quorate demo: the HA story on this machine - a tracking station of node processes, worker agents
and their services; a worker, the coordinator's host and the Raft leader are killed, and everything recovers.

Usage: npm start -- [options]
       node dist/demo/demo.js [options]

Options:
  --nodes N       number of nodes, at least 3 (default ${DEFAULT_DEMO_NODES})
  --duration S    seconds of workload, at least ${MIN_DEMO_DURATION_S} (default ${DEFAULT_DEMO_DURATION_S}; the run takes ~3 s more)
  --dir PATH      storage directory, kept at exit (default: a temporary directory, removed at exit)
  --in-process    run every node in this process on the in-memory network (no TCP)
  --insecure      plain TCP between node processes instead of mutual TLS
  --tick-ms MS    Raft tick length in ms (default ${DEFAULT_DEMO_TICK_MS}; elections take 10-20 ticks)
  --hold          after the summary keep the cluster running for quorate status and the dashboard,
                  until Ctrl-C (SIGINT) or SIGTERM; then clean up as usual
  --help          show this help
  --version       print the version

Each station node is a separate OS process on 127.0.0.1 (dist/src/cluster/node-process.js) with
its log in classic-level, the resource graph and a coordinator supervisor; each worker is a
quorate-agent process running demo services; mutual TLS everywhere (certificates made on the fly
with openssl). The demo SIGKILLs a worker and watches its services move, SIGKILLs the coordinator's
host and watches a new coordinator take over with a higher fencing token, SIGKILLs the Raft leader
and restarts it, then checks every service runs once, no acknowledged write or event was lost and
all replicas agree, and prints a timeline and a summary (--in-process: the Raft part only).
See docs/demo.md.`

export const DEMO_CLI: CliSpec = {
  name: 'quorate demo',
  usage: USAGE,
  options: {
    nodes: { type: 'string' },
    duration: { type: 'string' },
    'tick-ms': { type: 'string' },
    dir: { type: 'string' },
    'in-process': { type: 'boolean' },
    insecure: { type: 'boolean' },
    hold: { type: 'boolean' }
  }
}

function interpretDemoArgs (values: CliValues): DemoOptions {
  const dir = stringOption(values, 'dir')
  if (dir !== undefined && dir.length === 0) throw usageError(DEMO_CLI, '--dir needs a path')
  const inProcess = flagOption(values, 'in-process')
  const insecure = flagOption(values, 'insecure')
  if (inProcess && insecure) throw usageError(DEMO_CLI, '--insecure applies to node processes; --in-process uses no TCP at all')
  const hold = flagOption(values, 'hold')
  if (inProcess && hold) throw usageError(DEMO_CLI, '--hold keeps node processes up for quorate status and the dashboard; --in-process has no endpoint to watch')
  return {
    nodes: intOption(DEMO_CLI, values, 'nodes', DEFAULT_DEMO_NODES, 3),
    durationS: intOption(DEMO_CLI, values, 'duration', DEFAULT_DEMO_DURATION_S, MIN_DEMO_DURATION_S),
    tickMs: intOption(DEMO_CLI, values, 'tick-ms', DEFAULT_DEMO_TICK_MS, 5),
    dir: dir === undefined ? undefined : resolve(dir),
    inProcess,
    insecure,
    hold
  }
}

/** Parses argv (without node and script) strictly (util/cli.ts); throws OPTIONS_INVALID with the usage. */
export function parseDemoArgs (argv: readonly string[]): CliParsed<DemoOptions> {
  return parseCommandLine(DEMO_CLI, argv, interpretDemoArgs)
}

/** Runs the demo's command line: --help, --version, exit 2 on a usage error. */
export async function runDemoCommandLine (argv: readonly string[], run: (options: DemoOptions) => Promise<number>): Promise<void> {
  await runCommandLine(DEMO_CLI, argv, interpretDemoArgs, run)
}

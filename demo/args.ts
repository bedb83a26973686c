/**
 * Command line of the demo (`npm start -- --help`).
 */
import { resolve } from 'node:path'

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
  readonly help: boolean
}

export const USAGE = `quorate demo: a Raft key-value cluster that loses its leader and recovers.

Usage: npm start -- [options]
       node dist/demo/demo.js [options]

Options:
  --nodes N       number of nodes, at least 3 (default ${DEFAULT_DEMO_NODES})
  --duration S    seconds of workload, at least ${MIN_DEMO_DURATION_S} (default ${DEFAULT_DEMO_DURATION_S}; the run takes ~3 s more)
  --dir PATH      storage directory, kept at exit (default: a temporary directory, removed at exit)
  --in-process    run every node in this process on the in-memory network (no TCP)
  --insecure      plain TCP between node processes instead of mutual TLS
  --tick-ms MS    Raft tick length in ms (default ${DEFAULT_DEMO_TICK_MS}; elections take 10-20 ticks)
  --help          show this help

Each node is a separate OS process on 127.0.0.1 (dist/src/cluster/node-process.js) with its
log in classic-level and mutual TLS between nodes (certificates made on the fly with openssl).
The demo writes unique keys, SIGKILLs the leader, watches a new one get elected, restarts the
killed node, watches it catch up, checks every acknowledged write and that all replicas hold
the same state, and prints a timeline. See docs/demo.md.`

export class UsageError extends Error {}

function integer (flag: string, raw: string | undefined, min: number): number {
  const n = Number(raw)
  if (raw === undefined || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} needs an integer >= ${min} (got ${String(raw)})`)
  return n
}

/** Parses argv (without node and script); throws UsageError for anything unknown or malformed. */
export function parseDemoArgs (argv: readonly string[]): DemoOptions {
  let nodes = DEFAULT_DEMO_NODES
  let durationS = DEFAULT_DEMO_DURATION_S
  let tickMs = DEFAULT_DEMO_TICK_MS
  let dir: string | undefined
  let inProcess = false
  let insecure = false
  let help = false
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.startsWith('--') && argv[i]!.includes('=') ? argv[i]!.split(/=(.*)/s, 2) as [string, string] : [argv[i]!, undefined]
    const value = (): string | undefined => inline ?? argv[++i]
    switch (flag) {
      case '--nodes': nodes = integer(flag, value(), 3); break
      case '--duration': durationS = integer(flag, value(), MIN_DEMO_DURATION_S); break
      case '--tick-ms': tickMs = integer(flag, value(), 5); break
      case '--dir': {
        const d = value()
        if (d === undefined || d.length === 0) throw new UsageError('--dir needs a path')
        dir = resolve(d)
        break
      }
      case '--in-process': inProcess = true; break
      case '--insecure': insecure = true; break
      case '--help': case '-h': help = true; break
      default: throw new UsageError(`unknown option ${JSON.stringify(flag)}`)
    }
  }
  if (inProcess && insecure) throw new UsageError('--insecure applies to node processes; --in-process uses no TCP at all')
  return { nodes, durationS, dir, inProcess, insecure, tickMs, help }
}

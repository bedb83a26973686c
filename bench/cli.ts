/** Command-line options shared by the cluster benchmarks, and small cluster helpers. */
import type { RaftNode } from '../src/node/node.js'
import { DEFAULT_MEASURE_MS, DEFAULT_WARMUP_MS } from './closed-loop.js'
import { sleep } from './measure.js'

export interface BenchArgs {
  readonly concurrency: number[]
  readonly warmupMs: number
  readonly measureMs: number
  readonly trials: number
  /** Result file name (without .json) instead of the benchmark's default. */
  readonly out: string | undefined
}

export const DEFAULT_CONCURRENCY = [1, 16, 256]

export function parseArgs (argv: readonly string[] = process.argv.slice(2)): BenchArgs {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const num = (flag: string, fallback: number): number => {
    const v = get(flag)
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} must be a non-negative number, got ${v}`)
    return n
  }
  const list = get('--concurrency')
  return {
    concurrency: list === undefined ? DEFAULT_CONCURRENCY : list.split(',').map(Number),
    warmupMs: num('--warmup-ms', DEFAULT_WARMUP_MS),
    measureMs: num('--measure-ms', DEFAULT_MEASURE_MS),
    trials: num('--trials', 30),
    out: get('--out')
  }
}

/** The node that is leader with a majority agreeing on it. */
export async function waitForLeader (nodes: readonly RaftNode[], timeoutMs = 10_000): Promise<RaftNode> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    for (const n of nodes) {
      if (n.lifecycle !== 'open') continue
      const s = n.status()
      if (s.role !== 'leader') continue
      const agree = nodes.filter((m) => m.lifecycle === 'open' && m.status().leader === n.id && m.status().term === s.term).length
      if (agree > nodes.length / 2) return n
    }
    await sleep(1)
  }
  throw new Error('no leader elected in time')
}

/**
 * Refuses what a benchmark does not understand, before it runs for minutes on defaults: an
 * unknown `--flag`, a valued flag without a value, or a stray argument. `valued` take a value,
 * `switches` do not. Exits 2 with the list of known flags.
 */
/** What `--out` may be: a file name in bench/results, without the .json. */
export const OUT_NAME = /^[A-Za-z0-9._-]+$/

export function checkFlags (name: string, argv: readonly string[], valued: readonly string[], switches: readonly string[] = []): void {
  const known = [...valued, ...switches].join(' ')
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (switches.includes(a)) continue
    if (valued.includes(a) && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) {
      i++
      // --out names a file in bench/results; a path would fail only at the end of a long run.
      if (a === '--out' && !OUT_NAME.test(argv[i]!)) {
        process.stderr.write(`${name}: --out is a result name (letters, digits, '.', '_', '-'; written to bench/results/<name>.json), got ${argv[i]!}\n`)
        process.exit(2)
      }
      continue
    }
    process.stderr.write(`${name}: unknown option, missing value or stray argument: ${a} (options: ${known})\n`)
    process.exit(2)
  }
}

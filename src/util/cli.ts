/**
 * The one way quorate's command-line tools read their arguments: `util.parseArgs` with
 * `strict: true` (an unknown option, a missing value or a stray positional is an error, never
 * silently ignored), `--help` and `--version` on every tool, and exit code 2 with the usage
 * text on any usage error (1 stays for a run that failed, 0 for success).
 *
 * Parsing is pure (`parseCommandLine` returns what to do or throws OPTIONS_INVALID), so tools
 * test their argument handling without a process; `runCommandLine` does the printing and the
 * exit code.
 */
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { readFileSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { QuorateError, isQuorateError } from '../errors.js'

export type CliOptions = NonNullable<ParseArgsConfig['options']>
export type CliValues = Readonly<Record<string, string | boolean | ReadonlyArray<string | boolean> | undefined>>

export interface CliSpec {
  /** The command's name, as a user types it (the package's `bin` name). */
  readonly name: string
  /** The full usage text printed by --help and after every usage error. */
  readonly usage: string
  /** The tool's own options; --help and --version are added. */
  readonly options: CliOptions
}

export type CliParsed<Args> = { readonly kind: 'run', readonly args: Args } | { readonly kind: 'help' } | { readonly kind: 'version' }

const STANDARD_OPTIONS: CliOptions = { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } }

/**
 * Parses `argv` strictly and hands the values to `interpret` (which checks values and
 * combinations and may throw `usageError`). Throws OPTIONS_INVALID whose message ends with
 * the usage text.
 */
export function parseCommandLine<Args> (spec: CliSpec, argv: readonly string[], interpret: (values: CliValues) => Args): CliParsed<Args> {
  let values: CliValues
  try {
    values = parseArgs({ args: [...argv], options: { ...spec.options, ...STANDARD_OPTIONS }, strict: true, allowPositionals: false }).values
  } catch (err) {
    // node:util reports usage problems as ERR_PARSE_ARGS_*; anything else is a bug to surface.
    if (!String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS_')) throw err
    throw usageError(spec, (err as Error).message)
  }
  if (values.help === true) return { kind: 'help' }
  if (values.version === true) return { kind: 'version' }
  return { kind: 'run', args: interpret(values) }
}

export function usageError (spec: CliSpec, message: string): QuorateError {
  return new QuorateError('OPTIONS_INVALID', `${spec.name}: ${message}\n${spec.usage}`)
}

/** A string option's value, or undefined when absent. */
export function stringOption (values: CliValues, name: string): string | undefined {
  const v = values[name]
  return typeof v === 'string' ? v : undefined
}

/** A non-negative safe integer option (`--n 5` or `--n=5`), `fallback` when absent. */
export function intOption (spec: CliSpec, values: CliValues, name: string, fallback: number, min = 0): number {
  return numberOption(spec, values, name, fallback, min, true)
}

/** A finite number option (`--minutes 0.5`), at least `min`, `fallback` when absent. */
export function numberOption (spec: CliSpec, values: CliValues, name: string, fallback: number, min = 0, integer = false): number {
  const v = stringOption(values, name)
  if (v === undefined) return fallback
  const n = v.trim() === '' ? Number.NaN : Number(v)
  const ok = integer ? Number.isSafeInteger(n) : Number.isFinite(n)
  if (!ok || n < min) throw usageError(spec, `--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min} (got ${JSON.stringify(v)})`)
  return n
}

/** Whether a boolean option was given. */
export function flagOption (values: CliValues, name: string): boolean {
  return values[name] === true
}

/** The version in quorate's package.json (dist/src/util/cli.js sits three folders below it). */
export function packageVersion (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
  return String(pkg.version)
}

/**
 * Whether the module at `moduleUrl` is the script node was started with. Compares real
 * paths: npm installs a `bin` as a symlink, and node reports the module under its real path.
 */
export function isMainModule (moduleUrl: string): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return realpathSync(script) === fileURLToPath(moduleUrl)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/**
 * Runs a tool: --help and --version print and exit 0, a usage error prints the message and
 * usage on stderr and exits 2, a failed run prints the error and exits 1. `run` resolves to
 * the exit code, or undefined to leave the process running (a server).
 */
export async function runCommandLine<Args> (spec: CliSpec, argv: readonly string[], interpret: (values: CliValues) => Args, run: (args: Args) => Promise<number | undefined>): Promise<void> {
  let parsed: CliParsed<Args>
  try {
    parsed = parseCommandLine(spec, argv, interpret)
  } catch (err) {
    if (!isQuorateError(err, 'OPTIONS_INVALID')) throw err
    process.stderr.write(`${err.message}\n`)
    process.exitCode = 2
    return
  }
  if (parsed.kind === 'help') { process.stdout.write(`${spec.usage}\n`); return }
  if (parsed.kind === 'version') { process.stdout.write(`${spec.name} ${packageVersion()}\n`); return }
  try {
    const code = await run(parsed.args)
    if (code !== undefined) process.exitCode = code
  } catch (err) {
    const code = err instanceof QuorateError ? `${err.code}: ` : ''
    process.stderr.write(`${spec.name}: ${code}${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  }
}

/**
 * How every long-running bin is told to stop: SIGTERM and SIGINT, and, with `exitWithStdin`,
 * the end of (or an error on) stdin — a launcher that dies closes the pipe, so its children do
 * not outlive it. Each calls `stop(0)`; `stop` decides what a second call means.
 */
export function stopOnSignals (stop: (code: number) => void, exitWithStdin: boolean): void {
  process.on('SIGTERM', () => { stop(0) })
  process.on('SIGINT', () => { stop(0) })
  if (exitWithStdin) {
    process.stdin.on('end', () => { stop(0) })
    process.stdin.on('error', () => { stop(0) })
    process.stdin.resume()
  }
}

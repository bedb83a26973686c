/**
 * Logging: the `Logger` shape every component's `logger` option accepts is pino's (so a pino
 * logger, or anything with the same six methods, plugs in as is), a silent default for the
 * library, and a small JSON-lines logger for the places that log by default (the node
 * process, the demo) without a dependency.
 *
 * Call shape, as in pino: `logger.info({ term: 3, leader: 'n2' }, 'leader elected')`, the
 * fields first, the message second. Components log only state transitions a person would
 * want to see (elections, leadership, snapshots, membership, failures), never per entry.
 *
 * @example
 * import { jsonLogger } from 'quorate'
 * const log = jsonLogger({ level: 'debug' })   // JSON lines on stderr
 * log.info({ node: 'n1', term: 2 }, 'became leader')
 */
import { checkMethods, check } from './validate.js'

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'

/** pino's numeric levels, which its JSON lines carry and log tooling expects. */
export const LOG_LEVELS: Readonly<Record<LogLevel, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }

export type LogFn = (obj: Record<string, unknown>, msg?: string) => void

/** A pino-compatible logger. `child` is optional; without it, `childLogger` wraps. */
export interface Logger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  fatal: LogFn
  child? (bindings: Record<string, unknown>): Logger
}

/** The level names, lowest first. */
export const LEVEL_NAMES = Object.keys(LOG_LEVELS) as LogLevel[]

function ignore (): void {}

/** The library's default: every method does nothing. */
export const silentLogger: Logger = {
  trace: ignore, debug: ignore, info: ignore, warn: ignore, error: ignore, fatal: ignore, child: () => silentLogger
}

/** Throws OPTIONS_INVALID unless `value` is undefined or has the six level methods. */
export function checkLogger (value: unknown, component: string, field = 'logger'): asserts value is Logger | undefined {
  if (value === undefined) return
  checkMethods(value, component, field, 'a pino-compatible logger', LEVEL_NAMES, ['child'])
}

/** `logger.child(bindings)` if it has one, else a wrapper that merges `bindings` into every call. */
export function childLogger (logger: Logger, bindings: Record<string, unknown>): Logger {
  if (typeof logger.child === 'function') return logger.child(bindings)
  const wrap = (fn: LogFn): LogFn => (obj, msg) => { fn.call(logger, { ...bindings, ...obj }, msg) }
  return {
    trace: wrap(logger.trace), debug: wrap(logger.debug), info: wrap(logger.info),
    warn: wrap(logger.warn), error: wrap(logger.error), fatal: wrap(logger.fatal),
    child: (more) => childLogger(logger, { ...bindings, ...more })
  }
}

export interface JsonLoggerOptions {
  /** Least severe level written. @default 'info' */
  readonly level?: LogLevel
  /** Where the lines go. @default process.stderr */
  readonly stream?: { write (line: string): unknown }
  /** Fields in every line. @default none */
  readonly bindings?: Record<string, unknown>
  /** Wall-clock milliseconds for the `time` field (a log line is read by people, next to other logs). @default Date.now */
  readonly now?: () => number
}

const JSON_LOGGER_KEYS = ['level', 'stream', 'bindings', 'now']

/** An Error as pino's standard serializer writes it: type, message, code, stack, cause. */
function serializeError (err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack: err.stack }
  const code = (err as { code?: unknown }).code
  if (code !== undefined) out.code = code
  if (err.cause instanceof Error) out.cause = serializeError(err.cause)
  return out
}

function replacer (_key: string, value: unknown): unknown {
  if (value instanceof Error) return serializeError(value)
  if (typeof value === 'bigint') return value.toString()
  return value
}

/**
 * A logger that writes one JSON object per line, in pino's layout
 * (`{"level":30,"time":…,"msg":"…",…fields}`), so pino-pretty and log shippers read it.
 */
export function jsonLogger (options: JsonLoggerOptions = {}): Logger {
  const C = 'jsonLogger'
  check(typeof options === 'object' && options !== null, C, '(options)', 'an object', options)
  for (const k of Object.keys(options)) check(JSON_LOGGER_KEYS.includes(k), C, k, `a known option (${JSON_LOGGER_KEYS.join(', ')})`, k)
  const level = options.level ?? 'info'
  check(LEVEL_NAMES.includes(level), C, 'level', `one of ${LEVEL_NAMES.join(', ')}`, level)
  if (options.stream !== undefined) checkMethods(options.stream, C, 'stream', 'a writable stream', ['write'])
  if (options.now !== undefined) check(typeof options.now === 'function', C, 'now', 'a function', options.now)
  return makeJsonLogger(LOG_LEVELS[level], options.stream ?? process.stderr, options.bindings ?? {}, options.now ?? Date.now)
}

function makeJsonLogger (min: number, stream: { write (line: string): unknown }, bindings: Record<string, unknown>, now: () => number): Logger {
  const at = (name: LogLevel): LogFn => {
    const value = LOG_LEVELS[name]
    if (value < min) return ignore
    return (obj, msg) => {
      const line = { level: value, time: now(), ...bindings, ...obj, ...(msg === undefined ? {} : { msg }) }
      stream.write(JSON.stringify(line, replacer) + '\n')
    }
  }
  return {
    trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'),
    child: (more) => makeJsonLogger(min, stream, { ...bindings, ...more }, now)
  }
}

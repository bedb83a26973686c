/**
 * util: the small pieces every layer shares: injected time (`Clock`) and randomness
 * (`Random`), option validation, abort handling, one byte reader/writer, and the one
 * `Lifecycle` every component that opens and closes uses, the pino-compatible `Logger` shape
 * (logger.ts) and the diagnostics_channel names (diagnostics.ts).
 *
 * May import: errors.
 */
export { SystemClock, systemClock } from './clock.js'
export type { Clock, Timer } from './clock.js'
export { SeededRandom, systemRandom, randomInt } from './random.js'
export type { Random } from './random.js'
export { Lifecycle } from './lifecycle.js'
export type { ComponentStatus } from './lifecycle.js'
export { jsonLogger, silentLogger, childLogger, checkLogger, LOG_LEVELS } from './logger.js'
export type { Logger, LogLevel, LogFn, JsonLoggerOptions } from './logger.js'
export { DIAGNOSTICS_CHANNELS, quorateChannel, publishIfObserved } from './diagnostics.js'
export type { DiagnosticsChannelName } from './diagnostics.js'

/**
 * util: the small pieces every layer shares: injected time (`Clock`) and randomness
 * (`Random`), option validation, abort handling, one byte reader/writer, and the one
 * `Lifecycle` every component that opens and closes uses.
 *
 * May import: errors.
 */
export { SystemClock, systemClock } from './clock.js'
export type { Clock, Timer } from './clock.js'
export { SeededRandom, systemRandom, randomInt } from './random.js'
export type { Random } from './random.js'
export { Lifecycle } from './lifecycle.js'
export type { ComponentStatus } from './lifecycle.js'

/**
 * `quorate/testing/arbitraries`: fast-check arbitraries for the simulator's fault schedules.
 * A separate entry point because its types name fast-check's: `quorate/testing` compiles for a
 * user without fast-check, and only this subpath needs it (an optional peer dependency).
 *
 * May import: anything in src/ (it is part of testing/).
 */
export * from './sim/fault-arbitrary.js'

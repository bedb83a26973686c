/**
 * The transponder simulator: 5,000 agents behind 50 transponders (or straight to the core,
 * the baseline) in seeded virtual time, checking liveness bounds, fan-out reach, re-homing,
 * no lost acknowledged event and no command run twice; with mutants that must be caught.
 *
 * May import: anything in src/. Nothing outside src/testing/ may import it.
 */
export * from './simulator.js'

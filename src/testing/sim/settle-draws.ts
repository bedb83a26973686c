/**
 * The simulator's per-seed draws for the promise-settling class of bugs (issue 12, defects
 * 2 and 3): whether followers forward proposals to the leader, and whether oversized
 * proposals are mixed into the clients' batches.
 *
 * They come from their own stream (derived from the seed, not from the run's random), so
 * adding them left every other draw of a seed (cluster size, faults, timings, workload)
 * as it was.
 */
import { SeededRandom } from '../../util/random.js'

export const SETTLE_DRAW_DEFAULTS = {
  /** Share of seeds whose followers forward proposals (forwardProposals: true). */
  forwardShare: 0.5,
  /** Share of seeds that mix oversized proposals into the clients' batches. */
  oversizeShare: 0.3,
  /** In those seeds, the chance that a client's write is joined by an oversized one in the same turn. */
  oversizeChance: 0.2,
  /**
   * maxProposalBytes of the nodes in those seeds: small enough that an oversized proposal
   * costs little memory, far above any workload command.
   */
  maxProposalBytes: 64 * 1024
} as const

/** Mixed into the seed so this stream differs from the run's own `SeededRandom(seed)`. */
const STREAM = 0x5e771e05

export interface SettleDraws {
  readonly forwardProposals: boolean
  /** Chance per client write of an oversized companion proposal; 0 when not drawn. */
  readonly oversizeChance: number
  /** The nodes' maxProposalBytes, or undefined for the node default. */
  readonly maxProposalBytes: number | undefined
  /** For the choices made while the run goes (which writes get an oversized companion). */
  readonly random: SeededRandom
}

/** The draws of `seed`; a fixed option wins over its draw (the other draw is unchanged). */
export function drawSettle (seed: number, fixed: { forwardProposals?: boolean, oversizedProposals?: boolean } = {}): SettleDraws {
  const r = new SeededRandom((seed ^ STREAM) >>> 0)
  const forward = r.next() < SETTLE_DRAW_DEFAULTS.forwardShare
  const oversize = r.next() < SETTLE_DRAW_DEFAULTS.oversizeShare
  const mixed = fixed.oversizedProposals ?? oversize
  return {
    forwardProposals: fixed.forwardProposals ?? forward,
    oversizeChance: mixed ? SETTLE_DRAW_DEFAULTS.oversizeChance : 0,
    maxProposalBytes: mixed ? SETTLE_DRAW_DEFAULTS.maxProposalBytes : undefined,
    random: r.fork()
  }
}

/** A command one byte over `maxProposalBytes`. */
export function oversizedCommand (maxProposalBytes: number): Uint8Array {
  return new Uint8Array(maxProposalBytes + 1)
}

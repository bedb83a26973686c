/**
 * Which transponder an agent talks through: rendezvous (highest-random-weight) hashing over
 * the live transponders. Every agent computes its own ranking from the same list, so no
 * directory has to be replicated: when a transponder dies only its own agents move (each to
 * its next-ranked live transponder), and the rest stay where they are.
 *
 * The weight is a 32-bit FNV-1a of "agent\0transponder" passed through a murmur3 finaliser
 * (FNV alone clusters on ids that differ in their last character, like node-0001..node-5000).
 */
import { QuorateError } from '../errors.js'

function weight (agent: string, transponder: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < agent.length; i++) h = Math.imul(h ^ agent.charCodeAt(i), 0x01000193)
  h = Math.imul(h ^ 0, 0x01000193)
  for (let i = 0; i < transponder.length; i++) h = Math.imul(h ^ transponder.charCodeAt(i), 0x01000193)
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The transponder `agent` should use among `transponders` (ties broken by id). Throws TRANSPONDER_NO_TRANSPONDER if empty. */
export function homeTransponder (agent: string, transponders: Iterable<string>): string {
  let best: string | undefined
  let bestWeight = -1
  for (const t of transponders) {
    const w = weight(agent, t)
    if (w > bestWeight || (w === bestWeight && best !== undefined && t < best)) { best = t; bestWeight = w }
  }
  if (best === undefined) throw new QuorateError('TRANSPONDER_NO_TRANSPONDER', `No transponder for agent "${agent}": the list is empty`, { details: { agent } })
  return best
}

/** Every transponder in `agent`'s preference order: the agent tries them in turn when its home is unreachable. */
export function rankTransponders (agent: string, transponders: Iterable<string>): string[] {
  const scored = [...transponders].map((t) => ({ t, w: weight(agent, t) }))
  scored.sort((a, b) => b.w - a.w || (a.t < b.t ? -1 : a.t > b.t ? 1 : 0))
  return scored.map((s) => s.t)
}

/**
 * The station's view: agents grouped by home over a changing set of live transponders.
 * `setLive` answers which agents moved, so a caller can count re-homes (only the dead
 * transponders' agents move: the minimal-disruption property tests check).
 */
export class TransponderAssignment {
  readonly #agents: string[]
  #live: string[] = []
  readonly #home = new Map<string, string>()

  constructor (agents: Iterable<string>, live: Iterable<string>) {
    this.#agents = [...agents]
    this.setLive(live)
  }

  get live (): readonly string[] { return this.#live }

  /** The agent's home among the live transponders, or undefined if it is not one of the agents or none is live. */
  homeOf (agent: string): string | undefined { return this.#home.get(agent) }

  /** Agents whose home is `transponder`. */
  agentsOf (transponder: string): string[] {
    return this.#agents.filter((a) => this.#home.get(a) === transponder)
  }

  /** Replaces the live set; returns the agents whose home changed. */
  setLive (live: Iterable<string>): string[] {
    this.#live = [...new Set(live)].sort()
    const moved: string[] = []
    for (const a of this.#agents) {
      const before = this.#home.get(a)
      const after = this.#live.length === 0 ? undefined : homeTransponder(a, this.#live)
      if (after === undefined) this.#home.delete(a)
      else this.#home.set(a, after)
      if (before !== after) moved.push(a)
    }
    return moved
  }
}

/**
 * Randomness is injected (election timeouts, simulator faults). `SeededRandom` is a small,
 * fast PRNG (sfc32) so one 32-bit seed reproduces a run exactly on every platform.
 */
export interface Random {
  /** A float in [0, 1). */
  next (): number
}

/** Integer in [lo, hi). */
export function randomInt (random: Random, lo: number, hi: number): number {
  return lo + Math.floor(random.next() * (hi - lo))
}

export class SeededRandom implements Random {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor (seed: number) {
    // splitmix32 to spread a small seed over the four words of state
    let s = seed >>> 0
    const mix = (): number => {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    this.#a = mix(); this.#b = mix(); this.#c = mix(); this.#d = mix()
    for (let i = 0; i < 12; i++) this.nextUint32()
  }

  nextUint32 (): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0
    this.#d = (this.#d + 1) >>> 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) >>> 0
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0
    this.#c = (this.#c + t) >>> 0
    return t
  }

  next (): number { return this.nextUint32() / 4294967296 }

  /** A new independent generator derived from this one (for per-node streams). */
  fork (): SeededRandom { return new SeededRandom(this.nextUint32()) }
}

/** Math.random, for production use where reproducibility is not needed. */
export const systemRandom: Random = { next: () => Math.random() }

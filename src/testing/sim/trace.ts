/**
 * The simulation trace: every delivered message, role / commit / apply change, fault and
 * client event, with its virtual time, folded into a hash. Two runs of one seed must produce
 * the same hash; a differing hash means something escaped the seed (a real timer, Math.random,
 * iteration over an unordered structure).
 */
import { createHash } from 'node:crypto'
import type { Hash } from 'node:crypto'

export class SimTrace {
  readonly #hash: Hash = createHash('sha256')
  readonly #log: ((line: string) => void) | undefined
  #events = 0

  /** @param log receives each event as a readable line (verbose mode) */
  constructor (log?: (line: string) => void) {
    this.#log = log
  }

  get events (): number { return this.#events }

  /** Records one event at virtual time `at`. */
  record (at: number, line: string): void {
    this.#events++
    const text = `${formatTime(at)} ${line}`
    this.#hash.update(text)
    this.#hash.update('\n')
    if (this.#log !== undefined) this.#log(text)
  }

  /** The hash of everything recorded (16 hex digits). Call once, at the end. */
  digest (): string {
    return this.#hash.digest('hex').slice(0, 16)
  }
}

/** Virtual milliseconds with microsecond precision, fixed width for readable logs. */
export function formatTime (ms: number): string {
  return ms.toFixed(3).padStart(10)
}

/** Folds several run hashes into one (order matters). */
export function combineHashes (hashes: readonly string[]): string {
  const h = createHash('sha256')
  for (const x of hashes) h.update(x)
  return h.digest('hex').slice(0, 16)
}

/** A 32-bit FNV-1a hash of bytes (cheap fingerprints of commands for the checkers). */
export function fnv1a (bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

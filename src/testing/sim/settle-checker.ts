/**
 * Liveness of promises, not just of leadership: every proposal and read a client hands to a
 * node must settle (resolve or reject) within a bound once the faults are healed, and
 * promptly once its node is closed (NODE_CLOSED). A promise the node forgot (issue 12,
 * defect 2: forwarded proposals nobody rejected) shows up here as an operation past its
 * deadline, named with its node and the rule it broke.
 *
 * Also the rule for oversized proposals mixed into batches (defect 3): only the oversized
 * proposal may fail with RAFT_PROPOSAL_TOO_LARGE, and it must fail with exactly that (or a
 * code saying the node is not open).
 *
 * Deadlines are checked after every step (`check`) and once more at the end (`finish`).
 */
import type { NodeId } from '../../raft/types.js'

export interface SettleCheckerOptions {
  readonly now: () => number
  /** An operation on a node that closes settles within this many ms of the close. */
  readonly closeBoundMs: number
  /** An operation pending when the faults are healed settles within this many ms of the heal. */
  readonly healBoundMs: number
  /** Told about each broken rule once (the simulator records it as a violation). */
  readonly report: (rule: 'promise-settle' | 'oversized-proposal', node: NodeId, message: string) => void
}

interface Tracked {
  readonly node: NodeId
  readonly describe: string
  /** Virtual time by which it must have settled, or Infinity while no rule bounds it. */
  deadline: number
  /** The bound and why it applies: 'its node closed at 123.0ms'. */
  boundMs: number
  reason: string
}

/** Codes an oversized proposal may end with: its own, or the node not being open to check it. */
const OVERSIZE_OUTCOMES = new Set(['RAFT_PROPOSAL_TOO_LARGE', 'NODE_NOT_OPEN', 'NODE_CLOSED', 'NODE_FAILED'])

export class SettleChecker {
  readonly #o: SettleCheckerOptions
  readonly #pending = new Set<Tracked>()
  /** Oversized proposals refused with RAFT_PROPOSAL_TOO_LARGE (coverage). */
  oversizedRefused = 0

  constructor (options: SettleCheckerOptions) {
    this.#o = options
  }

  /** A client handed an operation to `node`; call the returned function when its promise settles. */
  invoked (node: NodeId, describe: string): () => void {
    const t: Tracked = { node, describe, deadline: Infinity, boundMs: 0, reason: '' }
    this.#pending.add(t)
    return () => { this.#pending.delete(t) }
  }

  /** `node` stopped (crash, retirement): what it holds must fail with NODE_CLOSED now. */
  nodeClosed (node: NodeId): void {
    this.#bound((t) => t.node === node, this.#o.closeBoundMs, 'its node closed')
  }

  /** Every fault was healed: what is pending must settle within the heal bound. */
  healed (): void {
    this.#bound(() => true, this.#o.healBoundMs, 'the faults were healed')
  }

  /** An ordinary client write failed with `code`: never for a neighbour's size. */
  observeWriteFailure (node: NodeId, describe: string, code: string | null): void {
    if (code === 'RAFT_PROPOSAL_TOO_LARGE') {
      this.#o.report('oversized-proposal', node, `${describe} (a small command) failed with RAFT_PROPOSAL_TOO_LARGE: an oversized proposal in its batch failed it too`)
    }
  }

  /** An oversized proposal settled: `code` null means it was accepted. */
  observeOversized (node: NodeId, code: string | null): void {
    if (code === 'RAFT_PROPOSAL_TOO_LARGE') this.oversizedRefused++
    if (code === null || !OVERSIZE_OUTCOMES.has(code)) {
      this.#o.report('oversized-proposal', node, `an oversized proposal ${code === null ? 'was accepted' : `failed with ${code}`} instead of RAFT_PROPOSAL_TOO_LARGE`)
    }
  }

  /** Reports every operation past its deadline (each once). */
  check (): void {
    const now = this.#o.now()
    for (const t of this.#pending) {
      if (now < t.deadline) continue
      this.#pending.delete(t)
      this.#o.report('promise-settle', t.node, `${t.describe} on ${t.node} has not settled within ${t.boundMs}ms after ${t.reason}`)
    }
  }

  /** End of the run: deadlines that fall on its last instant count too. */
  finish (): void { this.check() }

  #bound (which: (t: Tracked) => boolean, boundMs: number, what: string): void {
    const now = this.#o.now()
    for (const t of this.#pending) {
      if (!which(t) || t.deadline <= now + boundMs) continue
      t.deadline = now + boundMs
      t.boundMs = boundMs
      t.reason = `${what} at ${now.toFixed(1)}ms`
    }
  }
}

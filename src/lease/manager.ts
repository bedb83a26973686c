/**
 * LeaseManager: one per node. It watches the node's lease table (to judge expiry from when
 * this node applied each grant) and grants leases to holders on this node.
 *
 * Acquire: a read barrier makes this node's table at least as new as every grant committed
 * before the call; the node judges the current record (ExpiryJudge); only if it judges the
 * previous holder gone does it propose the grant, carrying the record version it judged.
 * The table grants only if the version is unchanged when the command applies, so a judgment
 * overtaken by a renewal or another grant fails the same way on every replica. Any node may
 * judge: each one counts from its own application of the grant, which follows the holder's send.
 *
 * @example
 * const router = new StateMachineRouter()
 * const table = router.mount('lease', new LeaseTable())
 * const node = new RaftNode({ id: 'n1', voters, storage, transport, stateMachine: router, forwardProposals: true })
 * await node.open()
 * const leases = new LeaseManager({ node: table.bind(node), table: table.machine, maxDrift: 0.01 })
 * const lease = await leases.acquire('coordinator', { holder: 'n1', durationMs: 5_000 })
 * lease.signal.addEventListener('abort', () => stopWork())
 */
import { QuorateError } from '../errors.js'
import { systemClock } from '../util/clock.js'
import type { Clock } from '../util/clock.js'
import { check } from '../util/validate.js'
import { encodeLeaseCommand } from './command.js'
import { linked } from './deadline.js'
import type { LeaseCommand } from './command.js'
import { LeaseHolder } from './holder.js'
import type { HolderContext } from './holder.js'
import { ExpiryJudge } from './judge.js'
import type { Judgment } from './judge.js'
import { checkDuration, checkName, resolveLeaseManagerOptions } from './options.js'
import type { LeaseManagerOptions, ResolvedLeaseManagerOptions } from './options.js'
import type { LeaseOutcome, LeaseRecord } from './table.js'

export interface AcquireOptions {
  /** Who asks; unique to one party (two holder objects must never share an id). */
  holder: string
  /** Lease duration in milliseconds, at most maxLeaseDurationMs. @default the manager's defaultDurationMs */
  durationMs?: number
  /** Aborts the attempt (the grant may still be applied; it then lapses after its duration). */
  signal?: AbortSignal
}

export class LeaseManager {
  readonly #options: ResolvedLeaseManagerOptions
  readonly #judge: ExpiryJudge
  readonly #holders = new Set<LeaseHolder>()
  readonly #context: HolderContext
  readonly #unsubscribe: () => void
  #closed = false

  constructor (options: LeaseManagerOptions) {
    this.#options = resolveLeaseManagerOptions(options, systemClock)
    const { clock, table, maxDrift, maxLeaseDurationMs } = this.#options
    this.#judge = new ExpiryJudge(clock, maxDrift, maxLeaseDurationMs)
    for (const record of table.records()) this.#judge.learn(record)
    this.#unsubscribe = table.onChange((record) => { this.#judge.learn(record) })
    this.#context = {
      clock,
      renewFraction: this.#options.renewFraction,
      safetyMarginFraction: this.#options.safetyMarginFraction,
      propose: async (command, signal) => await this.#propose(command, signal),
      ended: (holder) => { this.#holders.delete(holder) }
    }
  }

  /** The id of the node this manager grants through. */
  get nodeId (): string { return this.#options.node.id }

  /** The clock leases are judged and counted on. */
  get clock (): Clock { return this.#options.clock }

  /** Duration of an acquire that names none. */
  get defaultDurationMs (): number { return this.#options.defaultDurationMs }

  /** Local clock time before which this node grants no lease whose holder may be live (the restart wait). */
  get readyAt (): number { return this.#judge.readyAt }

  /** This node's applied record of `name` (not linearizable: follow `node.read()` for that). */
  get (name: string): LeaseRecord | undefined { return this.#options.table.get(name) }

  /** This node's current judgment of whether `name` could be granted. */
  judge (name: string): Judgment { return this.#judge.judge(this.#options.table.get(name)) }

  /**
   * Acquires `name` for `options.holder`. Resolves with a LeaseHolder whose lease counts from
   * the moment the grant was proposed. Rejects LEASE_HELD or LEASE_NOT_READY (details:
   * holder, token, retryAfterMs) when this node judges the previous holder may still hold
   * it, LEASE_EXPIRED if the grant came back too late to be of use, or with the Raft error
   * (RAFT_NOT_LEADER, RAFT_TIMEOUT, ABORTED, ...) of the attempt.
   */
  async acquire (name: string, options: AcquireOptions): Promise<LeaseHolder> {
    this.#assertOpen()
    const A = 'LeaseManager.acquire'
    check(typeof options === 'object' && options !== null, A, '(options)', 'an object', options)
    checkName(A, 'name', name)
    checkName(A, 'holder', options.holder)
    const durationMs = options.durationMs ?? this.#options.defaultDurationMs
    checkDuration(A, 'durationMs', durationMs, this.#options.maxLeaseDurationMs)
    // Our own signal, detached when this attempt ends: RaftNode.read leaves its listener on the caller's signal.
    const attempt = linked(options.signal)
    try {
      return await this.#acquire(name, options.holder, durationMs, attempt.signal)
    } finally {
      attempt.done()
    }
  }

  async #acquire (name: string, holder: string, durationMs: number, signal: AbortSignal): Promise<LeaseHolder> {
    const { node, table, clock } = this.#options
    await node.read({ signal })
    this.#assertOpen()
    const record = table.get(name)
    const judgment = this.#judge.judge(record)
    if (!judgment.grantable) {
      const why = judgment.code === 'LEASE_HELD' ? `may still be held by ${record!.holder!}` : 'cannot be granted by a node that restarted less than one maximum lease duration ago'
      throw new QuorateError(judgment.code, `lease ${JSON.stringify(name)} ${why}`, {
        details: { name, holder: record!.holder, token: record!.token, retryAfterMs: judgment.retryAfterMs }
      })
    }
    const sentAt = clock.now()
    const outcome = await this.#propose({ op: 'acquire', name, holder, durationMs, expectVersion: record?.version ?? 0 }, signal)
    if (!outcome.ok) {
      throw new QuorateError('LEASE_HELD', `lease ${JSON.stringify(name)} was granted or renewed while this grant was proposed`, {
        details: { name, holder: outcome.record?.holder ?? null, token: outcome.record?.token ?? 0 }
      })
    }
    const lease = new LeaseHolder(this.#context, { name, holder, token: outcome.record.token, durationMs, sentAt })
    if (!lease.valid || this.#closed) {
      // Free the name for others; the outcome does not matter to this caller.
      this.#propose({ op: 'release', name, holder: lease.holder, token: lease.token }, undefined).catch(() => {})
      throw new QuorateError('LEASE_EXPIRED', `lease ${JSON.stringify(name)} was granted after the holder's margin had passed`)
    }
    this.#holders.add(lease)
    return lease
  }

  /** Stops: every live holder's signal fires (NODE_CLOSED); no release is proposed. Idempotent. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribe()
    const reason = new QuorateError('NODE_CLOSED', 'the lease manager was closed')
    for (const holder of [...this.#holders]) holder.abandon(reason)
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  async #propose (command: LeaseCommand, signal: AbortSignal | undefined): Promise<LeaseOutcome> {
    const result = await this.#options.node.propose(encodeLeaseCommand(command), { signal })
    if (typeof result !== 'object' || result === null || typeof (result as LeaseOutcome).ok !== 'boolean') {
      throw new QuorateError('OPTIONS_INVALID', 'the node\'s state machine did not return a lease outcome: give the LeaseManager the node its LeaseTable is the state machine of, or route.bind(node) for a table mounted on a StateMachineRouter')
    }
    return result as LeaseOutcome
  }

  #assertOpen (): void {
    if (this.#closed) throw new QuorateError('NODE_NOT_OPEN', 'the lease manager is closed')
  }
}

/**
 * The recovery coordinator: one per tracking station, run by the supervisor that holds the
 * coordinator lease, with that lease's fencing token. It keeps no state of its own: it reads
 * the graph, takes the oldest untrimmed event (or the earliest due phase wake-up), lets the
 * rules decide (core.ts) and commits the decision as one fenced entry that also trims the
 * event; only then does it send the decision's commands (persist before send), each with the
 * fence and a deterministic id, and deletes each from the outbox once its agent acknowledged it.
 *
 * Invariants:
 * - Every graph write carries the fence; the first one (the takeover) raises the graph's
 *   fence to this token, so any write of an older coordinator is refused from then on.
 * - Before every effect (a commit, a send) `isLive()` is asked; once it says no (the lease
 *   lapsed by this process's own clock, or the supervisor killed it) nothing more is done.
 * - Batches: consecutive queued events are decided together and committed as one entry (at most
 *   `batchMaxEvents` events, about `batchMaxBytes` of ops), each decision exactly what it would
 *   have been alone (batch.ts: a decision that read what an earlier one of the batch writes
 *   starts the next batch). The entry is all or nothing: if it does not apply (a conflict, an
 *   event already trimmed, a refused change, an unknown outcome) nothing of it took effect, and
 *   its events are decided again one per entry, so a bad event is isolated (and, if its change
 *   is refused, recorded as refused) without losing or applying twice any other.
 * - An event leaves the queue only in the entry that records its decision, so a coordinator
 *   that dies at any point leaves every unhandled event to its successor; a decision whose
 *   commit outcome is unknown is decided again on a fresh view (and then, if it did commit,
 *   refused by the epoch's compare-and-set), and its commands keep their ids.
 * - On takeover every outbox entry is sent again (same ids: agents dedupe), and every known
 *   node gets a `status` command, which raises the agents' fences to this token early.
 */
import { setMaxListeners } from 'node:events'
import type { AgentCommand, AgentReply, CommandChannel, CommandFence } from '../agent/protocol.js'
import { decodeHaEvent } from '../agent/protocol.js'
import { QuorateError, isQuorateError } from '../errors.js'
import { Graph } from '../graph/client.js'
import type { Transaction } from '../graph/client.js'
import { ref } from '../graph/schema.js'
import type { Schema } from '../graph/schema.js'
import type { GraphView } from '../graph/view.js'
import type { ClientOptions } from '../graph/submit.js'
import type { StoredEvent } from '../graph/events.js'
import { nextChange, toResult, unlessRefused } from '../graph/submit.js'
import { coalesce } from '../graph/change.js'
import type { GraphOp } from '../graph/change.js'
import { encodeCommand } from '../graph/codec.js'
import type { GraphTransaction } from '../graph/codec.js'
import { deadline, linked, sleep } from '../lease/deadline.js'
import { systemClock } from '../util/clock.js'
import type { Clock, Timer } from '../util/clock.js'
import { check, checkFunction, checkInt, checkKnownKeys, checkMethods, checkObject } from '../util/validate.js'
import { BUILTIN_RULES } from './builtin-rules.js'
import { OUTBOX_PREFIX, commandOf, decide, outboxId, readEpoch, recordDecision, nextWake } from './core.js'
import type { EpochState, RecordOptions } from './core.js'
import { approxBytes, conflicts, trackReads, writeKeys } from './batch.js'
import type { Decision, Rule, RuleInput } from './rule.js'
import { EPOCH_ID, checkCoordinatorSchema } from './schema.js'
import type { HaSpec } from './schema.js'
import { resolveRecoverySettings } from './settings.js'
import type { RecoverySettings } from './settings.js'
import { coordinatorHooks } from './test-hooks.js'

export interface CoordinatorOptions extends ClientOptions {
  /** The graph's schema; it must include the coordinator's kinds (build it with coordinatorSchema()). */
  schema: Schema
  /** How commands reach the node agents. */
  channel: CommandChannel
  /** The coordinator lease and the token this coordinator acts under. */
  fence: CommandFence
  /** Who runs it (stored in the epoch record). @default 'coordinator' */
  holder?: string
  /** Asked before every effect; false ends the coordinator (its lease lapsed, or it was killed). @default () => true */
  isLive?: () => boolean
  /** The rules, run in this order. @default BUILTIN_RULES */
  rules?: readonly Rule[]
  /** The built-in rules' policy. @default RECOVERY_DEFAULTS */
  settings?: Partial<RecoverySettings>
  /** Timers (monotonic). @default systemClock */
  clock?: Clock
  /** Decision records kept in the graph. @default 1000 */
  decisionHistory?: number
  /** One command attempt waits this long for its reply, ms. @default 5000 */
  commandTimeoutMs?: number
  /** One commit waits this long, ms (then its outcome is unknown and the input is decided again). @default 5000 */
  commitTimeoutMs?: number
  /** Pause after a failed commit or send before trying again, ms. @default 200 */
  retryMs?: number
  /** Most events decided in one graph entry; 1 turns batching off. @default 64 */
  batchMaxEvents?: number
  /** Most bytes of graph ops (approximately, as encoded) in one entry; a single decision may exceed it. @default 262144 */
  batchMaxBytes?: number
}

export const COORDINATOR_DEFAULTS = { holder: 'coordinator', decisionHistory: 1000, commandTimeoutMs: 5000, commitTimeoutMs: 5000, retryMs: 200, batchMaxEvents: 64, batchMaxBytes: 256 * 1024 } as const

const KEYS = ['machine', 'submit', 'barrier', 'now', 'schema', 'channel', 'fence', 'holder', 'isLive', 'rules', 'settings', 'clock', 'decisionHistory', 'commandTimeoutMs', 'commitTimeoutMs', 'retryMs', 'batchMaxEvents', 'batchMaxBytes']

export interface CoordinatorStats {
  /** Decisions committed by this coordinator. */
  readonly decisions: number
  /** Command attempts sent (resends included). */
  readonly sent: number
  /** Commands acknowledged by their agents. */
  readonly acknowledged: number
  /** Graph entries that committed decisions (fewer than decisions when batched). */
  readonly decisionEntries: number
}

/** A command to send; `outboxKey`: its outbox entry's key (acknowledged or retried), none for a status probe. */
interface Order { readonly node: string, readonly command: AgentCommand, readonly outboxKey: string | undefined }

/** An input taken from the queue (`index`: its queue index; -1 for a wake-up), decoded only when decided. */
interface Pending { readonly input: () => RuleInput, readonly index: number }
/** A decision taken and recorded into its own transaction (`ops`: that transaction's, when batched). */
interface Prepared { readonly decision: Decision, readonly tx: Transaction<HaSpec>, readonly ops?: readonly GraphOp[], readonly index?: number }

export class Coordinator {
  readonly fence: CommandFence
  readonly holder: string
  readonly #o: CoordinatorOptions
  readonly #graph: Graph<HaSpec>
  readonly #rules: readonly Rule[]
  readonly #settings: RecoverySettings
  readonly #clock: Clock
  readonly #now: () => number
  readonly #isLive: () => boolean
  readonly #hooks
  /** Outbox entries with a send in flight, or waiting for their retry time (monotonic). */
  readonly #sending = new Map<string, number>()
  /** Acknowledged commands whose outbox entries are still to be deleted. */
  readonly #acked = new Set<string>()
  readonly #pings: Array<() => void> = []
  #poke: (() => void) | null = null
  #idle = false
  #running = false
  #fatal: QuorateError | null = null
  #stats = { decisions: 0, sent: 0, acknowledged: 0, decisionEntries: 0 }
  /** Events still to be decided one per entry, after a batch that did not apply. */
  #singles = 0
  /**
   * The events cursor: every queued event with a smaller index was handled by this coordinator
   * (the queue is in commit order and an event leaves it only with its decision). Starts at 0:
   * a new coordinator reads every untrimmed event.
   */
  #cursor = 0

  constructor (options: CoordinatorOptions) {
    const C = 'CoordinatorOptions'
    checkObject(options, C, '(options)')
    checkKnownKeys(options, C, KEYS)
    checkCoordinatorSchema(options.schema, C)
    checkMethods(options.channel, C, 'channel', 'a CommandChannel', ['send'])
    checkObject(options.fence, C, 'fence')
    check(typeof options.fence.lease === 'string' && options.fence.lease.length > 0, C, 'fence.lease', 'a non-empty string', options.fence.lease)
    checkInt(options.fence.token, C, 'fence.token', 1)
    checkFunction(options.isLive, C, 'isLive', true)
    if (options.clock !== undefined) checkMethods(options.clock, C, 'clock', 'a Clock', ['now', 'setTimeout', 'clearTimeout'])
    for (const k of ['decisionHistory', 'commandTimeoutMs', 'commitTimeoutMs', 'retryMs', 'batchMaxEvents', 'batchMaxBytes'] as const) if (options[k] !== undefined) checkInt(options[k], C, k, 1)
    if (options.holder !== undefined) check(typeof options.holder === 'string' && options.holder.length > 0, C, 'holder', 'a non-empty string', options.holder)
    const rules = options.rules ?? BUILTIN_RULES
    check(Array.isArray(rules), C, 'rules', 'an array of rules', rules)
    const names = new Set<string>()
    for (const r of rules) {
      check(typeof r === 'object' && r !== null && typeof r.name === 'string' && r.name.length > 0 && !r.name.includes(':') && Array.isArray(r.on) && typeof r.decide === 'function',
        C, 'rules', 'rules { name (no ":"), on: event types, decide(ctx) }', r)
      check(!names.has(r.name), C, 'rules', 'rules with distinct names', r.name)
      names.add(r.name)
    }
    this.#o = options
    this.#rules = rules
    this.#settings = resolveRecoverySettings(options.settings, `${C}.settings`)
    this.#clock = options.clock ?? systemClock
    this.#now = options.now ?? Date.now
    this.#isLive = options.isLive ?? (() => true)
    this.fence = { lease: options.fence.lease, token: options.fence.token }
    this.holder = options.holder ?? COORDINATOR_DEFAULTS.holder
    this.#hooks = coordinatorHooks.of(options)
    this.#graph = new Graph(options.schema as unknown as Schema<HaSpec>, { machine: options.machine, submit: options.submit, ...(options.barrier === undefined ? {} : { barrier: options.barrier }), now: this.#now })
  }

  get stats (): CoordinatorStats { return { ...this.#stats } }

  /** True while `run` is running. */
  get running (): boolean { return this.#running }

  /**
   * Resolves at the loop's next step (at once while it waits for work): the supervisor's
   * liveness probe. A coordinator blocked inside a step does not answer.
   */
  async ping (signal?: AbortSignal): Promise<void> {
    if (this.#idle || !this.#running) return
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { reject(new QuorateError('ABORTED', 'ping aborted')) }
      if (signal?.aborted === true) { onAbort(); return }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#pings.push(() => { signal?.removeEventListener('abort', onAbort); resolve() })
    })
  }

  /**
   * Runs until `signal` fires (resolves), or until it must stop: a newer coordinator fenced it
   * (rejects LEASE_FENCED), `isLive()` said no (COORDINATOR_STOPPED), or a failure (it crashed).
   * Run once per instance.
   */
  async run (signal: AbortSignal): Promise<void> {
    if (this.#running) throw new QuorateError('COORDINATOR_STOPPED', 'Coordinator.run: already running (create a new coordinator per run)')
    this.#running = true
    const own = linked(signal)
    // Every send in flight listens to it (through its deadline): many at once are expected.
    setMaxListeners(0, own.signal)
    try {
      await this.#takeover(own.signal)
      while (!own.signal.aborted) {
        this.#answerPings()
        await this.#hooks.beforeStep?.()
        if (own.signal.aborted) break
        if (this.#fatal !== null) throw this.#fatal
        if (await this.#step(own.signal)) continue
        await this.#idleUntilWork(own.signal)
      }
    } catch (err) {
      if (!(own.signal.aborted && isQuorateError(err, 'ABORTED'))) throw err
    } finally {
      own.abort(new QuorateError('ABORTED', 'coordinator stopped'))
      this.#running = false
      this.#answerPings()
    }
  }

  #answerPings (): void { for (const p of this.#pings.splice(0)) p() }

  #assertLive (): void {
    if (!this.#isLive()) throw new QuorateError('COORDINATOR_STOPPED', `coordinator (token ${this.fence.token}) may no longer act: its lease lapsed or it was stopped`)
  }

  get #view (): GraphView<HaSpec> { return this.#graph.local() }

  /** The takeover: a linearizable read, then the fenced epoch write that raises the graph's fence to this token. */
  async #takeover (signal: AbortSignal): Promise<void> {
    for (;;) {
      if (this.#o.barrier !== undefined) await this.#graph.read({ signal })
      const epoch = readEpoch(this.#view)
      if (epoch.token > this.fence.token) throw fenced(this.fence.token, epoch.token)
      const tx = this.#graph.transaction().fence(this.fence.lease, this.fence.token).expect(EPOCH_ID, epoch.version)
        .put(ref('ha.epoch', EPOCH_ID), { token: this.fence.token, holder: this.holder, seq: epoch.seq })
      if (await this.#commit(tx, signal)) break
    }
    // Raise every agent's fence early, so a deposed coordinator's late command is refused even before we command that agent.
    const orders: Order[] = []
    for (const node of this.#view.byKind('ha.node')) {
      if (node.fields.state !== 'dead') orders.push({ node: node.id, command: { kind: 'status', id: `epoch:${this.fence.token}:${node.id}`, fence: this.fence }, outboxKey: undefined })
    }
    this.#sendAll(orders, signal)
  }

  /** Commits (a transaction, or a submission of its own); true if it applied. Conflicts and unknown outcomes answer false (decide again on a fresh view). */
  async #commit (tx: Transaction<HaSpec> | ((o: { signal: AbortSignal }) => Promise<unknown>), signal: AbortSignal): Promise<boolean> {
    this.#assertLive()
    const limit = deadline(this.#clock, this.#o.commitTimeoutMs ?? COORDINATOR_DEFAULTS.commitTimeoutMs, 'commit', signal)
    try {
      await (typeof tx === 'function' ? tx({ signal: limit.signal }) : tx.commit({ signal: limit.signal }))
      return true
    } catch (err) {
      if (signal.aborted) throw err
      if (isQuorateError(err, 'LEASE_FENCED')) throw fenced(this.fence.token, Number(err.info?.highest ?? 0), err)
      if (isQuorateError(err, 'GRAPH_CONFLICT') || isQuorateError(err, 'EVENTS_NOT_FOUND')) {
        if (this.#o.barrier !== undefined) await this.#graph.read({ signal }).catch(() => {})
        return false
      }
      if (isQuorateError(err) && (err.code.startsWith('GRAPH_') || err.code === 'COORDINATOR_RULE_INVALID')) throw err
      await sleep(this.#clock, this.#o.retryMs ?? COORDINATOR_DEFAULTS.retryMs, signal)
      return false
    } finally {
      limit.done()
    }
  }

  /** One unit of work: acknowledgements, the next input, or outbox sends. False when there was nothing to do. */
  async #step (signal: AbortSignal): Promise<boolean> {
    if (this.#acked.size > 0) {
      const ids = [...this.#acked]
      const tx = this.#graph.transaction().fence(this.fence.lease, this.fence.token)
      for (const id of ids) tx.delete(ref('ha.outbox', outboxId(id)))
      if (await this.#commit(tx, signal)) for (const id of ids) { this.#acked.delete(id); this.#sending.delete(id) }
      return true
    }
    const pending = this.#nextInputs()
    if (pending.length > 0) {
      await this.#decideAndCommit(pending, signal)
      return true
    }
    return this.#sendOutbox(signal)
  }

  /** The next inputs: up to a batch of queued events (one while `#singles`), else the earliest due wake-up. */
  #nextInputs (): Pending[] {
    const max = this.#singles > 0 ? 1 : (this.#o.batchMaxEvents ?? COORDINATOR_DEFAULTS.batchMaxEvents)
    const heads = this.#o.machine.events.list(this.#cursor, max)
    if (heads.length > 0) return heads.map((head) => ({ input: () => this.#eventInput(head), index: head.index }))
    const wake = nextWake(this.#view)
    if (wake === undefined || wake.at > this.#now()) return []
    const input: RuleInput = { kind: 'wake', rule: wake.rule, subject: wake.subject, at: wake.at }
    return [{ input: () => input, index: -1 }]
  }

  #eventInput (head: StoredEvent): RuleInput {
    const event = decodeHaEvent(head.payload)
    // A foreign or damaged payload is still decided (by no rule) so that it is trimmed and recorded.
    const at = event instanceof QuorateError ? this.#o.machine.time : event.at
    return event instanceof QuorateError
      ? { kind: 'event', id: head.id, event: { type: 'resource-health', node: '?', resource: '?', healthy: false, detail: event.message.slice(0, 200), at }, at }
      : { kind: 'event', id: head.id, event, at }
  }

  #decideInto (view: GraphView<HaSpec>, input: RuleInput, epoch: EpochState): Prepared {
    const tx = this.#graph.transaction()
    const decision = decide(view, input, tx, { rules: this.#rules, settings: this.#settings, fence: this.fence })
    recordDecision(tx, decision, epoch, this.#recordOptions)
    return { decision, tx }
  }

  get #recordOptions (): RecordOptions {
    return { fence: this.fence, holder: this.holder, history: this.#o.decisionHistory ?? COORDINATOR_DEFAULTS.decisionHistory }
  }

  async #decideAndCommit (pending: readonly Pending[], signal: AbortSignal): Promise<void> {
    const view = this.#view
    const epoch = readEpoch(view)
    if (epoch.token > this.fence.token) throw fenced(this.fence.token, epoch.token)
    const batch = pending.length === 1 || this.#hooks.trimBeforeChange === true ? [] : this.#prepareBatch(pending, view, epoch)
    if (batch.length > 1) await this.#commitBatch(batch, epoch, signal)
    else await this.#decideOne(pending[0]!, batch[0], view, epoch, signal)
  }

  /**
   * Decides `pending` in order on `view` while each decision read nothing an earlier one of
   * the batch writes (batch.ts) and the ops stay within the byte bound.
   */
  #prepareBatch (pending: readonly Pending[], view: GraphView<HaSpec>, epoch: EpochState): Prepared[] {
    const out: Prepared[] = []
    const writes = new Set<string>()
    const maxBytes = this.#o.batchMaxBytes ?? COORDINATOR_DEFAULTS.batchMaxBytes
    let bytes = 0
    for (const p of pending) {
      const reads = new Set<string>()
      const prepared = this.#decideInto(trackReads(view, reads), p.input(), { ...epoch, seq: epoch.seq + out.length })
      if (conflicts(reads, writes)) break
      const ops = prepared.tx.ops
      bytes += approxBytes(ops)
      if (out.length > 0 && bytes > maxBytes) break
      writeKeys(ops, view, writes)
      out.push({ ...prepared, ops, index: p.index })
    }
    return out
  }

  /** All of the batch in one entry, or (if it did not apply) its events one per entry next. */
  async #commitBatch (batch: readonly Prepared[], epoch: EpochState, signal: AbortSignal): Promise<void> {
    const ops: GraphOp[] = []
    const trim: string[] = []
    for (const [i, p] of batch.entries()) {
      const input = p.decision.input
      if (input.kind === 'event') trim.push(input.id)
      // MUTANT: the batch's last event is trimmed without its decision (change, record, commands).
      if (this.#hooks.batchDropsLast === true && i === batch.length - 1) continue
      ops.push(...p.ops!)
    }
    const command: GraphTransaction = { type: 'tx', time: Math.max(0, Math.floor(this.#now())), fence: { name: this.fence.lease, token: this.fence.token }, expect: [{ id: EPOCH_ID, version: epoch.version }], ops: coalesce(ops), trim }
    let committed = false
    try {
      committed = await this.#commit(async (o) => unlessRefused(toResult(await this.#o.submit(encodeCommand(command), o))), signal)
    } catch (err) {
      if (!isRuleChangeRefused(err)) throw err
    }
    if (!committed) {
      this.#singles = Math.max(this.#singles, batch.length)
      return
    }
    const kept = this.#hooks.batchDropsLast === true ? batch.slice(0, -1) : batch
    this.#stats.decisions += batch.length
    this.#stats.decisionEntries++
    this.#cursor = Math.max(this.#cursor, batch[batch.length - 1]!.index! + 1)
    this.#sendAll(kept.flatMap((p) => p.decision.commands.map((c) => ({ ...c, outboxKey: c.command.id }))), signal)
  }

  /** One input in one entry (with `prepared`, its decision already taken on `view`). */
  async #decideOne (p: Pending, prepared: Prepared | undefined, view: GraphView<HaSpec>, epoch: EpochState, signal: AbortSignal): Promise<void> {
    const input = prepared?.decision.input ?? p.input()
    const options = this.#recordOptions
    let tx: Transaction<HaSpec>
    let decision: Decision
    if (this.#hooks.trimBeforeChange === true && input.kind === 'event') {
      tx = this.#graph.transaction()
      decision = decide(view, input, tx, { rules: this.#rules, settings: this.#settings, fence: this.fence })
      // MUTANT: the event is trimmed in an entry of its own, before the change is committed.
      const trim = this.#graph.transaction().fence(this.fence.lease, this.fence.token).handles([input.id])
      if (!await this.#commit(trim, signal)) return
      await this.#hooks.afterTrim?.()
      recordDecision(tx, { ...decision, input: { kind: 'wake', rule: 'trimmed', subject: input.id, at: input.at } }, readEpoch(this.#view), options)
    } else ({ tx, decision } = prepared ?? this.#decideInto(view, input, epoch))
    let committed: boolean
    let commands = decision.commands
    try {
      committed = await this.#commit(tx, signal)
    } catch (err) {
      if (!isRuleChangeRefused(err)) throw err
      // The rules' change itself was refused (it names a missing resource, a wrong kind...):
      // retrying cannot help, so the input is recorded as refused and consumed, not left to
      // wedge the queue or crash-loop every coordinator that meets it.
      const refused: Decision = {
        ...decision,
        ops: [],
        commands: [],
        phases: input.kind === 'wake' ? [{ rule: input.rule, subject: input.subject, phase: null }] : [],
        notes: [...decision.notes, `refused by the graph: ${err.code}: ${err.message}`.slice(0, 500)]
      }
      const fallback = this.#graph.transaction()
      recordDecision(fallback, refused, epoch, options)
      commands = []
      committed = await this.#commit(fallback, signal)
    }
    if (!committed) return
    this.#stats.decisions++
    this.#stats.decisionEntries++
    if (this.#singles > 0 && input.kind === 'event') this.#singles--
    if (input.kind === 'event') this.#cursor = Math.max(this.#cursor, (this.#o.machine.events.get(input.id)?.index ?? p.index) + 1)
    // Persisted: send at once (the outbox keeps them for retries and for a successor).
    this.#sendAll(commands.map((c) => ({ ...c, outboxKey: c.command.id })), signal)
  }

  /** Sends every outbox entry not already in flight and due; true if any was sent. */
  #sendOutbox (signal: AbortSignal): boolean {
    const now = this.#clock.now()
    const orders: Order[] = []
    for (const entry of this.#view.byKind('ha.outbox')) {
      const id = entry.id.slice(OUTBOX_PREFIX.length)
      const due = this.#sending.get(id)
      if (due !== undefined && (due === Infinity || due > now)) continue
      // A command decided under an older token is sent under ours: the agent fences by the newest it saw.
      orders.push({ node: entry.fields.node, command: commandOf(entry.fields.command, id, this.fence), outboxKey: id })
    }
    this.#sendAll(orders, signal)
    return orders.length > 0
  }

  /** Sends `orders` in the background under one deadline: one timer and signal for the lot, not one per command. */
  #sendAll (orders: readonly Order[], signal: AbortSignal): void {
    if (orders.length === 0) return
    const limit = deadline(this.#clock, this.#o.commandTimeoutMs ?? COORDINATOR_DEFAULTS.commandTimeoutMs, 'command', signal)
    let open = orders.length
    const release = (): void => { if (--open === 0) limit.done() }
    for (const o of orders) this.#send(o.node, o.command, limit.signal, o.outboxKey, release)
  }

  /** One send in the background under `limit` (the batch's deadline); `outboxKey` set: acknowledge or schedule a retry. */
  #send (node: string, command: AgentCommand, limit: AbortSignal, outboxKey: string | undefined, release: () => void): void {
    try { this.#assertLive() } catch (err) { release(); this.#fatal ??= err as QuorateError; this.#wakeLoop(); return }
    if (outboxKey !== undefined) this.#sending.set(outboxKey, Infinity)
    this.#stats.sent++
    let reply: Promise<AgentReply>
    try { reply = this.#o.channel.send(node, command, { signal: limit }) } catch (err) { reply = Promise.reject(err) }
    reply.then((r) => {
      if (!r.ok && r.code === 'LEASE_FENCED') { this.#fatal ??= fenced(this.fence.token, 0); return }
      if (outboxKey === undefined) return
      if (r.ok || r.code === 'AGENT_COMMAND_INVALID') {
        // Refused as malformed: resending cannot help, so it leaves the outbox like an acknowledged one.
        this.#stats.acknowledged++
        this.#acked.add(outboxKey)
      } else this.#sending.set(outboxKey, this.#clock.now() + (this.#o.retryMs ?? COORDINATOR_DEFAULTS.retryMs))
    }, () => {
      if (outboxKey !== undefined) this.#sending.set(outboxKey, this.#clock.now() + (this.#o.retryMs ?? COORDINATOR_DEFAULTS.retryMs))
    }).finally(() => { release(); this.#wakeLoop() })
  }

  #wakeLoop (): void { const p = this.#poke; this.#poke = null; p?.() }

  /** Waits for a new event, the next wake-up or retry, a send finishing, or the signal. */
  async #idleUntilWork (signal: AbortSignal): Promise<void> {
    const now = this.#now()
    const wake = nextWake(this.#view)
    const mono = this.#clock.now()
    let retryIn = Infinity
    for (const due of this.#sending.values()) if (due !== Infinity) retryIn = Math.min(retryIn, due - mono)
    const delay = Math.min(wake === undefined ? Infinity : wake.at - now, retryIn)
    let timer: Timer | undefined
    const local = linked(signal)
    this.#idle = true
    this.#answerPings()
    try {
      await new Promise<void>((resolve) => {
        this.#poke = resolve
        if (Number.isFinite(delay)) timer = this.#clock.setTimeout(resolve, Math.max(1, delay))
        nextChange(this.#o.machine, local.signal).then(resolve, resolve)
      })
    } finally {
      this.#idle = false
      this.#poke = null
      local.abort(undefined)
      if (timer !== undefined) this.#clock.clearTimeout(timer)
    }
  }
}

/** A refusal of the ops themselves (not a conflict, a fence or a trim): deciding again changes nothing. */
function isRuleChangeRefused (err: unknown): err is QuorateError {
  return isQuorateError(err) && err.code.startsWith('GRAPH_') && err.code !== 'GRAPH_CONFLICT' && err.code !== 'GRAPH_COMMAND_INVALID' && err.code !== 'GRAPH_SNAPSHOT_INVALID'
}

function fenced (token: number, highest: number, cause?: unknown): QuorateError {
  return new QuorateError('LEASE_FENCED', `coordinator with token ${token} was superseded (a newer coordinator wrote with token ${highest})`, { details: { token, highest }, ...(cause === undefined ? {} : { cause }) })
}

/**
 * The coordinator's pure core: `decide` runs the rules on one input against a graph view and
 * returns the decision; `recordDecision` adds to the same transaction everything that makes
 * the decision durable and resumable — the phases, the outbox of commands to send, the
 * decision record, the epoch's next sequence number (compare-and-set on the epoch record, so
 * decisions are totally ordered and a stale view is refused), and the trim of the event.
 * No clock, no random, no I/O: one (view, input) gives one decision, which is what replay
 * and `simulate` rely on.
 *
 * Command ids: `<input key>#<n>` (the event's queue id, or the woken phase and its wake
 * time), so a rule decided again on redelivery orders the same ids and agents dedupe them.
 */
import type { CommandFence, AgentCommand } from '../agent/protocol.js'
import { QuorateError } from '../errors.js'
import { ref } from '../graph/schema.js'
import type { Transaction } from '../graph/client.js'
import type { GraphView } from '../graph/view.js'
import { EPOCH_ID } from './schema.js'
import type { HaSpec } from './schema.js'
import type { Decision, PhaseState, PhaseUpdate, Rule, RuleContext, RuleInput, RuleOutcome } from './rule.js'
import type { RecoverySettings } from './settings.js'

export const phaseId = (rule: string, subject: string): string => `phase:${rule}:${subject}`
export const OUTBOX_PREFIX = 'out:'
export const outboxId = (commandId: string): string => `${OUTBOX_PREFIX}${commandId}`

/**
 * An outbox entry's command field: the command without its id (the entry's key holds it) and
 * fence (every send carries the sender's own): a third of the bytes, and the outbox is the
 * bulk of what a coordinator writes. `commandOf` rebuilds the command to send.
 */
export function outboxCommand (command: AgentCommand): string {
  const { id: _id, fence: _fence, ...body } = command
  return JSON.stringify(body)
}

/** The command an outbox entry holds, as sent under `fence` (an entry written with id and fence reads the same). */
export function commandOf (stored: string, id: string, fence: CommandFence): AgentCommand {
  return { ...(JSON.parse(stored) as object), id, fence } as AgentCommand
}
export const decisionId = (seq: number): string => `decision:${String(seq).padStart(12, '0')}`

/** The key command ids derive from: equal for the same input decided twice. */
export function inputKey (input: RuleInput): string {
  return input.kind === 'event' ? `e:${input.id}` : `w:${input.rule}:${input.subject}@${input.at}`
}

/** A command id of at most 128 characters (the protocol's limit): long keys are hashed. */
export function commandId (input: RuleInput, n: number): string {
  const plain = `${inputKey(input)}#${n}`
  if (plain.length <= 128) return plain
  return `h:${hash(plain, 0x811c9dc5)}${hash(plain, 0x01000193)}#${n}`
}

function hash (s: string, seed: number): string {
  let h = seed >>> 0
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16).padStart(8, '0')
}

/** The stored phase of `rule` for `subject`, if any. */
export function readPhase (view: GraphView<HaSpec>, rule: string, subject: string): PhaseState | undefined {
  const r = view.get(ref('ha.phase', phaseId(rule, subject)))
  if (r === undefined) return undefined
  return { rule, subject, phase: r.fields.phase, data: JSON.parse(r.fields.data) as Record<string, unknown>, ...(r.fields.wakeAt === undefined ? {} : { wakeAt: r.fields.wakeAt }) }
}

/** Number of committed, unacknowledged commands. */
export function inFlightCount (view: GraphView<HaSpec>): number { return view.byKind('ha.outbox').length }

export interface DecideOptions {
  readonly rules: readonly Rule[]
  readonly settings: RecoverySettings
  readonly fence: CommandFence
}

/**
 * Runs every rule concerned with `input` on `view`, adding their changes to `tx`. Rules see
 * the view as it was before any of them (they do not see each other's changes). A rule that
 * throws is a bug: the decision records the error as a note and the rule's part is dropped,
 * so one broken rule cannot wedge the queue.
 */
export function decide (view: GraphView<HaSpec>, input: RuleInput, tx: Transaction<HaSpec>, options: DecideOptions): Decision {
  // Counted only if a rule asks (it walks the outbox): most decisions never do.
  let inFlight: number | undefined
  const rules: string[] = []
  const commands: Array<{ node: string, command: AgentCommand }> = []
  const phases: Array<PhaseUpdate & { rule: string }> = []
  const notes: string[] = []
  const graphIndex = view.appliedIndex
  for (const rule of options.rules) {
    if (input.kind === 'event' ? !rule.on.includes(input.event.type) : input.rule !== rule.name) continue
    const ctx: RuleContext = {
      view,
      input,
      now: input.at,
      event: input.kind === 'event' ? input.event : undefined,
      phase: (subject) => readPhase(view, rule.name, subject),
      get inFlight () { return (inFlight ??= inFlightCount(view)) },
      settings: options.settings
    }
    let outcome: RuleOutcome | undefined
    try {
      outcome = rule.decide(ctx)
      if (outcome === undefined) continue
      checkOutcome(rule.name, outcome)
      outcome.change?.(tx)
    } catch (err) {
      notes.push(`${rule.name}: rule failed: ${err instanceof Error ? err.message : String(err)}`)
      continue
    }
    rules.push(rule.name)
    if (outcome.note !== undefined) notes.push(`${rule.name}: ${outcome.note}`)
    for (const order of outcome.commands ?? []) {
      const command = { ...order.command, id: commandId(input, commands.length), fence: options.fence } as AgentCommand
      commands.push({ node: order.node, command })
    }
    for (const p of outcome.phases ?? []) phases.push({ ...p, rule: rule.name })
  }
  // A woken phase is consumed unless its rule stored it again: it must not wake forever.
  if (input.kind === 'wake' && !phases.some((p) => p.rule === input.rule && p.subject === input.subject)) {
    phases.push({ rule: input.rule, subject: input.subject, phase: null })
  }
  return { input, graphIndex, rules, ops: tx.ops, commands, phases, notes }
}

function checkOutcome (rule: string, o: RuleOutcome): void {
  const bad = (what: string): never => { throw new QuorateError('COORDINATOR_RULE_INVALID', `rule ${JSON.stringify(rule)}: ${what}`) }
  if (typeof o !== 'object' || o === null) bad('decide() must return an outcome object or undefined')
  if (o.change !== undefined && typeof o.change !== 'function') bad('change must be a function of the transaction')
  for (const c of o.commands ?? []) {
    if (typeof c?.node !== 'string' || c.node.length === 0 || typeof c.command !== 'object' || c.command === null) bad('each command needs a node and a command')
  }
  for (const p of o.phases ?? []) {
    if (typeof p?.subject !== 'string' || p.subject.length === 0 || (p.phase !== null && typeof p.phase !== 'string')) bad('each phase update needs a subject and a phase (or null)')
    if (p.wakeAt !== undefined && !Number.isFinite(p.wakeAt)) bad('wakeAt must be a finite number')
  }
}

export interface EpochState { readonly token: number, readonly seq: number, readonly version: number }

/** The epoch record as the view has it (seq: the next decision number). */
export function readEpoch (view: GraphView<HaSpec>): EpochState {
  const r = view.get(ref('ha.epoch', EPOCH_ID))
  return r === undefined ? { token: 0, seq: 1, version: 0 } : { token: r.fields.token, seq: r.fields.seq, version: r.version }
}

export interface RecordOptions {
  readonly fence: CommandFence
  readonly holder: string
  /** Decision records kept; older ones are deleted in the same transaction. */
  readonly history: number
}

/**
 * Makes `decision` durable in `tx`: fence, compare-and-set on the epoch, the epoch's next
 * sequence number, phases, outbox entries, the decision record (and the deletion of the one
 * that falls out of the history), and the trim of the event — all one entry.
 */
export function recordDecision (tx: Transaction<HaSpec>, decision: Decision, epoch: EpochState, options: RecordOptions): number {
  const seq = epoch.seq
  tx.fence(options.fence.lease, options.fence.token).expect(EPOCH_ID, epoch.version)
  tx.put(ref('ha.epoch', EPOCH_ID), { token: options.fence.token, holder: options.holder, seq: seq + 1 })
  for (const p of decision.phases) {
    const r = ref('ha.phase', phaseId(p.rule, p.subject))
    if (p.phase === null) tx.delete(r)
    else tx.put(r, { rule: p.rule, subject: p.subject, phase: p.phase, data: JSON.stringify(p.data ?? {}), ...(p.wakeAt === undefined ? {} : { wakeAt: p.wakeAt }) })
  }
  for (const c of decision.commands) tx.put(ref('ha.outbox', outboxId(c.command.id)), { node: c.node, command: outboxCommand(c.command), decision: seq })
  tx.put(ref('ha.decision', decisionId(seq)), {
    seq,
    rule: decision.rules.join(','),
    input: JSON.stringify(decision.input),
    graphIndex: decision.graphIndex,
    ops: JSON.stringify(decision.ops),
    commands: recordCommands(decision.commands, options.fence),
    phases: JSON.stringify(decision.phases),
    token: options.fence.token,
    note: decision.notes.join('; ')
  })
  if (seq > options.history) tx.delete(ref('ha.decision', decisionId(seq - options.history)))
  if (decision.input.kind === 'event') tx.handles([decision.input.id])
  return seq
}

/**
 * A decision record's commands field: `{ fence, orders: [{ node, command }] }` with each
 * command without its id and fence (the id is `commandId(input, n)`, the fence is the
 * record's), as `readDecision` rebuilds them. Records written as a plain array of commands
 * (before this compaction) read the same.
 */
function recordCommands (commands: Decision['commands'], fence: CommandFence): string {
  if (commands.length === 0) return '[]'
  return JSON.stringify({ fence, orders: commands.map((c) => { const { id: _id, fence: _fence, ...body } = c.command; return { node: c.node, command: body } }) })
}

function parseCommands (stored: string, input: RuleInput): Decision['commands'] {
  const v = JSON.parse(stored) as Decision['commands'] | { fence: CommandFence, orders: Array<{ node: string, command: object }> }
  if (!('orders' in v)) return v
  return v.orders.map((o, n) => ({ node: o.node, command: { ...o.command, id: commandId(input, n), fence: v.fence } as AgentCommand }))
}

/** A decision record as stored, parsed back. */
export interface DecisionRecord extends Decision {
  readonly seq: number
  readonly token: number
}

export function readDecision (view: GraphView<HaSpec>, seq: number): DecisionRecord | undefined {
  const r = view.get(ref('ha.decision', decisionId(seq)))
  if (r === undefined) return undefined
  const f = r.fields
  const input = JSON.parse(f.input) as RuleInput
  return {
    seq: f.seq,
    token: f.token,
    input,
    graphIndex: f.graphIndex,
    rules: f.rule === '' ? [] : f.rule.split(','),
    ops: JSON.parse(f.ops) as Decision['ops'],
    commands: parseCommands(f.commands, input),
    phases: JSON.parse(f.phases) as Decision['phases'],
    notes: f.note === '' ? [] : f.note.split('; ')
  }
}

/** The earliest phase wake-up, or undefined if none is pending. */
export function nextWake (view: GraphView<HaSpec>): { rule: string, subject: string, at: number } | undefined {
  let best: { rule: string, subject: string, at: number } | undefined
  for (const p of view.byKind('ha.phase')) {
    const at = p.fields.wakeAt
    if (at === undefined) continue
    if (best === undefined || at < best.at || (at === best.at && p.id < phaseId(best.rule, best.subject))) best = { rule: p.fields.rule, subject: p.fields.subject, at }
  }
  return best
}

/**
 * What a rule is: a user-written, deterministic function of (graph view, input, its own
 * phases) to (graph change, commands to agents, phase updates). The coordinator runs rules;
 * it never lets them touch the world directly, so the same rule on the same graph and input
 * always decides the same thing (what `simulate` and decision replay rely on).
 *
 * Invariants a rule must keep (the coordinator cannot check them all):
 * - Pure: read only `ctx` (the view, the input, `ctx.now`, phases, settings); no clock, no
 *   random, no I/O. Time is `ctx.now`: the event's producer time or the wake time.
 * - Idempotent under redelivery: an input whose decision did not commit is decided again on
 *   the graph as it is then; the commands it orders get the same ids (derived from the input),
 *   so agents execute each at most once.
 * - Phases: a rule that waits (for a timeout, a later event) stores its progress as a phase
 *   per subject; the phase is in the graph, so a new coordinator resumes it. A phase with
 *   `wakeAt` wakes the rule with a `wake` input at that wall-clock time.
 */
import type { AgentCommand, HaEvent, HaEventType } from '../agent/protocol.js'
import type { Transaction } from '../graph/client.js'
import type { GraphView } from '../graph/view.js'
import type { GraphOp } from '../graph/change.js'
import type { HaSpec } from './schema.js'
import type { RecoverySettings } from './settings.js'

/** What a decision is taken on: an event from the queue, or a phase's wake-up. */
export type RuleInput =
  | { readonly kind: 'event', readonly id: string, readonly event: HaEvent, readonly at: number }
  | { readonly kind: 'wake', readonly rule: string, readonly subject: string, readonly at: number }

/** A rule's stored progress for one subject. `data` is plain JSON. */
export interface PhaseState {
  readonly rule: string
  readonly subject: string
  readonly phase: string
  readonly data: Readonly<Record<string, unknown>>
  readonly wakeAt?: number
}

/** Sets (phase given) or clears (phase null) this rule's phase for `subject`. */
export interface PhaseUpdate {
  readonly subject: string
  readonly phase: string | null
  readonly data?: Readonly<Record<string, unknown>>
  /** Wall-clock ms at which to wake the rule (a `wake` input). @default none */
  readonly wakeAt?: number
}

type WithoutIdFence<C> = C extends unknown ? Omit<C, 'id' | 'fence'> : never
/** A command as a rule orders it: the coordinator adds its deterministic id and the fence. */
export type CommandBody = WithoutIdFence<AgentCommand>

export interface CommandOrder { readonly node: string, readonly command: CommandBody }

export interface RuleOutcome {
  /** Adds this rule's graph change (ops only: the coordinator adds fence, trims and records). */
  readonly change?: (tx: Transaction<HaSpec>) => void
  readonly commands?: readonly CommandOrder[]
  readonly phases?: readonly PhaseUpdate[]
  /** Why, in a few words: kept in the decision record. */
  readonly note?: string
}

export interface RuleContext {
  /** The graph as the coordinator's replica has it (read it; writes go through `change`). */
  readonly view: GraphView<HaSpec>
  readonly input: RuleInput
  /** The input's time: the event's producer time, or the wake time. Wall-clock ms. */
  readonly now: number
  /** The event, for an event input. */
  readonly event: HaEvent | undefined
  /** This rule's phase for `subject`, if stored. */
  phase: (subject: string) => PhaseState | undefined
  /** Commands committed and not yet acknowledged (the in-flight throttle counts these). */
  readonly inFlight: number
  readonly settings: RecoverySettings
}

export interface Rule {
  /** Unique among the coordinator's rules; a phase belongs to its rule by this name. */
  readonly name: string
  /** The event types it decides on (wake inputs of its own phases always reach it). */
  readonly on: readonly HaEventType[]
  /** Pure. undefined (or an empty outcome): nothing to do. */
  decide: (ctx: RuleContext) => RuleOutcome | undefined
}

/** One decision: what every rule that acted decided on one input, as recorded in the graph. */
export interface Decision {
  readonly input: RuleInput
  /** The replica's applied index when the rules read it. */
  readonly graphIndex: number
  /** The rules that produced an outcome, in order. */
  readonly rules: readonly string[]
  /** The rules' graph change (before the coordinator's bookkeeping). */
  readonly ops: readonly GraphOp[]
  readonly commands: ReadonlyArray<{ readonly node: string, readonly command: AgentCommand }>
  readonly phases: ReadonlyArray<PhaseUpdate & { readonly rule: string }>
  readonly notes: readonly string[]
}

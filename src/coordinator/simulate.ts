/**
 * What-if and replay, offline (as Pacemaker's crm_simulate): what would the rules decide on
 * this graph for this event? Nothing is committed or sent; the decision comes back with the
 * graph change (ops) and the commands, ids and fence included, exactly as the coordinator
 * would record them. `replayDecision` re-decides a recorded decision's input and compares.
 *
 * @example
 * const d = simulate(machine, { type: 'node-dead', node: 'n2', observer: 'm', at: 1000 }, { schema })
 * d.commands // [{ node: 'n1', command: { kind: 'start', instance: 'web-2', id: 'e:what-if#0', ... } }]
 */
import type { CommandFence, HaEvent } from '../agent/protocol.js'
import { haEventProblem } from '../agent/protocol.js'
import { QuorateError } from '../errors.js'
import { Graph } from '../graph/client.js'
import type { Schema } from '../graph/schema.js'
import type { GraphStateMachine } from '../graph/state-machine.js'
import { check, checkKnownKeys, checkObject } from '../util/validate.js'
import { BUILTIN_RULES } from './builtin-rules.js'
import { decide } from './core.js'
import type { DecisionRecord } from './core.js'
import type { Decision, Rule, RuleInput } from './rule.js'
import { checkCoordinatorSchema } from './schema.js'
import type { HaSpec } from './schema.js'
import { resolveRecoverySettings } from './settings.js'
import type { RecoverySettings } from './settings.js'

export interface SimulateOptions {
  /** The graph's schema (with the coordinator's kinds). @default the machine's schema */
  schema?: Schema
  /** @default BUILTIN_RULES */
  rules?: readonly Rule[]
  /** @default RECOVERY_DEFAULTS */
  settings?: Partial<RecoverySettings>
  /** The fence the commands would carry. @default { lease: 'quorate/coordinator', token: 1 } */
  fence?: CommandFence
  /** The event's queue id (command ids derive from it). @default 'what-if' */
  eventId?: string
}

const KEYS = ['schema', 'rules', 'settings', 'fence', 'eventId']

function refuseWrites (): Promise<never> {
  return Promise.reject(new QuorateError('COORDINATOR_STOPPED', 'simulate() never commits'))
}

/** The decision the rules would take on `machine`'s graph for `input` (an event, or a rule input such as a wake-up). */
export function simulate (machine: GraphStateMachine, input: HaEvent | RuleInput, options: SimulateOptions = {}): Decision {
  const C = 'simulate'
  checkObject(options, C, '(options)')
  checkKnownKeys(options, C, KEYS)
  const schema = options.schema ?? machine.schema
  checkCoordinatorSchema(schema, C)
  const ruleInput: RuleInput = 'kind' in input ? input : toEventInput(input, options.eventId ?? 'what-if')
  const graph = new Graph(schema as unknown as Schema<HaSpec>, { machine, submit: refuseWrites })
  return decide(graph.local(), ruleInput, graph.transaction(), {
    rules: options.rules ?? BUILTIN_RULES,
    settings: resolveRecoverySettings(options.settings, `${C}.settings`),
    fence: options.fence ?? { lease: 'quorate/coordinator', token: 1 }
  })
}

function toEventInput (event: HaEvent, id: string): RuleInput {
  const problem = haEventProblem(event)
  check(problem === undefined, 'simulate', 'input', 'a well-formed HaEvent or RuleInput', problem)
  return { kind: 'event', id, event, at: event.at }
}

export interface ReplayResult {
  readonly decision: Decision
  /** True when the re-decided change, commands and phases equal the record's. */
  readonly matches: boolean
  /** What differs, one line each. */
  readonly differences: readonly string[]
}

/**
 * Decides `record`'s input again on `machine`, which must hold the graph as it was when the
 * record was decided (at `record.graphIndex`: a replica restored from a snapshot taken then,
 * or one replaying the log to it), and compares with what was recorded.
 */
export function replayDecision (machine: GraphStateMachine, record: DecisionRecord, options: Omit<SimulateOptions, 'fence' | 'eventId'> = {}): ReplayResult {
  if (machine.appliedIndex !== record.graphIndex) {
    throw new QuorateError('OPTIONS_INVALID', `replayDecision: the graph is at index ${machine.appliedIndex}, the decision was taken at ${record.graphIndex}`)
  }
  const decision = simulate(machine, record.input, { ...options, fence: { lease: record.commands[0]?.command.fence.lease ?? 'quorate/coordinator', token: record.token } })
  const differences: string[] = []
  for (const key of ['ops', 'commands', 'phases', 'rules'] as const) {
    const a = JSON.stringify(record[key])
    const b = JSON.stringify(decision[key])
    if (a !== b) differences.push(`${key}: recorded ${a}, replayed ${b}`)
  }
  return { decision, matches: differences.length === 0, differences }
}

/**
 * quorate/coordinator: the recovery coordinator and its supervisors (see docs/coordinator.md).
 * Exactly one coordinator acts, under the coordinator lease; it reads the resource graph and
 * the events queue, runs rules (deterministic functions of graph, event and phase), commits
 * each decision fenced and together with the trim of its event, then sends fenced, id-carrying
 * commands to the node agents. Decision records in the graph, `simulate` and `replayDecision`
 * give the what-if and the replay.
 *
 * May import: agent, graph, lease, node, sm, util, errors.
 */
export { coordinatorSchema, checkCoordinatorSchema, HA_KINDS, HA_RELATIONS, EPOCH_ID } from './schema.js'
export type { HaSpec, HaKinds, HaRelations } from './schema.js'
export type { Rule, RuleContext, RuleInput, RuleOutcome, PhaseState, PhaseUpdate, CommandOrder, CommandBody, Decision } from './rule.js'
export { RECOVERY_DEFAULTS, resolveRecoverySettings } from './settings.js'
export type { RecoverySettings } from './settings.js'
export { decide, recordDecision, readDecision, readEpoch, readPhase, nextWake, commandId, inputKey, phaseId, outboxId, decisionId } from './core.js'
export type { DecisionRecord, DecideOptions, EpochState, RecordOptions } from './core.js'
export { place, eligible, breakerOpen, nodeOf } from './placement.js'
export { BUILTIN_RULES, instanceStateRule, restartRule, nodeFailureRule } from './builtin-rules.js'
export { placeNewRule } from './place-rule.js'
export { Coordinator, COORDINATOR_DEFAULTS } from './coordinator.js'
export type { CoordinatorOptions, CoordinatorStats } from './coordinator.js'
export { Supervisor, SUPERVISOR_DEFAULTS } from './supervisor.js'
export type { SupervisorOptions, SupervisedCoordinator, CoordinatorContext, SupervisorEvents, StopReason } from './supervisor.js'
export { simulate, replayDecision } from './simulate.js'
export { graceOnFailover } from './failover-grace.js'
export type { FailoverTarget } from './failover-grace.js'
export type { SimulateOptions, ReplayResult } from './simulate.js'

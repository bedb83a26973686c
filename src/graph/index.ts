/**
 * quorate/graph: the replicated resource graph and the events queue, one state machine in one
 * Raft group (see docs/graph.md). Typed resources and relations declared in a schema,
 * transactions with compare-and-set and fencing, explicit reachability GC, watches, and an
 * events queue whose events are trimmed in the same entry as the change that handled them.
 *
 * May import: errors, util, node, lease.
 */
export { defineSchema, ref, validateFields, relationBetween } from './schema.js'
export type {
  Schema, SchemaSpec, KindSpec, RelationSpec, FieldSpec, FieldType, FieldValue, Cardinality, Ref,
  KindName, RelationName, FieldsOf, FieldPatch, FromKind, ToKind
} from './schema.js'
export { GraphState, checkInvariants } from './state.js'
export type { Resource, Edge } from './state.js'
export { coalesce, applyOps, checkExpectations, validateOp } from './change.js'
export type { GraphOp, Expectation, AppliedChange } from './change.js'
export { encodeCommand, decodeCommand, encodeResult, decodeResult } from './codec.js'
export type { GraphCommand, GraphTransaction, EmitCommand, GraphResult, Fence } from './codec.js'
export { byKind, byField, neighbours, follow, paths, MAX_PATH_HOPS } from './query.js'
export type { Hop, Direction } from './query.js'
export { planGc, reachable } from './gc.js'
export { EventQueueState, EVENTS_DEFAULTS, MAX_EVENT_ID_LENGTH } from './events.js'
export type { EventsOptions, StoredEvent, DedupEntry } from './events.js'
export { GraphStateMachine, GRAPH_MACHINE_DEFAULTS } from './state-machine.js'
export type { GraphStateMachineOptions, CommittedChange, ChangeListener } from './state-machine.js'
export { Graph, Transaction } from './client.js'
export type { CommitResult, ReadOptions } from './client.js'
export { GraphView } from './view.js'
export type { ResourceView } from './view.js'
export { EventsQueue, EVENTS_CLIENT_DEFAULTS } from './events-client.js'
export type { EventsQueueOptions, GraphEvent } from './events-client.js'
export type { Submit, Barrier, SubmitOptions, ClientOptions } from './submit.js'

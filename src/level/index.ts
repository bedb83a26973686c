/**
 * level: `quorate/level`, a replicated abstract-level database. ReplicatedLevel is a drop-in
 * `level`: its writes are Raft entries (a batch is one entry, so atomic), applied on every
 * replica by a LevelStateMachine to a local abstract-level database the user supplies
 * (memory-level, classic-level, ...); reads follow a read mode. The machine mounts on the
 * state-machine router beside leases and the other members.
 *
 * May import: sm, node, util, errors.
 */
export { ReplicatedLevel, REPLICATED_LEVEL_DEFAULTS } from './replicated-level.js'
export type { ReadMode, ReplicatedLevelOptions } from './replicated-level.js'
export { LevelStateMachine, LEVEL_MACHINE_DEFAULTS } from './machine.js'
export type { LevelStateMachineOptions, LocalLevel } from './machine.js'
export { encodeLevelCommand, decodeLevelCommand } from './codec.js'
export type { LevelCommand, LevelBatchOp, LevelRange } from './codec.js'

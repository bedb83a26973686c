/**
 * kv: the replicated key-value state machine the node processes, the demo and the simulator
 * run: its semantics (shared with the checker's model in `quorate/testing`), its command
 * codec and `KvStateMachine`.
 *
 * May import: node, util, errors.
 */
export * from './semantics.js'
export * from './command.js'
export * from './state-machine.js'

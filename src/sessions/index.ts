/**
 * sessions: exactly-once commands through client sessions (Raft thesis §6.3): the replicated
 * `SessionStateMachine` that applies each (client, sequence) once, its envelope codec, and
 * the `ClientSession` that registers, numbers and retries commands.
 *
 * May import: node, raft, util, errors.
 */
export * from './state-machine.js'

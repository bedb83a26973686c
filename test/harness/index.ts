/**
 * The one test harness. Clusters of real RaftNodes run on the MemoryNetwork in virtual time
 * (`Cluster`, driven through `VirtualTime`: `stepUntil`, `await`, `runTicks`, bounded in
 * ticks); only real processes and sockets wait in real time, through `eventually`. Pure
 * Raft cores without the shell run on test/raft/harness.ts (CoreNetwork) and its scenarios.
 *
 * May import: anything in src/ (tests), never the other way round.
 */
export { Cluster } from './cluster.js'
export type { ClusterOptions, Member, StartOptions, TickBound } from './cluster.js'
export { VirtualTime, settle } from './virtual-time.js'
export type { WaitOptions } from './virtual-time.js'
export { eventually } from './eventually.js'
export type { EventuallyOptions } from './eventually.js'
export { RecordingMachine } from './recording-machine.js'

/**
 * sm: the state-machine router. Several named state machines share one Raft log: commands are
 * tagged with the id a member was mounted under, results are routed back, and one composite
 * snapshot streams each member's own snapshot in turn. Leases, sessions, the tuple store's
 * adapter, the key-value machine and the layers above all mount here, beside the user's own.
 *
 * May import: node, util, errors.
 */
export { StateMachineRouter, ROUTER_DEFAULTS } from './router.js'
export type { StateMachineRouterOptions, MountOptions } from './router.js'
export { Route } from './route.js'
export type { CommandTarget, RoutedNode } from './route.js'
export { MAX_MACHINE_ID_LENGTH } from './route-id.js'

/**
 * Failover grace, wired: every failure detector that reports node deaths to the coordinator
 * (a HeartbeatMonitor on a tracking-station node, or a FailureDetector of your own) enters its
 * `failoverGraceMs` when a new coordinator epoch starts, so a handover that also disturbed
 * heartbeats does not end in a burst of false deaths for the new coordinator to act on.
 *
 * The epoch is read from the graph replica, not from the local supervisor: the new
 * coordinator's takeover entry raises the `ha.epoch` token, and every station node applies that
 * entry, so every observer there (not only the one on the new coordinator's host) starts its
 * grace at the takeover, before the new coordinator decides anything.
 *
 * Invariant: `onEpoch` is called once per token increase seen by this replica (a restore from
 * a snapshot counts as one if it raised the token); the token present when watching starts is
 * not a failover (the detectors have their own startup grace).
 */
import type { GraphStateMachine } from '../graph/state-machine.js'
import { check, checkObject } from '../util/validate.js'
import { EPOCH_ID } from './schema.js'

/** What can enter a failover grace: `HeartbeatMonitor` (`failover()`) or an adapter around a `FailureDetector` (`failover(now)`). */
export interface FailoverTarget { failover: () => void }

/**
 * Calls `target.failover()` each time a new coordinator epoch is applied on `machine`.
 * Returns the function that stops watching.
 *
 * @example
 * const stop = graceOnFailover(graphMachine, heartbeatMonitor)
 */
export function graceOnFailover (machine: GraphStateMachine, ...targets: FailoverTarget[]): () => void {
  const C = 'graceOnFailover'
  check(typeof machine === 'object' && machine !== null && typeof machine.onChange === 'function', C, 'machine', 'a GraphStateMachine', typeof machine)
  for (const t of targets) {
    checkObject(t, C, 'target')
    check(typeof t.failover === 'function', C, 'target', 'an object with failover()', t)
  }
  const tokenNow = (): number => {
    const token = machine.graph.get(EPOCH_ID)?.fields.token
    return typeof token === 'number' ? token : 0
  }
  let seen = tokenNow()
  const onEpochMaybe = (): void => {
    const token = tokenNow()
    if (token <= seen) return
    seen = token
    for (const t of targets) t.failover()
  }
  const offChange = machine.onChange((change) => {
    if (change.type === 'tx' && change.touched.includes(EPOCH_ID)) onEpochMaybe()
  })
  const offRestore = machine.onRestore(onEpochMaybe)
  return () => { offChange(); offRestore() }
}

/**
 * Test-only hooks of the coordinator and the supervisor (the simulator's mutants and fault
 * injection), carried as hidden options so no user can set them by accident.
 */
import { hiddenOption } from '../util/hidden-option.js'

export interface CoordinatorHooks {
  /** Awaited at the top of every step of the loop (the simulator blocks a coordinator here to hang it). */
  readonly beforeStep?: () => Promise<void>
  /** MUTANT: trim an event in its own entry before the change that handles it commits. */
  readonly trimBeforeChange?: boolean
  /** Awaited between the mutant's trim entry and its change (the simulator crashes the host there). */
  readonly afterTrim?: () => Promise<void>
  /** MUTANT: a batch's last event is trimmed but its decision (change, record, commands) left out of the entry. */
  readonly batchDropsLast?: boolean
}

export interface SupervisorHooks {
  /** MUTANT: on lease loss, a hang or close, fire the coordinator's signal and move on without waiting for it to stop or killing it. */
  readonly skipStopWait?: boolean
}

export const coordinatorHooks = hiddenOption<CoordinatorHooks>('quorate.coordinator.hooks', {})
export const supervisorHooks = hiddenOption<SupervisorHooks>('quorate.supervisor.hooks', {})

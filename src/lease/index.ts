/**
 * quorate/lease: leases with fencing tokens replicated through Raft, and exclusive execution.
 * See docs/lease.md.
 *
 * May import: sm, node, raft, util, errors.
 */
export { LeaseTable } from './table.js'
export type { LeaseRecord, LeaseOutcome, LeaseRefusal, LeaseChangeListener } from './table.js'
export { LeaseManager } from './manager.js'
export type { AcquireOptions } from './manager.js'
export { LeaseHolder, RENEW_ATTEMPT_FRACTION, RENEW_RETRY_FRACTION } from './holder.js'
export type { LeaseGrant, HolderContext } from './holder.js'
export { FencingGuard } from './fencing.js'
export { ExpiryJudge } from './judge.js'
export type { Judgment } from './judge.js'
export { ExclusiveRunner, runExclusive } from './exclusive.js'
export type { ExclusiveContext, ExclusiveFn, ExclusiveEvents } from './exclusive.js'
export { encodeLeaseCommand, decodeLeaseCommand } from './command.js'
export type { LeaseCommand } from './command.js'
export {
  DEFAULT_MAX_DRIFT, DEFAULT_MAX_LEASE_DURATION_MS, DEFAULT_LEASE_DURATION_MS, DEFAULT_RENEW_FRACTION,
  DEFAULT_SAFETY_MARGIN_FRACTION, DEFAULT_RETRY_FRACTION, MAX_NAME_LENGTH
} from './options.js'
export type { LeaseManagerOptions, ExclusiveOptions } from './options.js'

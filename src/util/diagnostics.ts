/**
 * node:diagnostics_channel names every layer publishes on, and the one way to publish.
 *
 * Naming rule: `quorate:<layer>:<event>`, where <layer> is the src folder that publishes
 * (raft for the node's consensus events, lease, and later coordinator, agent, ...) and
 * <event> a noun for what happened. A message is a plain object that always has `node` (the
 * publishing node's id, when there is one) and is never mutated after publishing.
 *
 * Cost: a channel with no subscriber costs one boolean read (`channel.hasSubscribers`); the
 * message object is only built when someone listens, so the hot path pays nothing otherwise.
 *
 * @example
 * import diagnostics_channel from 'node:diagnostics_channel'
 * diagnostics_channel.subscribe('quorate:raft:election', (m) => { console.log(m) })
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import type { Channel } from 'node:diagnostics_channel'

/** Every channel quorate publishes on (see docs/observability.md for each message's fields). */
export const DIAGNOSTICS_CHANNELS = {
  /** A node's role, term or leader changed: `{ node, at, role, term, leader }`. */
  election: 'quorate:raft:election',
  /** A node learned a higher commit index: `{ node, at, index }`. */
  commit: 'quorate:raft:commit',
  /** A node took (`kind: 'taken'`) or installed (`kind: 'installed'`) a snapshot: `{ node, at, kind, index, term? }`. */
  snapshot: 'quorate:raft:snapshot',
  /** A node applied a configuration entry: `{ node, at, index }`. */
  config: 'quorate:raft:config',
  /** A node stopped on a fatal error: `{ node, at, error }`. */
  failed: 'quorate:raft:failed',
  /** A replica applied a lease grant: `{ name, holder, token, durationMs }` (token = the grant's log index). */
  leaseGrant: 'quorate:lease:grant'
} as const

export type DiagnosticsChannelName = typeof DIAGNOSTICS_CHANNELS[keyof typeof DIAGNOSTICS_CHANNELS]

/** The Channel object of a quorate channel (cached by node itself; hold it, do not look it up per event). */
export function quorateChannel (name: DiagnosticsChannelName): Channel {
  return diagnosticsChannel.channel(name)
}

/** Publishes `build()` on `channel` only if it has subscribers. */
export function publishIfObserved (channel: Channel, build: () => unknown): void {
  if (channel.hasSubscribers) channel.publish(build())
}

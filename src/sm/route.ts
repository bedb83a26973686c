/**
 * A Route is one mounted member seen from the proposing side: it tags payloads with the
 * member's id, and `bind(node)` gives the member's users a node-like object whose `propose`
 * tags for them, so a component (a LeaseManager, a ClientSession, a graph client) is written
 * against "a node that proposes my commands" and never sees the router's framing.
 */
import type { StateMachine } from '../node/state-machine.js'
import { prefixed, routePrefix } from './route-id.js'

/** What a routed proposer needs from a node: RaftNode satisfies it. */
export interface CommandTarget {
  readonly id: string
  propose: (command: Uint8Array, options?: { signal?: AbortSignal }) => Promise<unknown>
  read: (options?: { signal?: AbortSignal }) => Promise<number>
}

/** A node that proposes one member's commands (RaftNode's id, propose and read, routed). */
export interface RoutedNode extends CommandTarget {
  /** The node it proposes through. */
  readonly node: CommandTarget
  /** The member id every proposal is tagged with. */
  readonly machineId: string
}

export class Route<M extends StateMachine = StateMachine> {
  readonly id: string
  readonly machine: M
  /** The bytes every command of this member starts with. */
  readonly prefix: Uint8Array

  constructor (id: string, machine: M) {
    this.id = id
    this.machine = machine
    this.prefix = routePrefix(id)
  }

  /** The log command that delivers `payload` to this member. */
  command (payload: Uint8Array): Uint8Array { return prefixed(this.prefix, payload) }

  /** `node` with proposals tagged for this member; reads are the node's own. */
  bind (node: CommandTarget): RoutedNode {
    const route = this
    return {
      node,
      machineId: route.id,
      get id () { return node.id },
      propose: async (payload, options) => await node.propose(route.command(payload), options),
      read: async (options) => await node.read(options)
    }
  }
}

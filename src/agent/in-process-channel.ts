/**
 * A CommandChannel to agents in the same process (tests, single-process deployments, the
 * coordinator's own node). Commands are copied (structuredClone) on the way in and replies on
 * the way out, so neither side shares mutable objects with the other — as over a network.
 */
import { QuorateError, abortError } from '../errors.js'
import type { AgentCommand, AgentReply, CommandChannel } from './protocol.js'

/** What the channel delivers to: a NodeAgent, or anything that answers commands. */
export interface CommandHandler {
  handle: (command: unknown) => Promise<AgentReply>
}

export class InProcessChannel implements CommandChannel {
  readonly #agents = new Map<string, CommandHandler>()

  /** Routes commands for `node` to `agent` (replacing an earlier one). */
  register (node: string, agent: CommandHandler): void { this.#agents.set(node, agent) }

  /** Commands for `node` fail with AGENT_UNREACHABLE from now on (a node gone). */
  unregister (node: string): void { this.#agents.delete(node) }

  async send (node: string, command: AgentCommand, options: { signal?: AbortSignal } = {}): Promise<AgentReply> {
    const { signal } = options
    if (signal?.aborted === true) throw abortError(signal)
    const agent = this.#agents.get(node)
    if (agent === undefined) throw new QuorateError('AGENT_UNREACHABLE', `no agent registered for node ${JSON.stringify(node)}`)
    const reply = agent.handle(structuredClone(command))
    if (signal === undefined) return structuredClone(await reply)
    return await new Promise<AgentReply>((resolve, reject) => {
      const onAbort = (): void => { reject(abortError(signal)) }
      signal.addEventListener('abort', onAbort, { once: true })
      reply.then((r) => { resolve(structuredClone(r)) }, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
    })
  }
}

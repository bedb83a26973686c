/**
 * Simulated node agents for the coordinator simulation: each keeps (durably, across its own
 * restarts) the newest fencing token it has seen per lease name and refuses older ones, and
 * answers a command id it already executed with the first reply; it runs instances (a set),
 * reports starts and exits into the events queue through `report`, and can be down
 * (unreachable). Every accepted and refused command is told to the observer, which is how the
 * checkers see "an old-epoch command accepted".
 */
import { agentCommandProblem } from '../../agent/protocol.js'
import type { AgentCommand, AgentReply, HaEvent } from '../../agent/protocol.js'
import { FencingGuard } from '../../lease/fencing.js'
import { isQuorateError } from '../../errors.js'

export interface AgentObserver {
  /** A command the agent executed (first time for its id). */
  executed: (node: string, command: AgentCommand) => void
  /** A command refused as older than the agent's fence. */
  fenced: (node: string, command: AgentCommand) => void
}

export class SimAgent {
  readonly node: string
  /** Reachable and running its processes. */
  up = true
  readonly guard = new FencingGuard()
  readonly #replies = new Map<string, AgentReply>()
  /** Instance -> token of the command that started it. */
  readonly running = new Map<string, number>()
  readonly #observer: AgentObserver
  readonly #report: (event: HaEvent) => void

  constructor (node: string, observer: AgentObserver, report: (event: HaEvent) => void) {
    this.node = node
    this.#observer = observer
    this.#report = report
  }

  handle (command: AgentCommand, at: number): AgentReply {
    const problem = agentCommandProblem(command)
    if (problem !== undefined) return { id: String(command.id), ok: false, code: 'AGENT_COMMAND_INVALID', message: problem }
    try { this.guard.admit(command.fence.lease, command.fence.token) } catch (err) {
      if (!isQuorateError(err, 'LEASE_FENCED')) throw err
      this.#observer.fenced(this.node, command)
      return { id: command.id, ok: false, code: 'LEASE_FENCED', message: err.message }
    }
    const seen = this.#replies.get(command.id)
    if (seen !== undefined) return seen
    this.#observer.executed(this.node, command)
    if (command.kind === 'start' && !this.running.has(command.instance)) {
      this.running.set(command.instance, command.fence.token)
      this.#report({ type: 'instance-started', node: this.node, instance: command.instance, token: command.fence.token, pid: 1000 + this.running.size, at })
    } else if (command.kind === 'stop') this.running.delete(command.instance)
    const reply: AgentReply = { id: command.id, ok: true, instances: [...this.running].map(([instance, token]) => ({ instance, state: 'running' as const, token })) }
    this.#replies.set(command.id, reply)
    return reply
  }

  /** The instance's process exits; the agent reports it. */
  crashInstance (instance: string, at: number): boolean {
    if (!this.up || !this.running.delete(instance)) return false
    this.#report({ type: 'instance-exited', node: this.node, instance, exitCode: 1, signal: null, at })
    return true
  }

  /** The node dies (its processes with it) or is cut off (they keep running). */
  down (processesDie: boolean): void {
    this.up = false
    if (processesDie) this.running.clear()
  }
}

/**
 * quorate/agent: the node agent that starts, stops and watches service processes on its node,
 * obeys only the current coordinator (fenced commands), and reports failures into the events
 * queue; its monitors and node failure detection. protocol.ts is the contract with the
 * coordinator (commands, replies, failure events). See docs/agent.md.
 *
 * May import: graph, lease, util, errors.
 */
export { encodeHaEvent, decodeHaEvent, haEventProblem, agentCommandProblem } from './protocol.js'
export type {
  CommandFence, ServiceSpec, AgentCommand, AgentReply, InstanceState, InstanceStatus, CommandChannel, HaEvent, HaEventType
} from './protocol.js'

/**
 * quorate/agent: the node agent that starts, stops and watches service processes on its node,
 * obeys only the current coordinator (fenced commands), and reports failures into the events
 * queue; its monitors and node failure detection. protocol.ts is the contract with the
 * coordinator (commands, replies, failure events). See docs/agent.md.
 *
 * May import: graph, lease, transport, util, errors. (transport: the TLS identity helpers of
 * tcpTransport, reused by the agent endpoint and client so both channels check certificates alike.)
 */
export { encodeHaEvent, decodeHaEvent, haEventProblem, agentCommandProblem } from './protocol.js'
export type {
  CommandFence, ServiceSpec, AgentCommand, AgentReply, InstanceState, InstanceStatus, CommandChannel, HaEvent, HaEventType
} from './protocol.js'
export type { CheckSpec, CheckTiming } from './check-spec.js'
export { READINESS_DEFAULTS, LIVENESS_DEFAULTS, validateCheck } from './check-spec.js'
export { RestartBackoff, RESTART_DEFAULTS, validateRestartPolicy } from './restart-policy.js'
export type { RestartPolicy } from './restart-policy.js'
export { NodeAgent, NODE_AGENT_DEFAULTS } from './node-agent.js'
export type { NodeAgentOptions } from './node-agent.js'
export type { HaEventSink, ReportingOptions } from './event-reporter.js'
export { EVENT_FLUSH_MS } from './event-reporter.js'
export { parameterEnvName } from './instance-files.js'
export { parseStartTime } from './proc.js'
export { InProcessChannel } from './in-process-channel.js'
export type { CommandHandler } from './in-process-channel.js'
export { AgentEndpoint, AGENT_ENDPOINT_DEFAULTS } from './endpoint.js'
export type { AgentEndpointOptions } from './endpoint.js'
export { AgentClient, AGENT_CLIENT_DEFAULTS } from './agent-client.js'
export type { AgentClientOptions } from './agent-client.js'
export { FailureDetector, FAILURE_DETECTOR_DEFAULTS, phiOf } from './failure-detector.js'
export type { FailureDetectorOptions, Heartbeat, Transition, PeerStatus } from './failure-detector.js'
export { Monitor, MONITOR_DEFAULTS, processAlive, diskSpace, pathWritable } from './monitor.js'
export type { MonitorOptions, Health, HealthCheck } from './monitor.js'
export { HeartbeatMonitor } from './heartbeat-monitor.js'
export type { HeartbeatMonitorOptions } from './heartbeat-monitor.js'

/**
 * quorate/transponder: thousands of agents talk to the tracking station through a few
 * stateless relays. Agents seal events (and coordinators seal commands) in Ed25519-signed
 * envelopes a relay cannot forge or alter; a transponder batches and filters upward (heartbeats
 * coalesced into "alive set plus changes"), fans commands out downward with per-target
 * acknowledgement, and acknowledges an agent only after the uplink did; agents pick their
 * transponder by rendezvous hashing and re-home when it dies. See docs/transponder.md.
 *
 * May import: agent, graph, transport, util, errors.
 */
export { KeyRing, createSigningKeys, signer } from './keys.js'
export type { Signer, SigningKeyMaterial } from './keys.js'
export {
  ENVELOPE_VERSION, sealEnvelope, peekEnvelope, openEnvelope, sealEvent, sealCommand, sealReply, openEvent, openCommand, openReply
} from './envelope.js'
export type { Envelope, EnvelopeHeader, EnvelopeKind, OpenedEvent } from './envelope.js'
export { CommandInbox, COMMAND_INBOX_DEFAULTS } from './command-inbox.js'
export type { CommandInboxOptions, InboxRecord } from './command-inbox.js'
export { homeTransponder, rankTransponders, TransponderAssignment } from './assignment.js'
export { Transponder, TRANSPONDER_DEFAULTS } from './relay.js'
export type { TransponderOptions, TransponderStats, UplinkBatch, Uplink, Downlink, DeliveryResult, EnvelopeFilter } from './relay.js'
export { TrackingStation, TRACKING_STATION_DEFAULTS } from './station.js'
export type { TrackingStationOptions, LivenessChange } from './station.js'
export { RelayedCommandChannel } from './command-channel.js'
export type { RelayedCommandChannelOptions, TransponderDeliver } from './command-channel.js'
export { AgentRelayClient, AGENT_RELAY_CLIENT_DEFAULTS } from './agent-client.js'
export type { AgentRelayClientOptions, AgentLinks } from './agent-client.js'
export { TransponderServer, SocketAgentLinks, DEFAULT_DOWNLINK_MAX_FRAME_BYTES } from './socket-links.js'
export type { TransponderServerOptions, SocketAgentLinksOptions } from './socket-links.js'
export { encodeDownlinkFrame, decodeDownlinkFrame } from './wire.js'
export type { DownlinkFrame } from './wire.js'
export { StationServer, SocketUplink, STATION_SERVER_DEFAULTS, SOCKET_UPLINK_DEFAULTS } from './uplink-socket.js'
export type { StationServerOptions, SocketUplinkOptions } from './uplink-socket.js'
export { encodeUplinkFrame, decodeUplinkFrame, DEFAULT_UPLINK_MAX_FRAME_BYTES } from './uplink-wire.js'
export type { UplinkFrame } from './uplink-wire.js'
export { LivenessEvents } from './liveness-events.js'
export type { LivenessEventsOptions } from './liveness-events.js'
export { openCommandInbox } from './inbox-file.js'

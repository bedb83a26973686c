/**
 * Transports: the interface, the in-memory network (one process, with fault knobs) and TCP
 * with mutual TLS carrying protobuf frames.
 *
 * @example
 * import { tcpTransport, createDevCertificates } from 'quorate/transport'
 *
 * May import: raft, util, errors.
 */
export type { Transport, TransportStats, MessageHandler } from './transport.js'
export * from './memory.js'
export * from './tcp.js'
export * from './tls-certs.js'
export * from './codec.js'
export * from './framing.js'

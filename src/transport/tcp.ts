/**
 * `tcpTransport` and its types. The implementation is split by job: tcp-options.ts (options,
 * defaults, validation), tcp-identity.ts (TLS and certificate identity), tcp-connection.ts
 * (one peer connection: handshake state, batching, backoff) and tcp-transport.ts (the
 * Transport tying them together).
 */
export * from './tcp-options.js'
export { certificateIdentity } from './tcp-identity.js'
export * from './tcp-transport.js'

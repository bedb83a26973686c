/**
 * Signed envelopes: how an agent's event or reply and a coordinator's command cross a relay
 * without the relay being able to forge or alter them.
 *
 * Layout (all of it up to the signature is signed; nothing outside the signed bytes is
 * trusted):
 *
 *   "QTE" version(1) kind(1)        magic, format version, 1 event / 2 command / 3 reply
 *   sender  u32-length UTF-8        the node whose key signed it
 *   target  u32-length UTF-8        the one node (or station) it is for: a replay elsewhere is refused
 *   id      u32-length UTF-8        event id (the events queue's dedup key) or command id
 *   lease   u32-length UTF-8        the fence's lease name ('' for no fence)
 *   token   u64                     the fence's token (0 for no fence)
 *   payload varint-length bytes     HaEvent JSON / AgentCommand JSON / AgentReply JSON
 *   signature 64 bytes              Ed25519 over every byte before it
 *
 * Invariants: `openEnvelope` returns an envelope only if the signature verifies with the
 * ring's key for `sender` and `target` is the caller; a command's and a reply's JSON must
 * agree with the signed header (id, fence), so a signer's header cannot say one thing and
 * its payload another. Decoding never throws anything but QuorateErrors.
 */
import { sign as edSign, verify as edVerify } from 'node:crypto'
import { QuorateError } from '../errors.js'
import { ByteReader, ByteWriter } from '../util/bytes.js'
import { agentCommandProblem } from '../agent/protocol.js'
import type { AgentCommand, AgentReply, CommandFence } from '../agent/protocol.js'
import type { GraphEvent } from '../graph/events-client.js'
import type { KeyRing, Signer } from './keys.js'

export type EnvelopeKind = 'event' | 'command' | 'reply'

export interface EnvelopeHeader {
  readonly kind: EnvelopeKind
  readonly sender: string
  readonly target: string
  readonly id: string
  /** The lease the message acts under; null for none (events of an agent acting on its own). */
  readonly fence: CommandFence | null
}

/** A decoded envelope: its header, payload (a view into `bytes`) and the whole signed encoding. */
export interface Envelope extends EnvelopeHeader {
  readonly payload: Uint8Array
  readonly bytes: Uint8Array
}

const MAGIC = [0x51, 0x54, 0x45] // "QTE"
export const ENVELOPE_VERSION = 1
const KINDS: readonly EnvelopeKind[] = ['event', 'command', 'reply']
const SIGNATURE_BYTES = 64
const MAX_NAME = 256
const MAX_ID = 128
const MALFORMED = 'TRANSPONDER_ENVELOPE_MALFORMED'

function malformed (message: string, cause?: unknown): QuorateError {
  return new QuorateError(MALFORMED, `Transponder envelope: ${message}`, cause === undefined ? {} : { cause })
}

function checkName (value: unknown, field: string, max: number, allowEmpty = false): void {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0) || value.length > max) {
    throw malformed(`${field} must be a string of ${allowEmpty ? 0 : 1} to ${max} characters`)
  }
}

/** Encodes and signs an envelope with `signer` (whose id becomes the sender). */
export function sealEnvelope (signer: Signer, header: Omit<EnvelopeHeader, 'sender'>, payload: Uint8Array): Uint8Array {
  if (!KINDS.includes(header.kind)) throw malformed(`unknown kind ${JSON.stringify(header.kind)}`)
  checkName(signer.id, 'sender', MAX_NAME)
  checkName(header.target, 'target', MAX_NAME)
  checkName(header.id, 'id', MAX_ID)
  const fence = header.fence
  if (fence !== null && (typeof fence !== 'object' || typeof fence.lease !== 'string' || fence.lease.length === 0 || !Number.isSafeInteger(fence.token) || fence.token < 1)) {
    throw malformed('fence must be null or { lease: non-empty string, token: positive integer }')
  }
  if (!(payload instanceof Uint8Array)) throw malformed('payload must be bytes')
  const w = new ByteWriter(96 + payload.byteLength)
  for (const b of MAGIC) w.byte(b)
  w.byte(ENVELOPE_VERSION)
  w.byte(KINDS.indexOf(header.kind) + 1)
  w.utf8(signer.id)
  w.utf8(header.target)
  w.utf8(header.id)
  w.utf8(fence?.lease ?? '')
  w.u64(fence?.token ?? 0)
  w.chunk(payload)
  const body = w.finish()
  const signature = edSign(null, body, signer.privateKey)
  const out = new Uint8Array(body.byteLength + SIGNATURE_BYTES)
  out.set(body, 0)
  out.set(signature, body.byteLength)
  return out
}

/**
 * Decodes an envelope WITHOUT verifying it: for a relay that routes and deduplicates by the
 * header. Nothing read here may be trusted until `openEnvelope` verified the signature.
 * Throws TRANSPONDER_ENVELOPE_MALFORMED.
 */
export function peekEnvelope (bytes: Uint8Array): Envelope {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < MAGIC.length + 2 + SIGNATURE_BYTES) throw malformed('too short')
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) throw malformed('bad magic')
  if (bytes[3] !== ENVELOPE_VERSION) throw malformed(`unsupported version ${bytes[3]!}`)
  const kind = KINDS[bytes[4]! - 1]
  if (kind === undefined) throw malformed(`unknown kind ${bytes[4]!}`)
  const r = new ByteReader(bytes.subarray(0, bytes.byteLength - SIGNATURE_BYTES), MALFORMED, 5)
  let sender: string, target: string, id: string, lease: string, token: number, payload: Uint8Array
  try {
    sender = r.utf8(); target = r.utf8(); id = r.utf8(); lease = r.utf8(); token = r.u64(); payload = r.chunk()
    r.end()
  } catch (err) {
    if (err instanceof QuorateError) throw err
    throw malformed('undecodable', err)
  }
  checkName(sender, 'sender', MAX_NAME)
  checkName(target, 'target', MAX_NAME)
  checkName(id, 'id', MAX_ID)
  if ((lease === '') !== (token === 0)) throw malformed('a fence has both a lease and a positive token, or neither')
  return { kind, sender, target, id, fence: lease === '' ? null : { lease, token }, payload, bytes }
}

/**
 * Decodes and verifies: the sender's key from `ring` must verify the signature, `target`
 * must be the caller (`self`) and, if given, `kind` must match. Throws
 * TRANSPONDER_ENVELOPE_MALFORMED, TRANSPONDER_UNKNOWN_SIGNER, TRANSPONDER_SIGNATURE_INVALID
 * or TRANSPONDER_WRONG_TARGET.
 */
export function openEnvelope (bytes: Uint8Array, ring: KeyRing, self: string, kind?: EnvelopeKind): Envelope {
  const envelope = peekEnvelope(bytes)
  const key = ring.get(envelope.sender)
  if (key === undefined) throw new QuorateError('TRANSPONDER_UNKNOWN_SIGNER', `Transponder envelope: no public key for sender "${envelope.sender}"`, { details: { sender: envelope.sender } })
  const split = bytes.byteLength - SIGNATURE_BYTES
  let ok: boolean
  try {
    ok = edVerify(null, bytes.subarray(0, split), key, bytes.subarray(split))
  } catch (cause) {
    throw new QuorateError('TRANSPONDER_SIGNATURE_INVALID', 'Transponder envelope: the signature could not be checked', { cause })
  }
  if (!ok) throw new QuorateError('TRANSPONDER_SIGNATURE_INVALID', `Transponder envelope: the signature does not verify with the key of "${envelope.sender}"`, { details: { sender: envelope.sender, id: envelope.id } })
  if (envelope.target !== self) {
    throw new QuorateError('TRANSPONDER_WRONG_TARGET', `Transponder envelope for "${envelope.target}" delivered to "${self}"`, { details: { target: envelope.target, self, id: envelope.id } })
  }
  if (kind !== undefined && envelope.kind !== kind) throw malformed(`expected a ${kind}, got a ${envelope.kind}`)
  return envelope
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

function json (payload: Uint8Array): unknown {
  try { return JSON.parse(decoder.decode(payload)) } catch (cause) { throw malformed('payload is not UTF-8 JSON', cause) }
}

function sameFence (a: CommandFence | null, b: unknown): boolean {
  const f = b as CommandFence | null | undefined
  return a === null ? f === null || f === undefined : typeof f === 'object' && f !== null && f.lease === a.lease && f.token === a.token
}

/** An agent's event for the station `station` (the events queue's GraphEvent, its id the dedup key). */
export function sealEvent (signer: Signer, station: string, event: GraphEvent, fence: CommandFence | null = null): Uint8Array {
  return sealEnvelope(signer, { kind: 'event', target: station, id: event.id, fence }, event.payload)
}

/** A coordinator's command for agent `target`; the command's id and fence go into the signed header. */
export function sealCommand (signer: Signer, target: string, command: AgentCommand): Uint8Array {
  const problem = agentCommandProblem(command)
  if (problem !== undefined) throw new QuorateError('AGENT_COMMAND_INVALID', `sealCommand: ${problem}`)
  return sealEnvelope(signer, { kind: 'command', target, id: command.id, fence: command.fence }, encoder.encode(JSON.stringify(command)))
}

/** An agent's reply to `command`, for the coordinator or station `target`. */
export function sealReply (signer: Signer, target: string, reply: AgentReply, fence: CommandFence | null): Uint8Array {
  return sealEnvelope(signer, { kind: 'reply', target, id: reply.id, fence }, encoder.encode(JSON.stringify(reply)))
}

/** A verified event: who sent it and the GraphEvent to emit. */
export interface OpenedEvent { readonly sender: string, readonly event: GraphEvent, readonly fence: CommandFence | null }

export function openEvent (bytes: Uint8Array, ring: KeyRing, station: string): OpenedEvent {
  const e = openEnvelope(bytes, ring, station, 'event')
  return { sender: e.sender, event: { id: e.id, payload: e.payload }, fence: e.fence }
}

/** A verified command: its signer (the coordinator) and the command, consistent with the signed header. */
export function openCommand (bytes: Uint8Array, ring: KeyRing, self: string): { readonly sender: string, readonly command: AgentCommand } {
  const e = openEnvelope(bytes, ring, self, 'command')
  const value = json(e.payload)
  const problem = agentCommandProblem(value)
  if (problem !== undefined) throw new QuorateError('AGENT_COMMAND_INVALID', `openCommand: ${problem}`)
  const command = value as AgentCommand
  if (command.id !== e.id || !sameFence(e.fence, command.fence)) throw malformed('the command\'s id or fence differs from the signed header')
  return { sender: e.sender, command }
}

/** A verified reply from `agent` (when given, the sender must be it). */
export function openReply (bytes: Uint8Array, ring: KeyRing, self: string, agent?: string): { readonly sender: string, readonly reply: AgentReply } {
  const e = openEnvelope(bytes, ring, self, 'reply')
  if (agent !== undefined && e.sender !== agent) {
    throw new QuorateError('TRANSPONDER_SENDER_MISMATCH', `A reply from "${agent}" was signed by "${e.sender}"`, { details: { expected: agent, sender: e.sender } })
  }
  const reply = json(e.payload) as AgentReply
  if (typeof reply !== 'object' || reply === null || reply.id !== e.id || typeof reply.ok !== 'boolean') throw malformed('a reply is { id, ok, ... } with the signed id')
  return { sender: e.sender, reply }
}

/**
 * The lease table's log commands and their wire form: a three-byte tag ("QL" and a format
 * version) then UTF-8 JSON. The tag lets an application state machine that also carries
 * other commands hand lease commands to its LeaseTable (`isLeaseCommand`).
 */
import { MAX_NAME_LENGTH } from './options.js'

export type LeaseCommand =
  /** Grant `name` to `holder` if the record's version is still `expectVersion` (0: never written). */
  | { readonly op: 'acquire', readonly name: string, readonly holder: string, readonly durationMs: number, readonly expectVersion: number }
  /** Extend the grant `token` of `holder`; the token stays, the version moves. */
  | { readonly op: 'renew', readonly name: string, readonly holder: string, readonly token: number }
  /** End the grant `token` of `holder`; the name is free at once. */
  | { readonly op: 'release', readonly name: string, readonly holder: string, readonly token: number }

const TAG = [0x51, 0x4c, 0x01] as const
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function isLeaseCommand (bytes: Uint8Array): boolean {
  return bytes.length > TAG.length && bytes[0] === TAG[0] && bytes[1] === TAG[1] && bytes[2] === TAG[2]
}

export function encodeLeaseCommand (command: LeaseCommand): Uint8Array {
  const json = encoder.encode(JSON.stringify(command))
  const out = new Uint8Array(TAG.length + json.length)
  out.set(TAG, 0)
  out.set(json, TAG.length)
  return out
}

/** The command, or null if the bytes are not a well-formed lease command (never throws). */
export function decodeLeaseCommand (bytes: Uint8Array): LeaseCommand | null {
  if (!isLeaseCommand(bytes)) return null
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes.subarray(TAG.length)))
  } catch (err) {
    // Invalid UTF-8 (the fatal decoder's TypeError) or invalid JSON: not a lease command.
    if (!(err instanceof SyntaxError) && !(err instanceof TypeError)) throw err
    return null
  }
  return isWellFormed(value) ? value : null
}

function isWellFormed (v: unknown): v is LeaseCommand {
  if (typeof v !== 'object' || v === null) return false
  const c = v as Record<string, unknown>
  if (!isId(c.name) || !isId(c.holder)) return false
  switch (c.op) {
    case 'acquire':
      return typeof c.durationMs === 'number' && Number.isFinite(c.durationMs) && c.durationMs > 0 && isIndex(c.expectVersion)
    case 'renew':
    case 'release':
      return isIndex(c.token) && c.token > 0
    default:
      return false
  }
}

function isId (v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME_LENGTH
}

function isIndex (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

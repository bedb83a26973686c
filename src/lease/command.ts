/**
 * The lease table's log commands and their wire form: UTF-8 JSON. A LeaseTable that shares
 * a log with other machines is mounted on a StateMachineRouter (quorate's `sm`), which
 * tags and routes its commands; the commands themselves carry no tag.
 */
import { MAX_NAME_LENGTH } from './options.js'

export type LeaseCommand =
  /** Grant `name` to `holder` if the record's version is still `expectVersion` (0: never written). */
  | { readonly op: 'acquire', readonly name: string, readonly holder: string, readonly durationMs: number, readonly expectVersion: number }
  /** Extend the grant `token` of `holder`; the token stays, the version moves. */
  | { readonly op: 'renew', readonly name: string, readonly holder: string, readonly token: number }
  /** End the grant `token` of `holder`; the name is free at once. */
  | { readonly op: 'release', readonly name: string, readonly holder: string, readonly token: number }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeLeaseCommand (command: LeaseCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command))
}

/** The command, or null if the bytes are not a well-formed lease command (never throws). */
export function decodeLeaseCommand (bytes: Uint8Array): LeaseCommand | null {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch (err) {
    // Exactly the two ways bytes fail to be JSON text: invalid UTF-8 (TypeError) or bad JSON.
    if (err instanceof SyntaxError || err instanceof TypeError) return null
    throw err
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

/**
 * A routed command is `[id length: u8, 1..64][id: ASCII][payload]`. The id is a name a
 * member was mounted under; it travels in every entry, so it is short and never reused
 * for another machine (renaming a member is a data migration, not a rename).
 */
import { QuorateError } from '../errors.js'

export const MAX_MACHINE_ID_LENGTH = 64

/** Letters, digits and `._:/-`, starting with a letter or digit: readable in logs and traces. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/

export function checkMachineId (id: unknown, where: string): asserts id is string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw new QuorateError('SM_MOUNT_INVALID', `${where}: a machine id must be 1 to ${MAX_MACHINE_ID_LENGTH} characters of A-Z a-z 0-9 . _ : / - starting with a letter or digit (got ${JSON.stringify(id)})`)
  }
}

/** The route prefix of `id`: its length byte then its ASCII bytes. */
export function routePrefix (id: string): Uint8Array {
  const out = new Uint8Array(1 + id.length)
  out[0] = id.length
  for (let i = 0; i < id.length; i++) out[1 + i] = id.charCodeAt(i)
  return out
}

/** `prefix` followed by `payload`, in one allocation. */
export function prefixed (prefix: Uint8Array, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + payload.length)
  out.set(prefix, 0)
  out.set(payload, prefix.length)
  return out
}

/** True if `command` starts with `prefix` (and so is routed to its member). */
export function hasPrefix (command: Uint8Array, prefix: Uint8Array): boolean {
  if (command.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (command[i] !== prefix[i]) return false
  return true
}

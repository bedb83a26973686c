/**
 * Signing keys for transponder envelopes: every node (agent, coordinator, station) that
 * originates an envelope has an Ed25519 key pair; every node that verifies one holds a key
 * ring mapping node ids to public keys.
 *
 * Binding keys to identities: the ring is the operator's list of `{ nodeId: publicKeyPem }`,
 * distributed beside the cluster certificates (the cluster CA vouches for a node's TLS
 * identity on each hop; the ring vouches for who signed an envelope end to end). The two are
 * deliberately separate: a relay holds a valid certificate of its own and can talk TLS to
 * everyone, but it holds no agent's or coordinator's Ed25519 private key, so it can drop an
 * envelope but never forge or alter one.
 */
import { KeyObject, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { QuorateError } from '../errors.js'

/** A node's signing identity: its id and Ed25519 private key. */
export interface Signer {
  readonly id: string
  readonly privateKey: KeyObject
}

/** PEM key material for a set of nodes, as written beside the cluster certificates. */
export interface SigningKeyMaterial {
  /** `{ nodeId: SPKI PEM }`: the key ring every verifier loads. */
  readonly publicKeys: Readonly<Record<string, string>>
  /** `{ nodeId: PKCS#8 PEM }`: each node keeps only its own. */
  readonly privateKeys: Readonly<Record<string, string>>
}

/** Creates an Ed25519 key pair per node (development and tests; production keys come from the operator). */
export function createSigningKeys (nodeIds: readonly string[]): SigningKeyMaterial {
  if (!Array.isArray(nodeIds) || !nodeIds.every((id) => typeof id === 'string' && id.length > 0) || new Set(nodeIds).size !== nodeIds.length) {
    throw new QuorateError('OPTIONS_INVALID', 'createSigningKeys: nodeIds must be an array of distinct non-empty strings')
  }
  const publicKeys: Record<string, string> = {}
  const privateKeys: Record<string, string> = {}
  for (const id of nodeIds) {
    const pair = generateKeyPairSync('ed25519')
    publicKeys[id] = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()
    privateKeys[id] = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  }
  return { publicKeys, privateKeys }
}

/** A signer from a node id and its Ed25519 private key: PKCS#8 PEM, DER, or a KeyObject. */
export function signer (id: string, privateKeyPem: string | Uint8Array | KeyObject): Signer {
  if (typeof id !== 'string' || id.length === 0) throw new QuorateError('OPTIONS_INVALID', 'signer: id must be a non-empty string')
  let privateKey: KeyObject
  try {
    privateKey = privateKeyPem instanceof KeyObject
      ? privateKeyPem
      : typeof privateKeyPem === 'string'
        ? createPrivateKey(privateKeyPem)
        : createPrivateKey({ key: Buffer.from(privateKeyPem), format: 'der', type: 'pkcs8' })
  } catch (cause) {
    throw new QuorateError('OPTIONS_INVALID', `signer: the private key of "${id}" is not a PEM or DER key`, { cause })
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new QuorateError('OPTIONS_INVALID', `signer: the key of "${id}" is ${String(privateKey.asymmetricKeyType)}, not ed25519`)
  return { id, privateKey }
}

/** Node id -> Ed25519 public key. Immutable; build a new ring to rotate keys. */
export class KeyRing {
  readonly #keys: ReadonlyMap<string, KeyObject>

  /** @param publicKeys `{ nodeId: SPKI PEM }` (SigningKeyMaterial.publicKeys), or public KeyObjects. */
  constructor (publicKeys: Readonly<Record<string, string | KeyObject>> | ReadonlyMap<string, string | KeyObject>) {
    if (typeof publicKeys !== 'object' || publicKeys === null || Array.isArray(publicKeys)) {
      throw new QuorateError('OPTIONS_INVALID', 'KeyRing: publicKeys must be an object mapping node ids to PEM public keys')
    }
    const keys = new Map<string, KeyObject>()
    const entries = publicKeys instanceof Map ? [...publicKeys] : Object.entries(publicKeys)
    for (const [id, pem] of entries) {
      let key: KeyObject
      try { key = pem instanceof KeyObject ? pem : createPublicKey(pem) } catch (cause) {
        throw new QuorateError('OPTIONS_INVALID', `KeyRing: the public key of "${id}" is not a PEM key`, { cause })
      }
      if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') throw new QuorateError('OPTIONS_INVALID', `KeyRing: the key of "${id}" is ${String(key.asymmetricKeyType)}, not ed25519`)
      keys.set(id, key)
    }
    this.#keys = keys
  }

  /** The public key of `id`, or undefined. */
  get (id: string): KeyObject | undefined { return this.#keys.get(id) }

  get size (): number { return this.#keys.size }
}

/**
 * The configuration of one relay process (relay-process.ts, the `quorate-transponder` bin):
 * who it is, where agents reach it, where the station is, how both hops are secured, and the
 * relay's tuning. JSON, written by hand or by a launcher; validated like the cluster node's
 * config (src/cluster/config.ts): a misspelt key is an error naming the nearest known one,
 * never a silent default.
 *
 * @example
 * {
 *   "id": "t1",
 *   "listen": { "host": "0.0.0.0", "port": 7101 },
 *   "station": { "id": "station", "host": "10.0.0.5", "port": 7100 },
 *   "tls": { "keyFile": "certs/t1.key", "certFile": "certs/t1.crt", "caFile": "certs/ca.crt" },
 *   "relay": { "windowMs": 20, "reportIntervalMs": 1000 },
 *   "uplink": { "maxInFlight": 4 }
 * }
 */
import { readFile } from 'node:fs/promises'
import { QuorateError } from '../errors.js'
import type { TcpTlsOptions } from '../transport/tcp.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { TRANSPONDER_DEFAULTS } from './relay.js'
import { SOCKET_UPLINK_DEFAULTS } from './uplink-socket.js'

export interface RelayTlsFiles {
  /** PEM private key of this relay. */
  readonly keyFile: string
  /** PEM certificate with SAN URI quorate://node/<id>. */
  readonly certFile: string
  /** PEM certificate of the cluster CA. */
  readonly caFile: string
}

export interface RelayProcessConfig {
  /** The relay's id: its certificate identity on both hops, and its name in agents' rankings. */
  readonly id: string
  /** Where agents connect (downlinks); port 0 picks a free one (printed in the ready line). */
  readonly listen: { readonly host: string, readonly port: number }
  /** The tracking station's uplink endpoint and certificate identity (@default id 'station'). */
  readonly station: { readonly id?: string, readonly host: string, readonly port: number }
  /** Mutual TLS files for both hops; required unless `insecure: true`. */
  readonly tls?: RelayTlsFiles
  /** Plain TCP on both hops (peers named by their hello). @default false */
  readonly insecure?: boolean
  /** Transponder tuning (relay.ts TRANSPONDER_DEFAULTS): windowMs, maxBatchEnvelopes, ... */
  readonly relay?: Readonly<Partial<Record<keyof typeof TRANSPONDER_DEFAULTS, number | boolean>>>
  /** Uplink tuning (uplink-socket.ts SOCKET_UPLINK_DEFAULTS): maxInFlight, backoffInitialMs, ... */
  readonly uplink?: Readonly<Partial<Record<keyof typeof SOCKET_UPLINK_DEFAULTS, number>>>
}

const C = 'RelayProcessConfig'

function checkAddress (a: unknown, field: string, extra: readonly string[] = []): void {
  checkObject(a, C, field)
  checkKnownKeys(a, `${C} ${field}`, ['host', 'port', ...extra])
  check(typeof a.host === 'string' && a.host.length > 0, C, `${field}.host`, 'a non-empty string', a.host)
  checkInt(a.port as number, C, `${field}.port`, field === 'listen' ? 0 : 1)
  check((a.port as number) <= 65535, C, `${field}.port`, 'a port (at most 65535)', a.port)
}

/** Throws OPTIONS_INVALID naming the first problem. */
export function validateRelayProcessConfig (config: RelayProcessConfig): void {
  checkObject(config as unknown, C, '(config)')
  checkKnownKeys(config, C, ['id', 'listen', 'station', 'tls', 'insecure', 'relay', 'uplink'])
  check(typeof config.id === 'string' && config.id.length > 0, C, 'id', 'a non-empty string', config.id)
  checkAddress(config.listen, 'listen')
  checkAddress(config.station, 'station', ['id'])
  check(config.station.id === undefined || (typeof config.station.id === 'string' && config.station.id.length > 0), C, 'station.id', 'a non-empty string', config.station.id)
  if (config.tls !== undefined) {
    checkObject(config.tls, C, 'tls')
    checkKnownKeys(config.tls, `${C} tls`, ['keyFile', 'certFile', 'caFile'])
    for (const k of ['keyFile', 'certFile', 'caFile'] as const) check(typeof config.tls[k] === 'string' && config.tls[k].length > 0, C, `tls.${k}`, 'a file path', config.tls[k])
    check(config.insecure !== true, C, 'insecure', 'false or absent when tls is set', config.insecure)
  } else {
    check(config.insecure === true, C, 'tls', 'set (mutual TLS) unless insecure: true is given', undefined)
  }
  for (const [field, defaults] of [['relay', TRANSPONDER_DEFAULTS], ['uplink', SOCKET_UPLINK_DEFAULTS]] as const) {
    const section = config[field]
    if (section === undefined) continue
    checkObject(section, C, field)
    checkKnownKeys(section, `${C} ${field}`, Object.keys(defaults))
    for (const [k, v] of Object.entries(section)) {
      const def = (defaults as Record<string, number | boolean>)[k]
      if (typeof def === 'boolean') check(typeof v === 'boolean', C, `${field}.${k}`, 'a boolean', v)
      else checkInt(v as number, C, `${field}.${k}`, k === 'windowMs' ? 0 : 1)
    }
  }
}

/** Reads and validates a JSON config file (OPTIONS_INVALID if unreadable or invalid). */
export async function loadRelayProcessConfig (path: string): Promise<RelayProcessConfig> {
  let config: RelayProcessConfig
  try {
    config = JSON.parse(await readFile(path, 'utf8')) as RelayProcessConfig
  } catch (err) {
    throw new QuorateError('OPTIONS_INVALID', `cannot read the relay config ${path}: ${(err as Error).message}`, { cause: err })
  }
  validateRelayProcessConfig(config)
  return config
}

/** The TLS material the config's files hold (OPTIONS_INVALID if one cannot be read). */
export async function readRelayTls (files: RelayTlsFiles): Promise<TcpTlsOptions> {
  try {
    const [key, cert, ca] = await Promise.all([files.keyFile, files.certFile, files.caFile].map(async (f) => await readFile(f, 'utf8')))
    return { key: key!, cert: cert!, ca: ca! }
  } catch (err) {
    throw new QuorateError('OPTIONS_INVALID', `cannot read the relay's TLS files: ${(err as Error).message}`, { cause: err })
  }
}

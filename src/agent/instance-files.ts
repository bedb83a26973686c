/**
 * The on-disk layout of one agent's data directory, and the instance record (pid file) the
 * agent keeps for every instance that should be running, so a restarted agent finds it again:
 *
 *   <dir>/fence.json                     highest token per lease, remembered replies
 *   <dir>/epochs/<lease>                 the current token of a lease, for managed processes
 *   <dir>/instances/<instance>/record.json   pid, kernel start time, spec, parameters, token
 *   <dir>/instances/<instance>/params/<name> one file per parameter
 *   <dir>/instances/<instance>/stdout.log, stderr.log (+ .1, .2 ... rotated)
 *
 * Names are percent-encoded, so any instance id or lease name is one path segment.
 * A record exists exactly while the agent means the instance to run (written fsync'd after
 * spawn, before the start is acknowledged; removed once a stop has seen the process gone).
 */
import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { ServiceSpec } from './protocol.js'
import { readIfExists, writeFileDurably } from './durable-file.js'

export interface InstanceRecord {
  readonly version: 1
  readonly instance: string
  readonly pid: number
  /** The kernel's start time of `pid` (/proc/<pid>/stat field 22), undefined off Linux. */
  readonly startTime: string | undefined
  readonly service: ServiceSpec
  readonly parameters: Readonly<Record<string, string>>
  readonly lease: string
  readonly token: number
  /** Whether readiness had passed when the record was last written. */
  readonly ready: boolean
  /** The agent's wall-clock ms when this process was spawned. */
  readonly spawnedAt: number
}

export class AgentFiles {
  constructor (readonly dir: string) {}

  get fenceFile (): string { return join(this.dir, 'fence.json') }
  get instancesDir (): string { return join(this.dir, 'instances') }
  get epochsDir (): string { return join(this.dir, 'epochs') }
  epochFile (lease: string): string { return join(this.epochsDir, encodeURIComponent(lease)) }
  instanceDir (instance: string): string { return join(this.instancesDir, encodeURIComponent(instance)) }
  recordFile (instance: string): string { return join(this.instanceDir(instance), 'record.json') }
  paramsDir (instance: string): string { return join(this.instanceDir(instance), 'params') }
  stdoutLog (instance: string): string { return join(this.instanceDir(instance), 'stdout.log') }
  stderrLog (instance: string): string { return join(this.instanceDir(instance), 'stderr.log') }

  async prepare (): Promise<void> {
    await mkdir(this.instancesDir, { recursive: true })
    await mkdir(this.epochsDir, { recursive: true })
  }

  async writeRecord (record: InstanceRecord): Promise<void> {
    await writeFileDurably(this.recordFile(record.instance), JSON.stringify(record))
  }

  async removeRecord (instance: string): Promise<void> {
    await rm(this.recordFile(instance), { force: true })
  }

  /** Every readable record; a damaged one is reported through `onDamaged` and skipped. */
  async records (onDamaged: (instance: string, cause: unknown) => void): Promise<InstanceRecord[]> {
    const out: InstanceRecord[] = []
    for (const name of await readdir(this.instancesDir)) {
      const instance = decodeURIComponent(name)
      try {
        const text = await readIfExists(this.recordFile(instance))
        if (text === undefined) continue
        const r = JSON.parse(text) as InstanceRecord
        if (r.version !== 1 || r.instance !== instance || !Number.isSafeInteger(r.pid)) throw new Error('not a version 1 record of this instance')
        out.push(r)
      } catch (cause) { onDamaged(instance, cause) }
    }
    return out
  }

  /** Writes each parameter to params/<name> (the set replaces any earlier one). */
  async writeParameters (instance: string, parameters: Readonly<Record<string, string>>): Promise<void> {
    const dir = this.paramsDir(instance)
    await rm(dir, { recursive: true, force: true })
    await mkdir(dir, { recursive: true })
    for (const [name, value] of Object.entries(parameters)) await writeFileDurably(join(dir, encodeURIComponent(name)), value)
  }

  async writeEpoch (lease: string, token: number): Promise<void> {
    await writeFileDurably(this.epochFile(lease), `${token}\n`)
  }
}

/** The environment variable a parameter is also given as: QUORATE_PARAM_<NAME>, non-alphanumerics as _. */
export function parameterEnvName (name: string): string {
  return 'QUORATE_PARAM_' + name.toUpperCase().replace(/[^A-Z0-9]/g, '_')
}

/** A canonical text of what makes two starts the same start (spec and parameters, key order ignored). */
export function startKey (service: ServiceSpec, parameters: Readonly<Record<string, string>>): string {
  return canonical({ service, parameters })
}

function canonical (v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(v)
}

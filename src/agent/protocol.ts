/**
 * The contract between the recovery coordinator (src/coordinator) and the node agents
 * (src/agent), and between monitors and the coordinator: the commands a coordinator sends an
 * agent, the agent's replies, and the failure events monitors and agents emit into the
 * events queue (quorate/graph). Both sides import these types and codecs from here, so the
 * coordinator never depends on the agent's implementation and the agent never depends on the
 * coordinator.
 *
 * Invariants the two sides rely on:
 * - Every command carries its coordinator's fence (the coordinator lease's name and token).
 *   An agent persists the highest token it has seen per lease name and refuses an older one
 *   with LEASE_FENCED; an equal token is the same coordinator and is accepted.
 * - Every command has an id chosen by the coordinator. Replaying a command id the agent has
 *   already executed answers the first reply again (commands are idempotent by id, so a
 *   coordinator resuming a phased rule after failover may resend).
 * - Events are JSON in the events queue's payload; an event's queue id (the producer's UUID,
 *   the dedup key) is chosen by the producer and kept across its retries.
 */
import { QuorateError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import { checkProblem } from './check-spec.js'
import type { CheckSpec } from './check-spec.js'
import { restartPolicyProblem } from './restart-policy.js'
import type { RestartPolicy } from './restart-policy.js'

/** The coordinator lease a command acts under. */
export interface CommandFence {
  /** The lease's name (the coordinator lease, by default 'quorate/coordinator'). */
  readonly lease: string
  /** The lease's fencing token at the time the command was issued. */
  readonly token: number
}

/** How a service instance is run: what the agent spawns. Plain JSON, stored in the graph. */
export interface ServiceSpec {
  readonly command: string
  readonly args?: readonly string[]
  readonly env?: Readonly<Record<string, string>>
  readonly cwd?: string
  /** Grace period between SIGTERM and SIGKILL on stop, ms. The agent documents its default. */
  readonly stopGraceMs?: number
  // Additive extension (the node agent's): how the agent checks and restarts the instance.
  /** Checked until it first passes; never passing within its threshold fails the instance. Absent: ready once spawned. */
  readonly readiness?: CheckSpec
  /** Checked after readiness; failing kills the instance and the restart policy applies. Absent: none. */
  readonly liveness?: CheckSpec
  /** The local restart policy (restart-policy.ts documents the defaults). */
  readonly restart?: RestartPolicy
}

export type AgentCommand =
  | {
    readonly kind: 'start'
    readonly id: string
    readonly fence: CommandFence
    /** The service instance's resource id in the graph. */
    readonly instance: string
    readonly service: ServiceSpec
    /** The service's parameters (resources from the graph), materialised by the agent before start. */
    readonly parameters: Readonly<Record<string, string>>
  }
  | { readonly kind: 'stop', readonly id: string, readonly fence: CommandFence, readonly instance: string }
  /** Which instances run on the agent's node, and their state. */
  | { readonly kind: 'status', readonly id: string, readonly fence: CommandFence }

export type InstanceState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed'

export interface InstanceStatus {
  readonly instance: string
  readonly state: InstanceState
  readonly pid?: number
  /** The fencing token of the command that started it. */
  readonly token: number
}

export type AgentReply =
  | { readonly id: string, readonly ok: true, readonly instances: readonly InstanceStatus[] }
  | { readonly id: string, readonly ok: false, readonly code: ErrorCode, readonly message: string }

/**
 * How a coordinator reaches agents. The agent layer provides implementations (in-process and
 * over the network); the simulator provides a virtual one. `send` settles: with the agent's
 * reply, or rejects (AGENT_UNREACHABLE, ABORTED) — never stays pending past its signal.
 */
export interface CommandChannel {
  send (node: string, command: AgentCommand, options?: { signal?: AbortSignal }): Promise<AgentReply>
}

/** Failure and state events, emitted into the events queue by agents and monitors. `at` is the producer's wall-clock ms. */
export type HaEvent =
  | { readonly type: 'instance-started', readonly node: string, readonly instance: string, readonly token: number, readonly pid: number, readonly at: number }
  | { readonly type: 'instance-exited', readonly node: string, readonly instance: string, readonly exitCode: number | null, readonly signal: string | null, readonly at: number }
  | { readonly type: 'instance-check-failed', readonly node: string, readonly instance: string, readonly check: 'readiness' | 'liveness', readonly at: number }
  | { readonly type: 'instance-ready', readonly node: string, readonly instance: string, readonly at: number }
  | { readonly type: 'node-suspect' | 'node-dead' | 'node-alive', readonly node: string, readonly observer: string, readonly at: number }
  | { readonly type: 'resource-health', readonly node: string, readonly resource: string, readonly healthy: boolean, readonly detail: string, readonly at: number }
  | { readonly type: 'command-result', readonly node: string, readonly command: string, readonly ok: boolean, readonly code: ErrorCode | null, readonly at: number }

export type HaEventType = HaEvent['type']

const EVENT_FIELDS: Readonly<Record<HaEventType, Readonly<Record<string, FieldCheck>>>> = {
  'instance-started': { node: 'string', instance: 'string', token: 'int', pid: 'int', at: 'number' },
  'instance-exited': { node: 'string', instance: 'string', exitCode: 'int?', signal: 'string?', at: 'number' },
  'instance-check-failed': { node: 'string', instance: 'string', check: 'check', at: 'number' },
  'instance-ready': { node: 'string', instance: 'string', at: 'number' },
  'node-suspect': { node: 'string', observer: 'string', at: 'number' },
  'node-dead': { node: 'string', observer: 'string', at: 'number' },
  'node-alive': { node: 'string', observer: 'string', at: 'number' },
  'resource-health': { node: 'string', resource: 'string', healthy: 'boolean', detail: 'string', at: 'number' },
  'command-result': { node: 'string', command: 'string', ok: 'boolean', code: 'string?', at: 'number' }
}

type FieldCheck = 'string' | 'string?' | 'int' | 'int?' | 'number' | 'boolean' | 'check'

function fieldOk (kind: FieldCheck, v: unknown): boolean {
  switch (kind) {
    case 'string': return typeof v === 'string' && v.length > 0 && v.length <= 256
    case 'string?': return v === null || (typeof v === 'string' && v.length <= 256)
    case 'int': return Number.isSafeInteger(v)
    case 'int?': return v === null || Number.isSafeInteger(v)
    case 'number': return typeof v === 'number' && Number.isFinite(v)
    case 'boolean': return typeof v === 'boolean'
    case 'check': return v === 'readiness' || v === 'liveness'
  }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** The event as an events-queue payload. Throws AGENT_EVENT_INVALID if it is not a well-formed HaEvent. */
export function encodeHaEvent (event: HaEvent): Uint8Array {
  const problem = haEventProblem(event)
  if (problem !== undefined) throw new QuorateError('AGENT_EVENT_INVALID', `encodeHaEvent: ${problem}`)
  return encoder.encode(JSON.stringify(event))
}

/**
 * An events-queue payload as an HaEvent, or an AGENT_EVENT_INVALID error value (returned, not
 * thrown: a consumer meets foreign or damaged payloads in the queue and must handle them, not crash).
 */
export function decodeHaEvent (payload: Uint8Array): HaEvent | QuorateError {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(payload))
  } catch (cause) {
    return new QuorateError('AGENT_EVENT_INVALID', 'decodeHaEvent: payload is not UTF-8 JSON', { cause })
  }
  const problem = haEventProblem(value)
  return problem === undefined ? value as HaEvent : new QuorateError('AGENT_EVENT_INVALID', `decodeHaEvent: ${problem}`)
}

/** Why `value` is not a well-formed HaEvent, or undefined if it is (exactly the declared fields, of their types). */
export function haEventProblem (value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'an event is an object'
  const type = (value as { type?: unknown }).type
  if (typeof type !== 'string' || !Object.hasOwn(EVENT_FIELDS, type)) return `unknown event type ${JSON.stringify(type)}`
  const fields = EVENT_FIELDS[type as HaEventType]
  for (const key of Object.keys(value)) {
    if (key !== 'type' && !Object.hasOwn(fields, key)) return `${type}: unknown field "${key}"`
  }
  for (const [key, kind] of Object.entries(fields)) {
    if (!fieldOk(kind, (value as Record<string, unknown>)[key])) return `${type}: field "${key}" must be ${kind}`
  }
  return undefined
}

/** Why `value` is not a well-formed AgentCommand, or undefined if it is. Agents check every command they receive. */
export function agentCommandProblem (value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a command is an object'
  const c = value as Record<string, unknown>
  if (typeof c.id !== 'string' || c.id.length === 0 || c.id.length > 128) return 'id must be a string of 1 to 128 characters'
  const fence = c.fence as Record<string, unknown> | null | undefined
  if (typeof fence !== 'object' || fence === null || typeof fence.lease !== 'string' || fence.lease.length === 0 || !Number.isSafeInteger(fence.token) || (fence.token as number) < 1) {
    return 'fence must be { lease: non-empty string, token: positive integer }'
  }
  const known: Record<string, readonly string[]> = {
    start: ['kind', 'id', 'fence', 'instance', 'service', 'parameters'],
    stop: ['kind', 'id', 'fence', 'instance'],
    status: ['kind', 'id', 'fence']
  }
  const keys = typeof c.kind === 'string' && Object.hasOwn(known, c.kind) ? known[c.kind]! : undefined
  if (keys === undefined) return `unknown command kind ${JSON.stringify(c.kind)}`
  for (const key of Object.keys(c)) if (!keys.includes(key)) return `${String(c.kind)}: unknown field "${key}"`
  if (c.kind === 'status') return undefined
  if (typeof c.instance !== 'string' || c.instance.length === 0) return `${c.kind}: instance must be a non-empty string`
  if (c.kind === 'stop') return undefined
  const s = c.service as Record<string, unknown> | null | undefined
  if (typeof s !== 'object' || s === null || typeof s.command !== 'string' || s.command.length === 0) return 'start: service.command must be a non-empty string'
  for (const key of Object.keys(s)) if (!['command', 'args', 'env', 'cwd', 'stopGraceMs', 'readiness', 'liveness', 'restart'].includes(key)) return `start: unknown service field "${key}"`
  for (const role of ['readiness', 'liveness'] as const) {
    const problem = s[role] === undefined ? undefined : checkProblem(s[role], role)
    if (problem !== undefined) return `start: ${problem}`
  }
  const restartProblem = s.restart === undefined ? undefined : restartPolicyProblem(s.restart)
  if (restartProblem !== undefined) return `start: ${restartProblem}`
  if (s.args !== undefined && (!Array.isArray(s.args) || !s.args.every((a) => typeof a === 'string'))) return 'start: service.args must be an array of strings'
  if (s.env !== undefined && !isStringRecord(s.env)) return 'start: service.env must map names to strings'
  if (s.cwd !== undefined && typeof s.cwd !== 'string') return 'start: service.cwd must be a string'
  if (s.stopGraceMs !== undefined && (!Number.isSafeInteger(s.stopGraceMs) || (s.stopGraceMs as number) < 0)) return 'start: service.stopGraceMs must be a non-negative integer'
  if (!isStringRecord(c.parameters)) return 'start: parameters must map names to strings'
  return undefined
}

function isStringRecord (v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')
}

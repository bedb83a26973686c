/**
 * The node agent: the only thing that starts and kills service processes on its node. It
 * executes the coordinator's commands (start, stop, status) after checking their fence and
 * their id, supervises each instance (managed-instance.ts), reports every exit, readiness and
 * check failure as an HaEvent through the events queue, and on open re-adopts the instances
 * an earlier agent left running.
 *
 * Order of effects for one command (each step durable before the next):
 *   1. a remembered id answers its first reply, with no other effect;
 *   2. the fence is admitted (or the command refused with LEASE_FENCED); a newer token is
 *      fsync'd, and written to the lease's epoch file, before anything acts on it;
 *   3. the command executes (per instance, one command at a time);
 *   4. the reply is fsync'd, then returned, then reported as a 'command-result' event (a
 *      reply that cannot be persisted is not acknowledged: AGENT_IO_FAILED, and a resend
 *      with the same id runs again — start and stop are idempotent).
 *
 * close() stops supervising and leaves services running: the next agent adopts them.
 */
import { isQuorateError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import type { Clock } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import { Lifecycle } from '../util/lifecycle.js'
import { check, checkBool, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { agentCommandProblem } from './protocol.js'
import type { AgentCommand, AgentReply, HaEvent, InstanceStatus } from './protocol.js'
import { FenceStore } from './fence-store.js'
import { AgentFiles } from './instance-files.js'
import { ManagedInstance } from './managed-instance.js'
import type { InstanceHost } from './managed-instance.js'
import { rotateIfLarge } from './log-files.js'
import { checkReportingOptions, EVENT_FLUSH_MS, EventReporter, REPORTING_KEYS } from './event-reporter.js'
import type { ReportingOptions } from './event-reporter.js'

export interface NodeAgentOptions extends ReportingOptions {
  /** This node's id (the `node` of every event the agent emits). */
  readonly node: string
  /** The agent's data directory: fence file, instance records, parameters, logs. */
  readonly dir: string
  /** SIGTERM → SIGKILL grace when a service spec gives none, ms. @default 10000 */
  readonly stopGraceMs?: number
  /** Poll interval for processes adopted from an earlier agent (exit detection), ms. @default 50 */
  readonly adoptedPollMs?: number
  /** Command replies remembered for replay by id (persisted). @default 1024 */
  readonly rememberedReplies?: number
  /** Whether services start from the agent's own environment (then their spec's env). @default true */
  readonly inheritEnv?: boolean
  /** A log file larger than this is rotated, bytes. @default 10485760 (10 MiB) */
  readonly maxLogBytes?: number
  /** Rotated log files kept per stream. @default 3 */
  readonly maxLogFiles?: number
  /** How often log sizes are checked, ms. @default 5000 */
  readonly logCheckMs?: number
}

export const NODE_AGENT_DEFAULTS = {
  stopGraceMs: 10_000, adoptedPollMs: 50, rememberedReplies: 1024, inheritEnv: true,
  maxLogBytes: 10 * 1024 * 1024, maxLogFiles: 3, logCheckMs: 5000
} as const

const KEYS = ['node', 'dir', 'stopGraceMs', 'adoptedPollMs', 'rememberedReplies', 'inheritEnv', 'maxLogBytes', 'maxLogFiles', 'logCheckMs', ...REPORTING_KEYS] as const
type CheckedKeys = typeof KEYS[number]
// Compile-time: the key list names exactly the interface's keys.
const _keysComplete: Record<keyof NodeAgentOptions, true> = Object.fromEntries(KEYS.map((k) => [k, true])) as Record<CheckedKeys, true>
void _keysComplete

function validate (o: NodeAgentOptions): void {
  checkObject(o, 'NodeAgent', '(options)')
  checkKnownKeys(o, 'NodeAgent', KEYS)
  check(typeof o.node === 'string' && o.node.length > 0 && o.node.length <= 256, 'NodeAgent', 'node', 'a string of 1 to 256 characters', o.node)
  check(typeof o.dir === 'string' && o.dir.length > 0, 'NodeAgent', 'dir', 'a directory path', o.dir)
  checkReportingOptions(o, 'NodeAgent')
  if (o.inheritEnv !== undefined) checkBool(o.inheritEnv, 'NodeAgent', 'inheritEnv')
  for (const f of ['stopGraceMs', 'maxLogFiles'] as const) if (o[f] !== undefined) checkInt(o[f], 'NodeAgent', f, 0)
  for (const f of ['adoptedPollMs', 'rememberedReplies', 'maxLogBytes', 'logCheckMs'] as const) if (o[f] !== undefined) checkInt(o[f], 'NodeAgent', f, 1)
}

export class NodeAgent {
  readonly node: string
  readonly #o: NodeAgentOptions
  readonly #files: AgentFiles
  readonly #clock: Clock
  readonly #life = new Lifecycle('node agent')
  readonly #host: InstanceHost
  #store: FenceStore | undefined
  readonly #instances = new Map<string, ManagedInstance>()
  /** The tail of each instance's command chain: one command per instance at a time. */
  readonly #locks = new Map<string, Promise<unknown>>()
  readonly #inflight = new Map<string, Promise<AgentReply>>()
  readonly #reporter: EventReporter
  #housekeeping: ReturnType<Clock['setTimeout']> | undefined

  constructor (options: NodeAgentOptions) {
    validate(options)
    this.#o = options
    this.node = options.node
    this.#files = new AgentFiles(options.dir)
    this.#clock = options.clock ?? systemClock
    this.#reporter = new EventReporter({ ...options, clock: this.#clock, flushMs: options.eventFlushMs ?? EVENT_FLUSH_MS, owner: `node agent ${options.node}` })
    const baseEnv = (options.inheritEnv ?? true) ? process.env : { PATH: process.env.PATH }
    this.#host = {
      node: options.node,
      files: this.#files,
      clock: this.#clock,
      wallClock: options.now ?? Date.now,
      stopGraceMs: options.stopGraceMs ?? NODE_AGENT_DEFAULTS.stopGraceMs,
      adoptedPollMs: options.adoptedPollMs ?? NODE_AGENT_DEFAULTS.adoptedPollMs,
      baseEnv,
      emit: (event) => { this.#emit(event) }
    }
  }

  get isOpen (): boolean { return this.#life.isOpen }

  /** Loads the fence file and re-adopts the instances an earlier agent left running. Idempotent. */
  async open (signal?: AbortSignal): Promise<void> {
    await this.#life.open(async () => {
      await this.#files.prepare()
      this.#store = await FenceStore.open(this.#files.fenceFile, this.#o.rememberedReplies ?? NODE_AGENT_DEFAULTS.rememberedReplies)
      this.#reporter.reset()
      const damaged: string[] = []
      for (const record of await this.#files.records((instance) => { damaged.push(instance) })) {
        const inst = new ManagedInstance(this.#host, record.instance, record.service, record.parameters, record.lease, record.token)
        this.#instances.set(record.instance, inst)
        if (!(await inst.adopt(record))) inst.lostWhileAway(record)
      }
      for (const instance of damaged) this.#emit({ type: 'resource-health', node: this.node, resource: instance, healthy: false, detail: 'instance record damaged; not adopted', at: this.#host.wallClock() })
    }, signal, () => { this.#scheduleHousekeeping() })
  }

  /**
   * Stops supervising (timers, checks, restarts) and leaves every service running, for the
   * next agent to adopt; waits for commands in flight, and up to eventFlushMs for unacknowledged
   * events. Idempotent.
   */
  async close (): Promise<void> {
    await this.#life.close(async () => {
      if (this.#housekeeping !== undefined) this.#clock.clearTimeout(this.#housekeeping)
      await Promise.allSettled([...this.#inflight.values()])
      for (const inst of this.#instances.values()) inst.detach()
      this.#instances.clear()
      await this.#reporter.flush()
    })
  }

  /** Executes a coordinator's command (any value: malformed input gets AGENT_COMMAND_INVALID). Never rejects. */
  async handle (command: unknown): Promise<AgentReply> {
    const problem = agentCommandProblem(command)
    const rawId = (command as { id?: unknown } | null)?.id
    const id = typeof rawId === 'string' ? rawId.slice(0, 128) : ''
    if (problem !== undefined) return refusal(id, 'AGENT_COMMAND_INVALID', `node agent ${this.node}: ${problem}`)
    if (!this.#life.isOpen) return refusal(id, 'NODE_NOT_OPEN', `node agent ${this.node} is not open`)
    const c = command as AgentCommand
    const store = this.#store!
    const remembered = store.reply(c.id)
    if (remembered !== undefined) return remembered
    const inflight = this.#inflight.get(c.id)
    if (inflight !== undefined) return await inflight
    const run = this.#run(c, store)
    this.#inflight.set(c.id, run)
    try { return await run } finally { this.#inflight.delete(c.id) }
  }

  /** The instances this agent supervises and their state. */
  status (): InstanceStatus[] {
    return [...this.#instances.values()].map((i) => i.status())
  }

  /** Local restarts the agent made of `instance` in this life (0 after adoption). */
  restarts (instance: string): number { return this.#instances.get(instance)?.restarts ?? 0 }

  /** The highest fencing token admitted for `lease` (0 if none). */
  highestToken (lease: string): number {
    this.#life.assertOpen()
    return this.#store!.highest(lease)
  }

  /** Stops every instance (for an operator shutting the node down, or tests). */
  async stopAll (): Promise<void> {
    this.#life.assertOpen()
    await Promise.all([...this.#instances.keys()].map((instance) => this.#withInstance(instance, async () => {
      await this.#instances.get(instance)?.stop()
      this.#instances.delete(instance)
    })))
  }

  async #run (c: AgentCommand, store: FenceStore): Promise<AgentReply> {
    let reply: AgentReply
    try {
      if (await store.admit(c.fence.lease, c.fence.token)) await this.#files.writeEpoch(c.fence.lease, c.fence.token)
      reply = await this.#execute(c)
    } catch (err) {
      // Anything but a QuorateError is the agent's own I/O failing (its directory, a log file).
      const code: ErrorCode = isQuorateError(err) ? err.code : 'AGENT_IO_FAILED'
      reply = refusal(c.id, code, err instanceof Error ? err.message : String(err))
    }
    // An I/O failure is not remembered: a resend with the same id tries again.
    if (reply.ok || reply.code !== 'AGENT_IO_FAILED') {
      try {
        await store.remember(c.id, reply)
      } catch (err) {
        reply = refusal(c.id, 'AGENT_IO_FAILED', `node agent ${this.node}: could not persist the reply: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    this.#emit({ type: 'command-result', node: this.node, command: c.id, ok: reply.ok, code: reply.ok ? null : reply.code, at: this.#host.wallClock() })
    return reply
  }

  async #execute (c: AgentCommand): Promise<AgentReply> {
    switch (c.kind) {
      case 'status': return { id: c.id, ok: true, instances: this.status() }
      case 'stop':
        return await this.#withInstance(c.instance, async () => {
          const inst = this.#instances.get(c.instance)
          if (inst === undefined) return { id: c.id, ok: true, instances: [{ instance: c.instance, state: 'stopped', token: c.fence.token }] }
          await inst.stop()
          this.#instances.delete(c.instance)
          return { id: c.id, ok: true, instances: [inst.status()] }
        })
      case 'start':
        return await this.#withInstance(c.instance, async () => {
          const existing = this.#instances.get(c.instance)
          const fresh = new ManagedInstance(this.#host, c.instance, c.service, c.parameters, c.fence.lease, c.fence.token)
          if (existing !== undefined) {
            // Idempotent: the same spec and parameters, still meant to run, is the running instance.
            if (existing.key === fresh.key && (existing.state === 'starting' || existing.state === 'running')) return { id: c.id, ok: true, instances: [existing.status()] }
            await existing.stop()
            this.#instances.delete(c.instance)
          }
          await fresh.start()
          this.#instances.set(c.instance, fresh)
          return { id: c.id, ok: true, instances: [fresh.status()] }
        })
    }
  }

  async #withInstance<T> (instance: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(instance) ?? Promise.resolve()
    const next = previous.then(fn, fn)
    const tail = next.catch(() => {})
    this.#locks.set(instance, tail)
    try { return await next } finally { if (this.#locks.get(instance) === tail) this.#locks.delete(instance) }
  }

  #emit (event: HaEvent): void { this.#reporter.report(event) }

  #scheduleHousekeeping (): void {
    this.#housekeeping = this.#clock.setTimeout(() => {
      void this.#rotateLogs().finally(() => { if (this.#life.isOpen) this.#scheduleHousekeeping() })
    }, this.#o.logCheckMs ?? NODE_AGENT_DEFAULTS.logCheckMs)
  }

  async #rotateLogs (): Promise<void> {
    const maxBytes = this.#o.maxLogBytes ?? NODE_AGENT_DEFAULTS.maxLogBytes
    const maxFiles = this.#o.maxLogFiles ?? NODE_AGENT_DEFAULTS.maxLogFiles
    for (const instance of this.#instances.keys()) {
      for (const log of [this.#files.stdoutLog(instance), this.#files.stderrLog(instance)]) {
        await rotateIfLarge(log, maxBytes, maxFiles).catch(() => {})
      }
    }
  }
}

function refusal (id: string, code: ErrorCode, message: string): AgentReply {
  return { id, ok: false, code, message }
}

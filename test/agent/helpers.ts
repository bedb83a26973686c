/** Shared by the agent's real-process tests: a temporary agent directory, commands, waiting for events. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NodeAgent } from '../../src/agent/index.js'
import type { AgentCommand, AgentReply, HaEvent, NodeAgentOptions, ServiceSpec } from '../../src/agent/index.js'

export const LEASE = 'quorate/coordinator'
let ids = 0

export function start (instance: string, service: ServiceSpec, parameters: Record<string, string> = {}, token = 1): AgentCommand {
  return { kind: 'start', id: `c${++ids}`, fence: { lease: LEASE, token }, instance, service, parameters }
}
export function stop (instance: string, token = 1): AgentCommand {
  return { kind: 'stop', id: `c${++ids}`, fence: { lease: LEASE, token }, instance }
}

/** A node script as a service: `node -e <source>`. */
export function nodeService (source: string, extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return { command: process.execPath, args: ['-e', source], ...extra }
}

/** An agent on a fresh directory that records its events; `waitFor` resolves at the first matching event (bounded). */
export class AgentFixture {
  readonly events: HaEvent[] = []
  readonly #waiters: Array<{ match: (e: HaEvent) => boolean, resolve: (e: HaEvent) => void }> = []
  agent!: NodeAgent
  dir!: string

  static async create (options: Partial<NodeAgentOptions> = {}, dir?: string): Promise<AgentFixture> {
    const f = new AgentFixture()
    f.dir = dir ?? await mkdtemp(join(tmpdir(), 'quorate-agent-'))
    await f.reopen(options)
    return f
  }

  async reopen (options: Partial<NodeAgentOptions> = {}): Promise<void> {
    this.agent = new NodeAgent({
      node: 'w1',
      dir: this.dir,
      stopGraceMs: 2000,
      onEvent: (e) => {
        this.events.push(e)
        for (let i = this.#waiters.length - 1; i >= 0; i--) {
          const w = this.#waiters[i]!
          if (w.match(e)) { this.#waiters.splice(i, 1); w.resolve(e) }
        }
      },
      ...options
    })
    await this.agent.open()
  }

  async ok (command: AgentCommand): Promise<AgentReply & { ok: true }> {
    const reply = await this.agent.handle(command)
    if (!reply.ok) throw new Error(`command ${command.kind} refused: ${reply.code} ${reply.message}`)
    return reply
  }

  /** The first event (already seen or future) matching, or throws after `ms`. */
  waitFor (match: (e: HaEvent) => boolean, ms = 10_000, after = 0): Promise<HaEvent> {
    const seen = this.events.slice(after).find(match)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no matching event within ${ms} ms; saw ${JSON.stringify(this.events.map((e) => e.type))}`)) }, ms)
      this.#waiters.push({ match, resolve: (e) => { clearTimeout(timer); resolve(e) } })
    })
  }

  count (type: HaEvent['type'], instance?: string): number {
    return this.events.filter((e) => e.type === type && (instance === undefined || (e as { instance?: string }).instance === instance)).length
  }

  async cleanup (): Promise<void> {
    if (this.agent.isOpen) await this.agent.stopAll()
    await this.agent.close()
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** True if `pid` is alive (signal 0). */
export function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

export function sleep (ms: number): Promise<void> { return new Promise((resolve) => setTimeout(resolve, ms)) }

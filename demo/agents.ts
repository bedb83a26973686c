/**
 * The demo's worker nodes: one `quorate-agent` process each (src/cluster/agent-process.ts),
 * spawned with `--exit-with-stdin --stop-services-on-exit`, so an agent whose demo dies takes
 * its services down with it. Parses the agents' stdout lines (ready, commands, events) and
 * hands them to the story; `kill(id)` SIGKILLs an agent (its services are the story's to kill).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AGENT_COMMAND_PREFIX, AGENT_EVENT_PREFIX, AGENT_READY_PREFIX } from '../src/cluster/agent-process.js'
import type { AgentProcessConfig } from '../src/cluster/agent-process.js'
import { readLines } from '../src/cluster/launcher.js'

const AGENT_SCRIPT = fileURLToPath(new URL('../src/cluster/agent-process.js', import.meta.url))
const READY_TIMEOUT_MS = 20_000

export interface AgentCommandLine { readonly id: string, readonly kind: string, readonly instance: string | null, readonly token: number | null }
export interface AgentEventLine { readonly id: string, readonly status: string, readonly type: string, readonly node: string, readonly instance?: string, readonly observer?: string, readonly at: number }

export interface AgentListener {
  command: (node: string, c: AgentCommandLine) => void
  event: (node: string, e: AgentEventLine) => void
  stderr: (node: string, line: string) => void
}

export class AgentFleet {
  readonly #children = new Map<string, ChildProcess>()
  readonly #exited = new Map<string, Promise<void>>()
  readonly #listener: AgentListener
  readonly #configs = new Map<string, string>()

  constructor (listener: AgentListener) { this.#listener = listener }

  /** Every pid spawned, in order (for the exit hook and the tests). */
  readonly pids: number[] = []

  /** Writes each agent's config into `dir/agents/`. */
  async configure (dir: string, configs: readonly AgentProcessConfig[]): Promise<void> {
    await mkdir(join(dir, 'agents'), { recursive: true })
    for (const c of configs) {
      const path = join(dir, 'agents', `${c.node}.json`)
      await writeFile(path, JSON.stringify(c, null, 2) + '\n')
      this.#configs.set(c.node, path)
    }
  }

  get ids (): string[] { return [...this.#configs.keys()] }
  pid (id: string): number | null { return this.#children.get(id)?.pid ?? null }
  isRunning (id: string): boolean { return this.#children.has(id) }

  /** Spawns the agent and resolves once it printed its ready line. */
  async start (id: string): Promise<void> {
    const child = spawn(process.execPath, [AGENT_SCRIPT, '--config', this.#configs.get(id)!, '--exit-with-stdin', '--stop-services-on-exit'], { stdio: ['pipe', 'pipe', 'pipe'] })
    child.stdin.on('error', () => {})
    if (child.pid !== undefined) this.pids.push(child.pid)
    this.#children.set(id, child)
    this.#exited.set(id, new Promise((resolve) => { child.once('exit', () => { if (this.#children.get(id) === child) this.#children.delete(id); resolve() }) }))
    readLines(child.stderr, (line) => { this.#listener.stderr(id, line) })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`agent ${id} printed no ready line within ${READY_TIMEOUT_MS} ms`)) }, READY_TIMEOUT_MS)
      child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`agent ${id} exited before it was ready (code ${String(code)}, signal ${String(signal)})`)) })
      readLines(child.stdout, (line) => {
        if (line.startsWith(AGENT_READY_PREFIX)) { clearTimeout(timer); resolve(); return }
        try {
          if (line.startsWith(AGENT_COMMAND_PREFIX)) this.#listener.command(id, JSON.parse(line.slice(AGENT_COMMAND_PREFIX.length)) as AgentCommandLine)
          else if (line.startsWith(AGENT_EVENT_PREFIX)) this.#listener.event(id, JSON.parse(line.slice(AGENT_EVENT_PREFIX.length)) as AgentEventLine)
        } catch { /* a torn line: the story only loses one observation */ }
      })
    })
  }

  /** SIGKILLs the agent (not its services) and resolves once it exited. */
  async kill (id: string): Promise<void> {
    this.#children.get(id)?.kill('SIGKILL')
    await this.#exited.get(id)
  }

  /** SIGTERM to every agent (they stop their services), SIGKILL after `graceMs`. */
  async close (graceMs = 5000): Promise<void> {
    await Promise.all([...this.#children.entries()].map(async ([id, child]) => {
      const force = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
      child.kill('SIGTERM')
      await this.#exited.get(id)
      clearTimeout(force)
    }))
  }
}

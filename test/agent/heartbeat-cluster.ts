/** Shared by the heartbeat test, bench/agent.ts and the soak: N HeartbeatMonitor processes on loopback. */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { HaEvent } from '../../src/agent/index.js'

export interface SeenEvent { readonly event: HaEvent, readonly mono: number, readonly by: string }

/** A free TCP port on 127.0.0.1 (closed again: the child binds it). */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

export class HeartbeatCluster {
  readonly events: SeenEvent[] = []
  readonly procs = new Map<string, ChildProcess>()
  ports: Record<string, number> = {}

  static async start (ids: readonly string[]): Promise<HeartbeatCluster> {
    const c = new HeartbeatCluster()
    for (const id of ids) c.ports[id] = await freePort()
    await Promise.all(ids.map((id) => c.launch(id)))
    return c
  }

  async launch (id: string): Promise<void> {
    const main = fileURLToPath(new URL('./heartbeat-main.js', import.meta.url))
    const peers = Object.fromEntries(Object.entries(this.ports).filter(([p]) => p !== id))
    const child = spawn(process.execPath, [main, id, String(this.ports[id]), JSON.stringify(peers)], { stdio: ['ignore', 'pipe', 'inherit'] })
    this.procs.set(id, child)
    const lines = createInterface({ input: child.stdout! })
    await new Promise<void>((resolve, reject) => {
      child.once('exit', () => { reject(new Error(`${id} exited`)) })
      lines.on('line', (line) => {
        const m = JSON.parse(line) as { ready?: boolean, event?: HaEvent, mono?: number }
        if (m.ready === true) resolve()
        if (m.event !== undefined) this.events.push({ event: m.event, mono: m.mono!, by: id })
      })
    })
  }

  signal (id: string, signal: NodeJS.Signals): void { this.procs.get(id)!.kill(signal) }

  /** Resolves with the first event matching (seen or future), or rejects after `ms`. */
  async waitFor (match: (e: SeenEvent) => boolean, ms: number): Promise<SeenEvent> {
    const deadline = Date.now() + ms
    for (;;) {
      const found = this.events.find(match)
      if (found !== undefined) return found
      if (Date.now() > deadline) throw new Error(`no matching event within ${ms} ms`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  async stop (): Promise<void> {
    for (const child of this.procs.values()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGKILL')
        await new Promise((resolve) => child.once('exit', resolve))
      }
    }
  }
}

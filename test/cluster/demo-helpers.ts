/** Runs the demo as a child process for the demo tests (demo.test.ts, demo-ha.test.ts). */
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { processAlive } from './process-helpers.js'

export const DEMO = fileURLToPath(new URL('../../demo/demo.js', import.meta.url))

export interface DemoRun { readonly code: number | null, readonly stdout: string, readonly stderr: string }

/** Runs the demo; `onLine` may act on each stdout line (for example send a signal, or close the pipe). */
export async function runDemo (args: string[], onLine: (line: string, pid: number, stdout: NodeJS.ReadableStream & { destroy: () => void }) => void = () => {}, env: NodeJS.ProcessEnv = process.env): Promise<DemoRun> {
  const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let stdout = ''
  let stderr = ''
  let partial = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
    partial += d
    let nl: number
    while ((nl = partial.indexOf('\n')) >= 0) {
      onLine(partial.slice(0, nl), child.pid!, child.stdout)
      partial = partial.slice(nl + 1)
    }
  })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const code = await new Promise<number | null>((resolve) => { child.once('exit', (c) => { resolve(c) }) })
  return { code, stdout, stderr }
}

/** Every "(pid N)" the demo printed: node processes, agents, services. */
export function nodePids (stdout: string): number[] {
  return [...new Set([...stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1])))]
}

export function storageDir (stdout: string): string {
  const m = /storage and configs in (\S+)/.exec(stdout)
  assert.ok(m !== null, 'the demo names its directory')
  return m[1]!
}


/** Fails unless every pid is gone (SIGKILLed processes take the kernel a moment to reap). */
export async function noneAlive (pids: readonly number[]): Promise<void> {
  for (let i = 0; i < 100 && pids.some(processAlive); i++) await new Promise((resolve) => setTimeout(resolve, 20))
  for (const pid of pids) assert.not.ok(processAlive(pid), `process ${pid} outlived the demo`)
}


/** Child processes for the multi-process benchmarks: free ports, fork with IPC, awaiting replies. */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { createServer } from 'node:net'

/** Free loopback ports (bound to port 0, then released; the small race is fine for a benchmark). */
export async function freePorts (n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, async () => await new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => resolve(s))
  })))
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map(async (s) => await new Promise((resolve) => s.close(resolve))))
  return ports
}

/**
 * Forks `script` with IPC. A send to a child that already exited emits 'error' on it: ignored
 * here (it would throw), since the exit is what nextMessage reports.
 */
export function forkScript (script: string, arg: unknown, execArgv: string[] = []): ChildProcess {
  const child = fork(script, [JSON.stringify(arg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv })
  child.on('error', () => {})
  return child
}

/**
 * The next IPC message from `child` that has `key`. Bounded: rejects after `timeoutMs` (the
 * child keeps running; a late message is ignored) or when the child exits first.
 */
export async function nextMessage<T> (child: ChildProcess, key: string, timeoutMs = 120_000): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) { reject(new Error(`process exited (${String(child.exitCode ?? child.signalCode)}) before sending '${key}'`)); return }
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no '${key}' message within ${timeoutMs} ms`)) }, timeoutMs)
    const onMessage = (m: Record<string, unknown>): void => {
      if (m !== null && typeof m === 'object' && key in m) { cleanup(); resolve(m[key] as T) }
    }
    const onExit = (code: number | null): void => { cleanup(); reject(new Error(`process exited (${String(code)}) before sending '${key}'`)) }
    const cleanup = (): void => { clearTimeout(timer); child.off('message', onMessage); child.off('exit', onExit) }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

export async function waitExit (child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve() }, timeoutMs)
    child.once('exit', () => { clearTimeout(timer); resolve() })
  })
}

/** The soft limit on open files of this process ("Max open files" in /proc/self/limits), or null off Linux. */
export function openFileLimit (): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const soft = line?.split(/\s{2,}/)[1]
    return soft === undefined ? null : Number(soft)
  } catch { return null }
}

/** Resident memory (VmRSS) and open file descriptors of process `pid` from /proc, or null (off Linux, or it exited). */
export function processUsage (pid: number): { rssBytes: number, fds: number } | null {
  try {
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return rss === null ? null : { rssBytes: Number(rss[1]) * 1024, fds: readdirSync(`/proc/${pid}/fd`).length }
  } catch { return null }
}

/**
 * Running readiness and liveness checks (declared in check-spec.ts): one attempt at a time,
 * each resolving true or false, never rejecting, never outliving its timeout.
 */
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { open } from 'node:fs/promises'
import type { CheckSpec } from './check-spec.js'

/** What one attempt needs besides the spec: the instance's stdout log, read from `stdoutFrom`. */
export interface ProbeContext {
  readonly stdoutLog: string
  stdoutFrom: number
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string | undefined
}

/** One attempt: resolves true (passed) or false (failed or timed out); never rejects. */
export async function probe (spec: CheckSpec, timeoutMs: number, ctx: ProbeContext): Promise<boolean> {
  try {
    switch (spec.kind) {
      case 'command': return await probeCommand(spec.command, spec.args ?? [], timeoutMs, ctx)
      case 'tcp': return await probeTcp(spec.host ?? '127.0.0.1', spec.port, timeoutMs)
      case 'http': return await probeHttp(spec.url, timeoutMs)
      case 'stdout': return await probeStdout(new RegExp(spec.pattern, 'm'), ctx)
    }
  } catch { return false }
}

function probeCommand (command: string, args: readonly string[], timeoutMs: number, ctx: ProbeContext): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore', env: ctx.env, cwd: ctx.cwd, detached: true })
    const timer = setTimeout(() => {
      try { process.kill(-(child.pid ?? 0), 'SIGKILL') } catch {}
      resolve(false)
    }, timeoutMs)
    child.once('error', () => { clearTimeout(timer); resolve(false) })
    child.once('exit', (code) => { clearTimeout(timer); resolve(code === 0) })
  })
}

function probeTcp (host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs })
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.once('connect', () => { done(true) })
    socket.once('timeout', () => { done(false) })
    socket.once('error', () => { done(false) })
  })
}

function probeHttp (url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume()
      const status = res.statusCode ?? 0
      resolve(status >= 200 && status < 400)
    })
    req.once('timeout', () => { req.destroy(); resolve(false) })
    req.once('error', () => { resolve(false) })
    req.end()
  })
}

/** Scans the stdout log from where the last attempt stopped (at most 1 MiB per attempt). */
async function probeStdout (pattern: RegExp, ctx: ProbeContext): Promise<boolean> {
  const file = await open(ctx.stdoutLog, 'r')
  try {
    const { size } = await file.stat()
    if (size < ctx.stdoutFrom) ctx.stdoutFrom = 0 // rotated (copy-truncate): read from the start
    const length = Math.min(size - ctx.stdoutFrom, 1 << 20)
    if (length <= 0) return false
    const buffer = Buffer.alloc(length)
    const { bytesRead } = await file.read(buffer, 0, length, ctx.stdoutFrom)
    const text = buffer.subarray(0, bytesRead).toString('utf8')
    // Only whole lines count; a partial last line is read again next time.
    const end = text.lastIndexOf('\n')
    if (end < 0) return false
    ctx.stdoutFrom += Buffer.byteLength(text.slice(0, end + 1))
    return pattern.test(text.slice(0, end))
  } finally { await file.close() }
}

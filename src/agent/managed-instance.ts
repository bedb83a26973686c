/**
 * One service instance on this node, from its first spawn to its final stop: spawning it in its
 * own process group with its stdio on log files, watching it exit (as its parent, or by polling
 * /proc for a process adopted from an earlier agent), readiness then liveness checks, local
 * restarts with backoff, and stop (SIGTERM to the group, SIGKILL after the grace period,
 * resolved only once every process of the group is gone).
 *
 * Invariants: at most one process of the instance exists at a time (a restart spawns only
 * after the previous process has exited and its group was killed); `#run` is replaced on every
 * spawn and on stop, and every timer or callback of an older run sees its signal aborted and
 * does nothing; the instance record on disk names the current process before `start()` resolves.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { QuorateError } from '../errors.js'
import type { Clock } from '../util/clock.js'
import type { HaEvent, InstanceState, InstanceStatus, ServiceSpec } from './protocol.js'
import { LIVENESS_DEFAULTS, READINESS_DEFAULTS } from './check-spec.js'
import type { CheckSpec } from './check-spec.js'
import { probe } from './checks.js'
import type { ProbeContext } from './checks.js'
import { RestartBackoff } from './restart-policy.js'
import { AgentFiles, parameterEnvName, startKey } from './instance-files.js'
import type { InstanceRecord } from './instance-files.js'
import { openLog } from './log-files.js'
import { groupExists, isSameProcess, processStartTime, signalGroup } from './proc.js'

/** What an instance needs from its agent. */
export interface InstanceHost {
  readonly node: string
  readonly files: AgentFiles
  readonly clock: Clock
  readonly wallClock: () => number
  /** Default SIGTERM → SIGKILL grace, ms. */
  readonly stopGraceMs: number
  /** How often an adopted process (not our child) is polled for exit, ms. */
  readonly adoptedPollMs: number
  /** The environment every instance starts from (before its spec's env and parameters). */
  readonly baseEnv: Readonly<Record<string, string | undefined>>
  emit: (event: HaEvent) => void
}

interface Running {
  readonly pid: number
  readonly startTime: string | undefined
  readonly child: ChildProcess | undefined
  readonly exited: Promise<{ exitCode: number | null, signal: string | null }>
  readonly spawnedAt: number
  /** Set by the first #terminate: a second caller (stop during a failed check's kill) joins it. */
  terminating?: Promise<void>
}

export class ManagedInstance {
  readonly instance: string
  #host: InstanceHost
  #service: ServiceSpec
  #parameters: Readonly<Record<string, string>>
  #lease: string
  #token: number
  #state: InstanceState = 'starting'
  #ready = false
  #proc: Running | undefined
  #run = new AbortController()
  #backoff: RestartBackoff
  #restartTimer: ReturnType<Clock['setTimeout']> | undefined
  /** A spawn in progress (a restart timer fired): stop() waits for it, then stops what it started. */
  #spawning: Promise<void> | undefined
  /** Restarts of this instance by the local policy (for tests and status). */
  restarts = 0

  constructor (host: InstanceHost, instance: string, service: ServiceSpec, parameters: Readonly<Record<string, string>>, lease: string, token: number) {
    this.#host = host
    this.instance = instance
    this.#service = service
    this.#parameters = parameters
    this.#lease = lease
    this.#token = token
    this.#backoff = new RestartBackoff(service.restart)
  }

  get state (): InstanceState { return this.#state }
  get key (): string { return startKey(this.#service, this.#parameters) }
  get pid (): number | undefined { return this.#proc?.pid }

  status (): InstanceStatus {
    const pid = this.#proc?.pid
    return pid === undefined
      ? { instance: this.instance, state: this.#state, token: this.#token }
      : { instance: this.instance, state: this.#state, pid, token: this.#token }
  }

  /** Spawns the first process; rejects with AGENT_SPAWN_FAILED if it cannot be spawned. */
  async start (): Promise<void> {
    await this.#host.files.writeParameters(this.instance, this.#parameters)
    await this.#spawn()
  }

  /** Takes over a process started by an earlier agent; false if it is no longer running. */
  async adopt (record: InstanceRecord): Promise<boolean> {
    if (!(await isSameProcess(record.pid, record.startTime))) return false
    const run = this.#run
    const exited = this.#pollExit(record.pid, record.startTime, run.signal)
    this.#proc = { pid: record.pid, startTime: record.startTime, child: undefined, exited, spawnedAt: this.#host.clock.now() }
    this.#ready = record.ready
    this.#state = record.ready ? 'running' : 'starting'
    this.#watch(this.#proc, run)
    return true
  }

  /** A process that the record names is gone while the agent was down: report it, then apply the policy. */
  lostWhileAway (record: InstanceRecord): void {
    this.#host.emit({ type: 'instance-exited', node: this.#host.node, instance: this.instance, exitCode: null, signal: null, at: this.#host.wallClock() })
    this.#afterExit(null, null, Math.max(0, this.#host.wallClock() - record.spawnedAt))
  }

  /**
   * Stops the instance: SIGTERM to its process group, SIGKILL after the grace period; resolves
   * once the group is empty. Idempotent.
   */
  async stop (): Promise<void> {
    this.#run.abort()
    this.#run = new AbortController()
    if (this.#restartTimer !== undefined) { this.#host.clock.clearTimeout(this.#restartTimer); this.#restartTimer = undefined }
    if (this.#spawning !== undefined) await this.#spawning.catch(() => {})
    const proc = this.#proc
    if (proc !== undefined) {
      this.#state = 'stopping'
      await this.#terminate(proc, this.#service.stopGraceMs ?? this.#host.stopGraceMs)
      this.#proc = undefined
    }
    this.#state = 'stopped'
    await this.#host.files.removeRecord(this.instance)
  }

  /** Stops watching (timers, checks) without touching the process: the agent is closing. */
  detach (): void {
    this.#run.abort()
    if (this.#restartTimer !== undefined) { this.#host.clock.clearTimeout(this.#restartTimer); this.#restartTimer = undefined }
  }

  async #spawn (): Promise<void> {
    const attempt = this.#spawnOnce(this.#run)
    this.#spawning = attempt
    try { await attempt } finally { if (this.#spawning === attempt) this.#spawning = undefined }
  }

  async #spawnOnce (run: AbortController): Promise<void> {
    const { files } = this.#host
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(this.#host.baseEnv)) if (v !== undefined) env[k] = v
    Object.assign(env, this.#service.env ?? {})
    for (const [name, value] of Object.entries(this.#parameters)) env[parameterEnvName(name)] = value
    env.QUORATE_INSTANCE = this.instance
    env.QUORATE_NODE = this.#host.node
    env.QUORATE_PARAMS_DIR = files.paramsDir(this.instance)
    env.QUORATE_FENCE_LEASE = this.#lease
    env.QUORATE_FENCE_TOKEN = String(this.#token)
    env.QUORATE_EPOCH_FILE = files.epochFile(this.#lease)
    const stdout = await openLog(files.stdoutLog(this.instance))
    const stderr = await openLog(files.stderrLog(this.instance))
    let child: ChildProcess
    let exited: Promise<{ exitCode: number | null, signal: string | null }>
    try {
      child = spawn(this.#service.command, [...(this.#service.args ?? [])], {
        cwd: this.#service.cwd, env, detached: true, stdio: ['ignore', stdout.fd, stderr.fd]
      })
      // Listen before anything awaits: a process may exit before the log files are closed.
      exited = new Promise((resolve) => { child.once('exit', (exitCode, signal) => { resolve({ exitCode, signal }) }) })
      // A later 'error' (a failed kill) must not become an uncaught exception in the agent.
      child.on('error', () => {})
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve)
        child.once('error', reject)
      })
    } catch (cause) {
      throw new QuorateError('AGENT_SPAWN_FAILED', `instance ${JSON.stringify(this.instance)}: cannot spawn ${JSON.stringify(this.#service.command)}`, { cause })
    } finally {
      await stdout.close()
      await stderr.close()
    }
    const pid = child.pid!
    const startTime = await processStartTime(pid)
    this.#proc = { pid, startTime, child, exited, spawnedAt: this.#host.clock.now() }
    this.#ready = false
    this.#state = 'starting'
    await this.#writeRecord()
    this.#host.emit({ type: 'instance-started', node: this.#host.node, instance: this.instance, token: this.#token, pid, at: this.#host.wallClock() })
    // Stopped (or detached) while spawning: whoever aborted the run now owns this process.
    if (!run.signal.aborted) this.#watch(this.#proc, run)
  }

  async #writeRecord (): Promise<void> {
    const proc = this.#proc
    if (proc === undefined) return
    await this.#host.files.writeRecord({
      version: 1,
      instance: this.instance,
      pid: proc.pid,
      startTime: proc.startTime,
      service: this.#service,
      parameters: this.#parameters,
      lease: this.#lease,
      token: this.#token,
      ready: this.#ready,
      spawnedAt: this.#host.wallClock() - (this.#host.clock.now() - proc.spawnedAt)
    })
  }

  /** Exit handling and checks for one process; everything stops when `run` aborts. */
  #watch (proc: Running, run: AbortController): void {
    void proc.exited.then(({ exitCode, signal }) => {
      if (run.signal.aborted) return // stop() owns this exit
      run.abort()
      this.#run = new AbortController()
      signalGroup(proc.pid, 'SIGKILL') // children die with the service
      this.#proc = undefined
      this.#host.emit({ type: 'instance-exited', node: this.#host.node, instance: this.instance, exitCode, signal, at: this.#host.wallClock() })
      this.#afterExit(exitCode, signal, this.#host.clock.now() - proc.spawnedAt)
    })
    void this.#checks(proc, run.signal)
  }

  #afterExit (exitCode: number | null, signal: string | null, ranMs: number): void {
    const delay = this.#backoff.onExit(exitCode, signal, ranMs)
    if (delay === undefined) {
      this.#state = exitCode === 0 && signal === null ? 'stopped' : 'failed'
      void this.#host.files.removeRecord(this.instance).catch(() => {})
      return
    }
    this.#state = 'starting'
    const run = this.#run
    this.#restartTimer = this.#host.clock.setTimeout(() => {
      this.#restartTimer = undefined
      if (run.signal.aborted) return
      this.restarts++
      this.#spawn().catch(() => {
        // Could not spawn (binary gone?): counts as one more failed run.
        if (!run.signal.aborted) this.#afterExit(null, null, 0)
      })
    }, delay)
  }

  async #checks (proc: Running, signal: AbortSignal): Promise<void> {
    const ctx: ProbeContext = { stdoutLog: this.#host.files.stdoutLog(this.instance), stdoutFrom: 0, env: { ...this.#host.baseEnv, ...this.#service.env }, cwd: this.#service.cwd }
    if (!this.#ready) {
      const readiness = this.#service.readiness
      if (readiness !== undefined && !(await this.#until(readiness, READINESS_DEFAULTS, true, ctx, signal))) {
        if (signal.aborted) return
        this.#host.emit({ type: 'instance-check-failed', node: this.#host.node, instance: this.instance, check: 'readiness', at: this.#host.wallClock() })
        // Never ready: stop it and leave it failed; moving it elsewhere is the coordinator's call.
        this.#run.abort()
        this.#run = new AbortController()
        await this.#terminate(proc, this.#service.stopGraceMs ?? this.#host.stopGraceMs)
        this.#proc = undefined
        this.#state = 'failed'
        await this.#host.files.removeRecord(this.instance).catch(() => {})
        return
      }
      if (signal.aborted) return
      this.#ready = true
      this.#state = 'running'
      await this.#writeRecord().catch(() => {})
      this.#host.emit({ type: 'instance-ready', node: this.#host.node, instance: this.instance, at: this.#host.wallClock() })
    }
    const liveness = this.#service.liveness
    if (liveness === undefined || signal.aborted) return
    if (!(await this.#until(liveness, LIVENESS_DEFAULTS, false, ctx, signal)) && !signal.aborted) {
      this.#host.emit({ type: 'instance-check-failed', node: this.#host.node, instance: this.instance, check: 'liveness', at: this.#host.wallClock() })
      // Kill it; its exit goes through the ordinary path (event, restart policy).
      signalGroup(proc.pid, 'SIGTERM')
      const timer = this.#host.clock.setTimeout(() => { signalGroup(proc.pid, 'SIGKILL') }, this.#service.stopGraceMs ?? this.#host.stopGraceMs)
      void proc.exited.then(() => { this.#host.clock.clearTimeout(timer) })
    }
  }

  /**
   * Runs `spec` every interval. `untilPass`: resolves true at the first pass, false after the
   * failure threshold. Otherwise (liveness) resolves false after the threshold of consecutive
   * failures. Both resolve false at once if `signal` aborts.
   */
  async #until (spec: CheckSpec, defaults: { intervalMs: number, timeoutMs: number, failureThreshold: number }, untilPass: boolean, ctx: ProbeContext, signal: AbortSignal): Promise<boolean> {
    const intervalMs = spec.intervalMs ?? defaults.intervalMs
    const timeoutMs = spec.timeoutMs ?? defaults.timeoutMs
    const threshold = spec.failureThreshold ?? defaults.failureThreshold
    let failures = 0
    while (!signal.aborted) {
      if (!untilPass || failures > 0) await this.#sleep(intervalMs, signal)
      if (signal.aborted) return false
      const ok = await probe(spec, timeoutMs, ctx)
      if (ok) {
        if (untilPass) return true
        failures = 0
      } else if (++failures >= threshold) return false
    }
    return false
  }

  #sleep (ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.#host.clock.setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
      const onAbort = (): void => { this.#host.clock.clearTimeout(timer); resolve() }
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Polls an adopted process (not our child: no exit event) until it is gone. */
  #pollExit (pid: number, startTime: string | undefined, signal: AbortSignal): Promise<{ exitCode: number | null, signal: string | null }> {
    return new Promise((resolve) => {
      const poll = async (): Promise<void> => {
        while (await isSameProcess(pid, startTime)) {
          await this.#sleep(this.#host.adoptedPollMs, signal)
          if (signal.aborted) return // stop() waits on its own; close() stops watching
        }
        resolve({ exitCode: null, signal: null })
      }
      void poll()
    })
  }

  /**
   * SIGTERM the group, SIGKILL after `graceMs`; resolves once the leader exited and the group
   * is empty, and reports the exit (the exit watcher of an aborted run does not).
   */
  #terminate (proc: Running, graceMs: number): Promise<void> {
    proc.terminating ??= this.#terminateOnce(proc, graceMs)
    return proc.terminating
  }

  async #terminateOnce (proc: Running, graceMs: number): Promise<void> {
    signalGroup(proc.pid, 'SIGTERM')
    let timer: ReturnType<Clock['setTimeout']> | undefined
    const killed = new Promise<void>((resolve) => {
      timer = this.#host.clock.setTimeout(() => { signalGroup(proc.pid, 'SIGKILL'); resolve() }, graceMs)
    })
    await Promise.race([proc.child === undefined ? this.#waitGone(proc) : proc.exited, killed])
    const exit = proc.child !== undefined ? await proc.exited : (await this.#waitGone(proc), { exitCode: null, signal: null })
    if (timer !== undefined) this.#host.clock.clearTimeout(timer)
    this.#host.emit({ type: 'instance-exited', node: this.#host.node, instance: this.instance, exitCode: exit.exitCode, signal: exit.signal, at: this.#host.wallClock() })
    // Children left in the group die with the service; wait (bounded) until the group is empty.
    signalGroup(proc.pid, 'SIGKILL')
    for (let i = 0; i < 200 && groupExists(proc.pid); i++) await new Promise((resolve) => { this.#host.clock.setTimeout(() => { resolve(undefined) }, 10) })
  }

  async #waitGone (proc: Running): Promise<void> {
    while (await isSameProcess(proc.pid, proc.startTime)) await new Promise((resolve) => { this.#host.clock.setTimeout(() => { resolve(undefined) }, this.#host.adoptedPollMs) })
  }
}

/**
 * Monitors: a check run on an interval that reports a resource's health into the graph's
 * events queue as 'resource-health' events — on the first result and on every change (not on
 * every run: the queue holds facts for the coordinator, not samples). A check that throws or
 * outlives `timeoutMs` counts as a failed run; `failureThreshold` consecutive failed runs
 * make the resource unhealthy, one passing run makes it healthy again.
 *
 * Built-in checks: `processAlive` (a pid, optionally with its kernel start time), `diskSpace`
 * (free bytes or fraction via fs.statfs), `pathWritable` (create, fsync and remove a probe
 * file). Nodes are watched by HeartbeatMonitor (heartbeat-monitor.ts).
 */
import { open, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { abortError } from '../errors.js'
import type { Clock } from '../util/clock.js'
import { systemClock } from '../util/clock.js'
import { Lifecycle } from '../util/lifecycle.js'
import { check, checkFunction, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { checkReportingOptions, EVENT_FLUSH_MS, EventReporter, REPORTING_KEYS } from './event-reporter.js'
import type { ReportingOptions } from './event-reporter.js'
import { isSameProcess } from './proc.js'

/** What one run of a check found. */
export interface Health { readonly healthy: boolean, readonly detail: string }

/** A check: resolves with the health it found; rejecting or timing out is a failed run. */
export type HealthCheck = (signal: AbortSignal) => Promise<Health> | Health

export interface MonitorOptions extends ReportingOptions {
  /** The node the monitor runs on (the events' `node`). */
  readonly node: string
  /** The resource's id in the graph (the events' `resource`). */
  readonly resource: string
  readonly check: HealthCheck
  /** Time between runs, ms. @default 1000 */
  readonly intervalMs?: number
  /** A run not finished within this fails, ms. @default 1000 */
  readonly timeoutMs?: number
  /** Consecutive failed runs that make the resource unhealthy. @default 1 */
  readonly failureThreshold?: number
}

export const MONITOR_DEFAULTS = { intervalMs: 1000, timeoutMs: 1000, failureThreshold: 1 } as const

const KEYS = ['node', 'resource', 'check', 'intervalMs', 'timeoutMs', 'failureThreshold', ...REPORTING_KEYS] as const

export class Monitor {
  readonly #o: MonitorOptions
  readonly #clock: Clock
  readonly #life = new Lifecycle('monitor')
  readonly #reporter: EventReporter
  #timer: ReturnType<Clock['setTimeout']> | undefined
  #run = new AbortController()
  #failures = 0
  #reported: Health | undefined
  #running: Promise<void> = Promise.resolve()

  constructor (options: MonitorOptions) {
    checkObject(options, 'Monitor', '(options)')
    checkKnownKeys(options, 'Monitor', KEYS)
    for (const f of ['node', 'resource'] as const) check(typeof options[f] === 'string' && options[f].length > 0 && options[f].length <= 256, 'Monitor', f, 'a string of 1 to 256 characters', options[f])
    checkFunction(options.check, 'Monitor', 'check')
    for (const f of ['intervalMs', 'timeoutMs', 'failureThreshold'] as const) if (options[f] !== undefined) checkInt(options[f], 'Monitor', f, 1)
    checkReportingOptions(options, 'Monitor')
    this.#o = options
    this.#clock = options.clock ?? systemClock
    this.#reporter = new EventReporter({ ...options, clock: this.#clock, flushMs: options.eventFlushMs ?? EVENT_FLUSH_MS, owner: `monitor of ${options.resource}` })
  }

  /** The health last reported (undefined before the first run completes). */
  get health (): Health | undefined { return this.#reported }

  /** Runs the check at once, then every intervalMs. Idempotent. */
  async open (): Promise<void> {
    await this.#life.open(async () => {
      this.#run = new AbortController()
      this.#reporter.reset()
    }, undefined, () => { this.#schedule(0) })
  }

  /** Stops the runs (waiting for one in progress), then flushes events. Idempotent. */
  async close (): Promise<void> {
    await this.#life.close(async () => {
      if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
      this.#run.abort()
      await this.#running
      await this.#reporter.flush()
    })
  }

  /** Runs the check once now (outside the schedule) and reports a change. */
  async runOnce (): Promise<Health> {
    const health = await this.#attempt(this.#run.signal)
    this.#observe(health)
    return health
  }

  #schedule (ms: number): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined
      this.#running = this.runOnce().then(() => {}, () => {}).finally(() => {
        if (this.#life.isOpen) this.#schedule(this.#o.intervalMs ?? MONITOR_DEFAULTS.intervalMs)
      })
    }, ms)
  }

  async #attempt (outer: AbortSignal): Promise<Health> {
    const timeoutMs = this.#o.timeoutMs ?? MONITOR_DEFAULTS.timeoutMs
    const controller = new AbortController()
    const onAbort = (): void => { controller.abort(outer.reason) }
    outer.addEventListener('abort', onAbort, { once: true })
    let timer: ReturnType<Clock['setTimeout']> | undefined
    try {
      return await Promise.race([
        Promise.resolve().then(() => this.#o.check(controller.signal)),
        new Promise<Health>((resolve) => { timer = this.#clock.setTimeout(() => { controller.abort(); resolve({ healthy: false, detail: `check timed out after ${timeoutMs} ms` }) }, timeoutMs) })
      ])
    } catch (err) {
      return { healthy: false, detail: `check failed: ${err instanceof Error ? err.message : String(err)}` }
    } finally {
      if (timer !== undefined) this.#clock.clearTimeout(timer)
      outer.removeEventListener('abort', onAbort)
    }
  }

  #observe (health: Health): void {
    if (this.#run.signal.aborted) return
    if (!health.healthy && ++this.#failures < (this.#o.failureThreshold ?? MONITOR_DEFAULTS.failureThreshold)) return
    if (health.healthy) this.#failures = 0
    const detail = String(health.detail).slice(0, 256)
    if (this.#reported !== undefined && this.#reported.healthy === health.healthy) return
    this.#reported = { healthy: health.healthy, detail }
    this.#reporter.report({ type: 'resource-health', node: this.#o.node, resource: this.#o.resource, healthy: health.healthy, detail, at: (this.#o.now ?? Date.now)() })
  }
}

/** Healthy while `pid` runs (and, given `startTime`, is still the process started then). */
export function processAlive (pid: number, startTime?: string): HealthCheck {
  checkInt(pid, 'processAlive', 'pid', 1)
  return async () => (await isSameProcess(pid, startTime))
    ? { healthy: true, detail: `pid ${pid} running` }
    : { healthy: false, detail: `pid ${pid} is gone` }
}

/** Healthy while the filesystem holding `path` has at least `minFreeBytes` and `minFreeFraction` free (for unprivileged users). */
export function diskSpace (path: string, limits: { readonly minFreeBytes?: number, readonly minFreeFraction?: number }): HealthCheck {
  check(typeof path === 'string' && path.length > 0, 'diskSpace', 'path', 'a path', path)
  checkObject(limits, 'diskSpace', 'limits')
  checkKnownKeys(limits, 'diskSpace', ['minFreeBytes', 'minFreeFraction'])
  if (limits.minFreeBytes !== undefined) checkInt(limits.minFreeBytes, 'diskSpace', 'minFreeBytes', 0)
  const fraction = limits.minFreeFraction
  check(fraction === undefined || (typeof fraction === 'number' && fraction >= 0 && fraction <= 1), 'diskSpace', 'minFreeFraction', 'a number in [0, 1]', fraction)
  return async () => {
    const s = await statfs(path)
    const free = s.bavail * s.bsize
    const total = s.blocks * s.bsize
    const ok = free >= (limits.minFreeBytes ?? 0) && (total === 0 || free / total >= (fraction ?? 0))
    return { healthy: ok, detail: `${free} of ${total} bytes free` }
  }
}

/** Healthy while a probe file can be created, written, fsync'd and removed in directory `dir`. */
export function pathWritable (dir: string): HealthCheck {
  check(typeof dir === 'string' && dir.length > 0, 'pathWritable', 'dir', 'a directory path', dir)
  return async (signal) => {
    if (signal.aborted) throw abortError(signal)
    const probe = join(dir, `.quorate-probe-${process.pid}`)
    const file = await open(probe, 'w')
    try {
      await file.writeFile('probe')
      await file.sync()
    } finally {
      await file.close()
      await rm(probe, { force: true })
    }
    return { healthy: true, detail: `${dir} writable` }
  }
}

/**
 * What every cluster benchmark measures besides throughput: a latency histogram (Node's
 * built-in HDR histogram, `perf_hooks.createHistogram`, in nanoseconds), GC pause time
 * (PerformanceObserver 'gc' entries) and peak RSS, plus the JSON file every benchmark writes
 * under bench/results/.
 */
import { createHistogram, PerformanceObserver, type RecordableHistogram } from 'node:perf_hooks'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results')

export interface LatencySummary {
  readonly count: number
  readonly p50Us: number
  readonly p99Us: number
  readonly p999Us: number
  readonly maxUs: number
  readonly meanUs: number
}

export function newLatencyHistogram (): RecordableHistogram {
  return createHistogram({ lowest: 1, highest: 60_000_000_000, figures: 3 })
}

const us = (ns: number): number => Math.round(ns / 100) / 10

export function summarize (h: RecordableHistogram): LatencySummary {
  if (h.count === 0) return { count: 0, p50Us: 0, p99Us: 0, p999Us: 0, maxUs: 0, meanUs: 0 }
  return {
    count: h.count,
    p50Us: us(h.percentile(50)),
    p99Us: us(h.percentile(99)),
    p999Us: us(h.percentile(99.9)),
    maxUs: us(h.max),
    meanUs: us(h.mean)
  }
}

/** GC pause time and CPU time (user + system) of this process between start() and stop(). */
export class WindowMeter {
  #ms = 0
  #count = 0
  #cpu: NodeJS.CpuUsage | null = null
  #observer: PerformanceObserver | null = null

  start (): void {
    this.#ms = 0
    this.#count = 0
    this.#cpu = process.cpuUsage()
    this.#observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) { this.#ms += e.duration; this.#count++ }
    })
    this.#observer.observe({ entryTypes: ['gc'] })
  }

  /** Stops measuring; GC entries arrive asynchronously, so this waits one macrotask for them. */
  async stop (): Promise<{ gcMs: number, gcCount: number, cpuMs: number, cpuUserMs: number }> {
    const cpu = process.cpuUsage(this.#cpu ?? undefined)
    await new Promise((resolve) => setTimeout(resolve, 10))
    this.#observer?.disconnect()
    this.#observer = null
    return { gcMs: Math.round(this.#ms * 10) / 10, gcCount: this.#count, cpuMs: Math.round((cpu.user + cpu.system) / 100) / 10, cpuUserMs: Math.round(cpu.user / 100) / 10 }
  }
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB (): number {
  return Math.round(process.resourceUsage().maxRSS / 1024 * 10) / 10
}

export function writeResult (name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const file = join(RESULTS_DIR, `${name}.json`)
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n')
  return file
}

/** Writes a benny suite summary as bench/results/<name>.json. */
export function writeBennyResult (name: string, summary: { name: string, date: Date, results: ReadonlyArray<{ name: string, ops: number, margin: number, samples: number }> }): void {
  writeResult(name, {
    name: summary.name,
    date: summary.date,
    node: process.version,
    results: summary.results.map((r) => ({ name: r.name, ops: Math.round(r.ops), margin: r.margin, samples: r.samples }))
  })
}

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Closed-loop load: `concurrency` clients, each sending its next command as soon as the
 * previous one committed. Runs a warm-up, then a measured window; only commands that both
 * start and finish inside the window are counted, so throughput and latency describe the
 * same commands.
 */
import { newLatencyHistogram, summarize, type LatencySummary } from './measure.js'

export interface ClosedLoopOptions {
  readonly concurrency: number
  /** Command size in bytes. @default 100 */
  readonly valueBytes?: number
  /** @default 2000 */
  readonly warmupMs?: number
  /** @default 10000 */
  readonly measureMs?: number
  /** Called when the measured window opens and closes (to start/stop GC meters, profilers). */
  readonly onWindow?: (phase: 'start' | 'end') => void
}

export interface ClosedLoopResult {
  readonly concurrency: number
  readonly valueBytes: number
  readonly measureMs: number
  readonly commits: number
  readonly commitsPerSec: number
  readonly errors: number
  readonly latency: LatencySummary
}

export const DEFAULT_VALUE_BYTES = 100
export const DEFAULT_WARMUP_MS = 2000
export const DEFAULT_MEASURE_MS = 10_000

/** Distinct 100-byte commands per client (the first bytes carry the client and sequence number). */
function command (bytes: number, client: number): Uint8Array {
  const data = new Uint8Array(bytes).fill(0x61)
  new DataView(data.buffer).setUint32(0, client)
  return data
}

export async function closedLoop (send: (command: Uint8Array) => Promise<unknown>, options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const valueBytes = options.valueBytes ?? DEFAULT_VALUE_BYTES
  const warmupMs = options.warmupMs ?? DEFAULT_WARMUP_MS
  const measureMs = options.measureMs ?? DEFAULT_MEASURE_MS
  const histogram = newLatencyHistogram()
  const t0 = process.hrtime.bigint()
  const startNs = t0 + BigInt(warmupMs) * 1_000_000n
  const endNs = startNs + BigInt(measureMs) * 1_000_000n
  let errors = 0
  let started = false

  const client = async (id: number): Promise<void> => {
    const template = command(valueBytes, id)
    for (let seq = 0; ; seq++) {
      // A fresh array per command: the log keeps a reference to what was proposed.
      const data = template.slice()
      new DataView(data.buffer).setUint32(4, seq)
      const begin = process.hrtime.bigint()
      if (begin >= endNs) return
      if (!started && begin >= startNs) { started = true; options.onWindow?.('start') }
      try {
        await send(data)
      } catch {
        errors++
        continue
      }
      const end = process.hrtime.bigint()
      if (begin >= startNs && end <= endNs) histogram.record(Number(end - begin))
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, async (_, i) => await client(i)))
  options.onWindow?.('end')
  const commits = histogram.count
  return {
    concurrency: options.concurrency,
    valueBytes,
    measureMs,
    commits,
    commitsPerSec: Math.round(commits / (measureMs / 1000)),
    errors,
    latency: summarize(histogram)
  }
}

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
const ERROR_BACKOFF_MS = 10

/**
 * Distinct commands (the first 8 bytes carry the client and sequence number) carved out of
 * shared slabs: one ArrayBuffer per SLAB_BYTES instead of one per command, as commands cut
 * from a network read buffer would be. A command is never written after it is handed out.
 */
class CommandSource {
  static readonly SLAB_BYTES = 256 * 1024
  readonly #bytes: number
  #slab = new Uint8Array(0)
  #offset = 0

  constructor (bytes: number) { this.#bytes = bytes }

  next (client: number, seq: number): Uint8Array {
    if (this.#offset + this.#bytes > this.#slab.length) {
      this.#slab = new Uint8Array(Math.max(CommandSource.SLAB_BYTES, this.#bytes)).fill(0x61)
      this.#offset = 0
    }
    const data = this.#slab.subarray(this.#offset, this.#offset + this.#bytes)
    this.#offset += this.#bytes
    if (data.length >= 8) {
      const view = new DataView(data.buffer, data.byteOffset, 8)
      view.setUint32(0, client)
      view.setUint32(4, seq)
    }
    return data
  }
}

export async function closedLoop (send: (command: Uint8Array) => Promise<unknown>, options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const valueBytes = options.valueBytes ?? DEFAULT_VALUE_BYTES
  const warmupMs = options.warmupMs ?? DEFAULT_WARMUP_MS
  const measureMs = options.measureMs ?? DEFAULT_MEASURE_MS
  const histogram = newLatencyHistogram()
  const t0 = process.hrtime.bigint()
  const startNs = t0 + BigInt(warmupMs) * 1_000_000n
  const endNs = startNs + BigInt(measureMs) * 1_000_000n
  const commands = new CommandSource(valueBytes)
  let errors = 0
  let started = false

  const client = async (id: number): Promise<void> => {
    for (let seq = 0; ; seq++) {
      const data = commands.next(id, seq)
      const begin = process.hrtime.bigint()
      if (begin >= endNs) return
      if (!started && begin >= startNs) { started = true; options.onWindow?.('start') }
      try {
        await send(data)
      } catch {
        // A failed command (no leader, leader changed) is counted, and the client backs off.
        errors++
        await new Promise((resolve) => setTimeout(resolve, ERROR_BACKOFF_MS))
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

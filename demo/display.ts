/**
 * The demo's output: a progress line (rewritten in place with \r on a terminal, a plain line
 * per second otherwise), event lines, and the timeline printed at the end.
 */

const PLAIN_PROGRESS_EVERY_MS = 1000

export class Display {
  readonly #out: NodeJS.WriteStream
  readonly #tty: boolean
  readonly #start: number
  readonly #events: Array<{ at: number, text: string }> = []
  #progressShown = false
  #lastPlainProgress = -Infinity

  constructor (out: NodeJS.WriteStream, start: number) {
    this.#out = out
    this.#tty = out.isTTY === true
    this.#start = start
  }

  /** Milliseconds since the demo started. */
  elapsed (): number { return Math.round(performance.now() - this.#start) }

  /** Prints a line and records it in the timeline. */
  event (text: string): void {
    const at = this.elapsed()
    this.#events.push({ at, text })
    this.#clearProgress()
    this.#out.write(`${formatSeconds(at)}  ${text}\n`)
  }

  /** Prints a line that is not part of the timeline. */
  note (text: string): void {
    this.#clearProgress()
    this.#out.write(`${text}\n`)
  }

  progress (text: string): void {
    const line = `${formatSeconds(this.elapsed())}  ${text}`
    if (this.#tty) {
      const width = this.#out.columns > 0 ? this.#out.columns : 120
      this.#out.write(`\r${line.slice(0, Math.max(20, width - 1))}\x1b[K`)
      this.#progressShown = true
      return
    }
    const now = performance.now()
    if (now - this.#lastPlainProgress < PLAIN_PROGRESS_EVERY_MS) return
    this.#lastPlainProgress = now
    this.#out.write(`${line}\n`)
  }

  printTimeline (): void {
    this.#clearProgress()
    const width = String(this.#events.at(-1)?.at ?? 0).length
    this.#out.write('\nTimeline (elapsed ms: event)\n')
    for (const e of this.#events) this.#out.write(`  ${String(e.at).padStart(width)}: ${e.text}\n`)
  }

  #clearProgress (): void {
    if (!this.#progressShown) return
    this.#out.write('\r\x1b[K')
    this.#progressShown = false
  }
}

function formatSeconds (ms: number): string {
  return `[${(ms / 1000).toFixed(1).padStart(5)}s]`
}

/** Events per second over the last second, in 100 ms buckets. */
export class RateMeter {
  readonly #buckets = new Array<number>(10).fill(0)
  #bucketStart = 0

  record (now: number): void {
    this.#roll(now)
    this.#buckets[this.#buckets.length - 1]!++
  }

  perSecond (now: number): number {
    this.#roll(now)
    return this.#buckets.reduce((a, b) => a + b, 0)
  }

  #roll (now: number): void {
    const bucket = Math.floor(now / 100)
    const shift = Math.min(this.#buckets.length, bucket - this.#bucketStart)
    if (shift <= 0) return
    this.#buckets.splice(0, shift)
    for (let i = 0; i < shift; i++) this.#buckets.push(0)
    this.#bucketStart = bucket
  }
}

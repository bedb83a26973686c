/**
 * The demo's output: a progress line (rewritten in place with \r on a terminal, a plain line
 * per second otherwise), event lines, and the timeline printed at the end.
 *
 * A reader that goes away (`npm start | head`) makes the next write fail with EPIPE, emitted
 * as an 'error' event on the stream; unhandled, that event would crash the demo and leave its
 * directory behind. The Display handles it: from then on it writes nothing and it calls
 * `onClosed` once, so the demo can stop and clean up as after Ctrl-C.
 */

const PLAIN_PROGRESS_EVERY_MS = 1000

export class Display {
  readonly #out: NodeJS.WriteStream
  readonly #tty: boolean
  readonly #start: number
  readonly #events: Array<{ at: number, text: string }> = []
  #progressShown = false
  #lastPlainProgress = -Infinity
  #closed = false

  constructor (out: NodeJS.WriteStream, start: number, onClosed: (err: Error) => void = () => {}) {
    this.#out = out
    this.#tty = out.isTTY === true
    this.#start = start
    out.on('error', (err) => {
      if (this.#closed) return
      this.#closed = true
      onClosed(err)
    })
  }

  /** True once the output stream failed (its reader went away); nothing is written after. */
  get closed (): boolean { return this.#closed }

  /** Milliseconds since the demo started. */
  elapsed (): number { return Math.round(performance.now() - this.#start) }

  /** Prints a line and records it in the timeline. */
  event (text: string): void {
    const at = this.elapsed()
    this.#events.push({ at, text })
    this.#clearProgress()
    this.#write(`${formatSeconds(at)}  ${text}\n`)
  }

  /** Prints a line that is not part of the timeline. */
  note (text: string): void {
    this.#clearProgress()
    this.#write(`${text}\n`)
  }

  progress (text: string): void {
    const line = `${formatSeconds(this.elapsed())}  ${text}`
    if (this.#tty) {
      const width = this.#out.columns > 0 ? this.#out.columns : 120
      this.#write(`\r${line.slice(0, Math.max(20, width - 1))}\x1b[K`)
      this.#progressShown = true
      return
    }
    const now = performance.now()
    if (now - this.#lastPlainProgress < PLAIN_PROGRESS_EVERY_MS) return
    this.#lastPlainProgress = now
    this.#write(`${line}\n`)
  }

  printTimeline (): void {
    this.#clearProgress()
    const width = String(this.#events.at(-1)?.at ?? 0).length
    this.#write('\nTimeline (elapsed ms: event)\n')
    for (const e of this.#events) this.#write(`  ${String(e.at).padStart(width)}: ${e.text}\n`)
  }

  #clearProgress (): void {
    if (!this.#progressShown) return
    this.#write('\r\x1b[K')
    this.#progressShown = false
  }

  #write (text: string): void {
    if (this.#closed || this.#out.destroyed) return
    this.#out.write(text)
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

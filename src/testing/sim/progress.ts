/**
 * Progress of a long simulator run (`--seeds N`, `--figure16`) with an estimate of the time
 * left, on stderr so stdout (the results, which scripts parse) stays exactly as it was.
 *
 * One rule for every mode: on a terminal, one line rewritten in place, at most every
 * TTY_EVERY_MS; when stderr is not a terminal (a pipe, CI), a plain line at each tenth of the
 * run, so logs get ten lines, not thousands. The estimate is the mean time per item so far
 * times the items left (wall-clock: this is about the person waiting, not the simulation).
 */

export const TTY_EVERY_MS = 250

export interface ProgressOptions {
  /** What is counted, e.g. 'seeds' or 'trials'. */
  readonly unit: string
  readonly total: number
  readonly write: (text: string) => void
  readonly tty: boolean
  /** Wall-clock milliseconds. @default performance.now */
  readonly now?: () => number
}

/** "12 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`
}

/** "sim: 37/100 seeds (37%), 12 s elapsed, about 21 s left". */
export function progressLine (unit: string, done: number, total: number, elapsedMs: number): string {
  const pct = total === 0 ? 100 : Math.floor((done / total) * 100)
  const left = done === 0 ? 'estimating the time left' : `about ${formatDuration((elapsedMs / done) * (total - done))} left`
  return `sim: ${done}/${total} ${unit} (${pct}%), ${formatDuration(elapsedMs)} elapsed, ${done === total ? 'done' : left}`
}

export class RunProgress {
  readonly #o: ProgressOptions
  readonly #now: () => number
  readonly #start: number
  #lastTty = Number.NEGATIVE_INFINITY
  #lastTenth = 0
  #shown = false

  constructor (options: ProgressOptions) {
    this.#o = options
    this.#now = options.now ?? (() => performance.now())
    this.#start = this.#now()
  }

  /** `done` items finished. */
  update (done: number): void {
    const now = this.#now()
    const { unit, total, write, tty } = this.#o
    if (tty) {
      if (now - this.#lastTty < TTY_EVERY_MS && done < total) return
      this.#lastTty = now
      write(`\r${progressLine(unit, done, total, now - this.#start)}\x1b[K`)
      this.#shown = true
      return
    }
    const tenth = total === 0 ? 10 : Math.floor((done * 10) / total)
    if (tenth <= this.#lastTenth) return
    this.#lastTenth = tenth
    write(`${progressLine(unit, done, total, now - this.#start)}\n`)
  }

  /** Ends the in-place line on a terminal (so the next output starts on a fresh line). */
  finish (): void {
    if (this.#shown) this.#o.write('\n')
    this.#shown = false
  }
}

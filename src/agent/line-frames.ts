/**
 * The agent channel's framing: one JSON value per line (UTF-8, '\n'-terminated). Small,
 * human-debuggable (`openssl s_client` or `nc` can talk to an agent), and resynchronising: a
 * malformed frame costs that frame only. A line longer than `maxFrameBytes` is not buffered
 * further: the reader reports it and the connection is closed, so a peer cannot make the
 * agent hold unbounded input.
 */
export class LineFrames {
  readonly #max: number
  #parts: Buffer[] = []
  #length = 0

  constructor (maxFrameBytes: number) { this.#max = maxFrameBytes }

  /**
   * Feeds bytes; calls `onLine` with each complete line (without '\n'); returns false (and
   * stops) once a line exceeds the limit.
   */
  push (chunk: Buffer, onLine: (line: string) => void): boolean {
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(0x0a, start)
      if (nl < 0) break
      const piece = chunk.subarray(start, nl)
      if (this.#length + piece.length > this.#max) return false
      const line = this.#length === 0 ? piece.toString('utf8') : Buffer.concat([...this.#parts, piece]).toString('utf8')
      this.#parts = []
      this.#length = 0
      onLine(line)
      start = nl + 1
    }
    const rest = chunk.subarray(start)
    if (rest.length > 0) {
      if (this.#length + rest.length > this.#max) return false
      this.#parts.push(Buffer.from(rest))
      this.#length += rest.length
    }
    return true
  }
}

/** JSON.parse that returns undefined instead of throwing. */
export function parseJson (text: string): unknown {
  try { return JSON.parse(text) } catch { return undefined }
}

/**
 * Counts and logs every request or connection the client endpoint refuses, by its error
 * code. The counts are in status reports (`endpoint`) and in /metrics
 * (`quorate_client_rejections_total{code=...}`). Logging is rate-limited per code (at most
 * one line per LOG_INTERVAL_MS, carrying how many were suppressed since the last), so a flood
 * of bad handshakes cannot flood the log; counting is never limited.
 */
export const REJECTION_CODES = [
  'CLUSTER_AUTH_REQUIRED', 'CLUSTER_AUTH_FAILED', 'CLUSTER_FORBIDDEN', 'CLUSTER_TLS_REQUIRED',
  'CLUSTER_REQUEST_TOO_LARGE', 'CLUSTER_ROUTE_UNKNOWN', 'CLUSTER_REQUEST_INVALID'
] as const
export type RejectionCode = typeof REJECTION_CODES[number]

/** One log record of a rejection (the node process writes it as a JSON line on stderr). */
export interface RejectionLog {
  readonly level: 'warn'
  readonly msg: 'client request rejected'
  readonly code: RejectionCode
  readonly reason: string
  readonly remote: string
  /** Rejections with this code not logged since the previous line. */
  readonly suppressed: number
}

export type RejectionLogger = (record: RejectionLog) => void

const LOG_INTERVAL_MS = 1000

export class EndpointRejections {
  readonly #counts = Object.fromEntries(REJECTION_CODES.map((c) => [c, 0])) as Record<RejectionCode, number>
  readonly #lastLogged = new Map<RejectionCode, number>()
  readonly #suppressed = new Map<RejectionCode, number>()
  readonly #log: RejectionLogger | undefined
  readonly #now: () => number

  constructor (log: RejectionLogger | undefined, now: () => number = Date.now) {
    this.#log = log
    this.#now = now
  }

  record (code: RejectionCode, reason: string, remote: string | undefined): void {
    this.#counts[code]++
    if (this.#log === undefined) return
    const now = this.#now()
    const last = this.#lastLogged.get(code)
    if (last !== undefined && now - last < LOG_INTERVAL_MS) {
      this.#suppressed.set(code, (this.#suppressed.get(code) ?? 0) + 1)
      return
    }
    this.#lastLogged.set(code, now)
    const suppressed = this.#suppressed.get(code) ?? 0
    this.#suppressed.set(code, 0)
    this.#log({ level: 'warn', msg: 'client request rejected', code, reason, remote: remote ?? 'unknown', suppressed })
  }

  /** Rejections so far, by code. */
  counts (): Readonly<Record<RejectionCode, number>> { return { ...this.#counts } }
}

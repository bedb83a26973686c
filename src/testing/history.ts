/**
 * Client histories for the linearizability checker: one record per operation a client
 * invoked, with the interval during which it was in flight.
 *
 * An operation whose outcome is unknown (a timeout, a lost connection) has `return: null`
 * (or Infinity): it may have taken effect at any moment after `invoke`, or never. An
 * operation that definitely failed (the system refused it and guarantees it had no effect)
 * is not part of the history at all.
 */
import { QuorateError } from '../errors.js'

export type ClientId = string | number

export interface Operation<Input, Output> {
  /** Who issued the operation; used only in explanations. */
  readonly clientId: ClientId
  readonly input: Input
  /** When the client sent the request. */
  readonly invoke: number
  /**
   * When the client received the response; `null` or `Infinity` if the outcome is unknown.
   * Operations whose intervals overlap are concurrent; equal times count as overlapping.
   */
  readonly return: number | null
  /** The response. Ignored when the outcome is unknown. */
  readonly output?: Output
  /** An optional label shown in explanations (HistoryRecorder sets it). */
  readonly id?: number
}

/** True if the operation's outcome is unknown: it may or may not have taken effect. */
export function isUnknownOutcome (op: Operation<unknown, unknown>): boolean {
  return op.return === null || op.return === Infinity
}

/** Throws CHECKER_HISTORY_INVALID naming the first malformed operation. */
export function validateHistory (history: readonly Operation<unknown, unknown>[]): void {
  if (!Array.isArray(history)) throw invalid('the history must be an array of operations')
  for (let i = 0; i < history.length; i++) {
    const op = history[i]
    if (op === null || typeof op !== 'object') throw invalid(`operation #${i} is not an object`)
    if (!Number.isFinite(op.invoke)) throw invalid(`operation #${i}: invoke must be a finite number`)
    if (isUnknownOutcome(op)) continue
    if (typeof op.return !== 'number' || Number.isNaN(op.return)) {
      throw invalid(`operation #${i}: return must be a number, null or Infinity`)
    }
    if (op.return < op.invoke) throw invalid(`operation #${i}: return ${op.return} is before invoke ${op.invoke}`)
  }
}

function invalid (message: string): QuorateError {
  return new QuorateError('CHECKER_HISTORY_INVALID', message)
}

interface PendingOperation<Input, Output> {
  clientId: ClientId
  input: Input
  invoke: number
  return: number | null
  output: Output | undefined
  state: 'pending' | 'ok' | 'failed' | 'unknown'
}

/**
 * Records a history as a workload runs. Every `invoke` must be settled by exactly one of
 * `ok`, `fail` or `unknown`; operations still pending when `history()` is called are
 * reported with an unknown outcome (they may have taken effect).
 *
 * @example
 * const rec = new HistoryRecorder<KvInput, KvOutput>()
 * const id = rec.invoke('c1', { op: 'get', key: 'x' }, clock.now())
 * rec.ok(id, result, clock.now())
 * checkLinearizability(kvModel, rec.history())
 */
export class HistoryRecorder<Input, Output> {
  readonly #operations: Array<PendingOperation<Input, Output>> = []
  #pending = 0

  /** Records that `clientId` sent `input` at `time`; returns the operation's id. */
  invoke (clientId: ClientId, input: Input, time: number): number {
    if (!Number.isFinite(time)) throw invalid(`invoke: time must be a finite number, got ${String(time)}`)
    this.#operations.push({ clientId, input, invoke: time, return: null, output: undefined, state: 'pending' })
    this.#pending++
    return this.#operations.length - 1
  }

  /** The operation completed with `output`, received at `time`. */
  ok (id: number, output: Output, time: number): void {
    const op = this.#settle(id, 'ok', time)
    op.return = time
    op.output = output
  }

  /** The operation definitely had no effect; it is left out of the history. */
  fail (id: number, time: number): void {
    this.#settle(id, 'failed', time)
  }

  /** The outcome is unknown (e.g. a timeout): it may take effect at any later time, or never. */
  unknown (id: number): void {
    this.#settle(id, 'unknown', undefined)
  }

  /** How many invoked operations are not settled yet. */
  get pending (): number { return this.#pending }

  /** The recorded operations in invoke order, without definite failures. */
  history (): Array<Operation<Input, Output>> {
    const out: Array<Operation<Input, Output>> = []
    for (let id = 0; id < this.#operations.length; id++) {
      const op = this.#operations[id]!
      if (op.state === 'failed') continue
      if (op.state === 'ok') {
        out.push({ id, clientId: op.clientId, input: op.input, invoke: op.invoke, return: op.return, output: op.output })
      } else {
        out.push({ id, clientId: op.clientId, input: op.input, invoke: op.invoke, return: null })
      }
    }
    return out
  }

  #settle (id: number, state: 'ok' | 'failed' | 'unknown', time: number | undefined): PendingOperation<Input, Output> {
    const op = Number.isInteger(id) ? this.#operations[id] : undefined
    if (op === undefined) throw invalid(`operation id ${String(id)} was never invoked`)
    if (op.state !== 'pending') throw invalid(`operation ${id} was already settled (${op.state})`)
    if (time !== undefined) {
      if (!Number.isFinite(time)) throw invalid(`operation ${id}: time must be a finite number, got ${String(time)}`)
      if (time < op.invoke) throw invalid(`operation ${id}: completed at ${time}, before its invoke at ${op.invoke}`)
    }
    op.state = state
    this.#pending--
    return op
  }
}

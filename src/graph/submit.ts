/**
 * What the graph and events clients share: the `submit` / `barrier` abstraction they reach the
 * replicated machine through (a RaftNode's propose, or a router that prefixes a route), turning
 * a refusal result into the QuorateError it stands for, and waiting for the next committed
 * change of the local replica without buffering changes.
 */
import { QuorateError } from '../errors.js'
import { abortable } from '../util/abort.js'
import { check } from '../util/validate.js'
import { decodeResult } from './codec.js'
import type { GraphResult } from './codec.js'
import type { GraphStateMachine } from './state-machine.js'

export interface SubmitOptions { readonly signal?: AbortSignal }
/** Proposes a command and resolves with what the state machine's apply returned (or its encoding). */
export type Submit = (command: Uint8Array, options?: SubmitOptions) => Promise<unknown>
/** Resolves once the local replica has applied everything committed when it was called (ReadIndex). */
export type Barrier = (options?: SubmitOptions) => Promise<void>

export interface ClientOptions {
  /** The local replica, for stale-ok reads, watches and consumers. */
  machine: GraphStateMachine
  submit: Submit
  /** For linearizable reads; without it only stale-ok reads are possible. */
  barrier?: Barrier
  /** Wall-clock milliseconds stamped on commands (the replicated time is their maximum). @default Date.now */
  now?: () => number
}

export function validateClientOptions (component: string, o: ClientOptions, extra: readonly string[] = []): void {
  check(typeof o === 'object' && o !== null, component, '(options)', 'an object', o)
  const known = ['machine', 'submit', 'barrier', 'now', ...extra]
  for (const k of Object.keys(o)) check(known.includes(k), component, k, `a known option (${known.join(', ')})`, k)
  check(typeof o.machine === 'object' && o.machine !== null && typeof o.machine.apply === 'function', component, 'machine', 'a GraphStateMachine', typeof o.machine)
  check(typeof o.submit === 'function', component, 'submit', 'a function', typeof o.submit)
  for (const f of ['barrier', 'now'] as const) if (o[f] !== undefined) check(typeof o[f] === 'function', component, f, 'a function', typeof o[f])
}

/** The GraphResult in what `submit` resolved with (the machine's value, or its encoding). */
export function toResult (value: unknown): GraphResult {
  if (value instanceof Uint8Array) return decodeResult(value)
  if (typeof value === 'object' && value !== null && typeof (value as { status?: unknown }).status === 'string') return value as GraphResult
  throw new QuorateError('GRAPH_COMMAND_INVALID', 'submit() resolved with something that is not a graph result (is the command routed to the graph machine?)')
}

/** Throws the refusal as the QuorateError it carries; returns any other result. */
export function unlessRefused<R extends GraphResult> (result: GraphResult): Exclude<R, { status: 'refused' }> {
  if (result.status === 'refused') {
    throw new QuorateError(result.code, result.message, { details: { ...result.details, index: result.index } })
  }
  return result as Exclude<R, { status: 'refused' }>
}

/** Waits for `barrier` (linearizable) or not at all (stale-ok). */
export async function readBarrier (barrier: Barrier | undefined, linearizable: boolean, signal?: AbortSignal): Promise<void> {
  if (!linearizable) return
  if (barrier === undefined) {
    throw new QuorateError('OPTIONS_INVALID', 'A linearizable read needs the barrier option (a ReadIndex, e.g. node.read); pass { linearizable: false } for a stale-ok read')
  }
  await barrier(signal === undefined ? {} : { signal })
}

/** Resolves at the next change the replica commits (or restores), rejects with ABORTED. */
export async function nextChange (machine: GraphStateMachine, signal?: AbortSignal): Promise<void> {
  const offs: Array<() => void> = []
  try {
    await abortable<void>(signal, (resolve) => { offs.push(machine.onChange(() => { resolve() }), machine.onRestore(resolve)) })
  } finally { for (const off of offs) off() }
}

/**
 * Yields what `nextBatch` returns (it advances its own cursor), waiting for the replica's next
 * change whenever it returns nothing, until `signal` aborts (the iterator then ends). Nothing
 * is buffered: a slow reader only lags, it costs no memory.
 */
export async function * tail<T> (machine: GraphStateMachine, signal: AbortSignal | undefined, nextBatch: () => readonly T[]): AsyncIterable<T> {
  for (;;) {
    // Re-read after every batch: changes may commit while the consumer holds the iterator.
    const batch = nextBatch()
    if (batch.length === 0) {
      try { await nextChange(machine, signal) } catch (err) {
        if (signal?.aborted === true) return
        throw err
      }
      continue
    }
    yield * batch
  }
}

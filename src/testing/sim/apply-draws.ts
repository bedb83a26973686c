/**
 * Per-seed draws of the node's batched apply (RaftNodeOptions.maxApplyBatch and
 * maxApplyBatchBytes): whether committed commands reach the state machine in batches at all,
 * and how big a batch may be, so seeds exercise both the one-by-one and the batched path
 * under the same faults. A machine without applyBatch gets a sequential one (each command
 * through its own apply, in order: the contract's reference), so the node's batching (runs
 * ended by no-op and configuration entries, results settled in order, snapshots only between
 * batches) is exercised by every workload, and the machines that batch for real (the
 * router, quorate/level's) by theirs.
 *
 * Drawn from a stream of its own, mixed from the seed, so adding these draws left every
 * other draw of a seed as it was.
 */
import type { StateMachine } from '../../node/state-machine.js'
import { isThenable } from '../../node/state-machine.js'
import { SeededRandom, randomInt } from '../../util/random.js'

export const APPLY_DRAW_DEFAULTS = {
  /** Share of seeds whose nodes apply in batches. */
  batchShare: 0.6,
  /** Most commands per batch, drawn in [min, max]. */
  maxApplyBatch: { min: 2, max: 64 },
  /** Bytes per batch: one of these (small ones make the byte bound end runs), or the node default. */
  maxApplyBatchBytes: [64, 512, 4096] as readonly number[]
} as const

/** Mixed into the seed so this stream differs from the run's own `SeededRandom(seed)`. */
const STREAM = 0x0a99b47c

export interface ApplyDraws {
  readonly batching: boolean
  /** The nodes' options: maxApplyBatch 1 when not batching. */
  readonly options: { readonly maxApplyBatch: number, readonly maxApplyBatchBytes?: number }
}

export function drawApply (seed: number): ApplyDraws {
  const r = new SeededRandom((seed ^ STREAM) >>> 0)
  const d = APPLY_DRAW_DEFAULTS
  const batching = r.next() < d.batchShare
  const maxApplyBatch = randomInt(r, d.maxApplyBatch.min, d.maxApplyBatch.max + 1)
  const bytes = randomInt(r, 0, d.maxApplyBatchBytes.length + 1)
  if (!batching) return { batching, options: { maxApplyBatch: 1 } }
  return { batching, options: { maxApplyBatch, ...(bytes < d.maxApplyBatchBytes.length ? { maxApplyBatchBytes: d.maxApplyBatchBytes[bytes]! } : {}) } }
}

/** `machine.applyBatch`, or the reference one: apply on each command in turn, each awaited. */
export function batchOf<R> (machine: StateMachine<R>): (commands: readonly Uint8Array[], firstIndex: number) => readonly R[] | Promise<readonly R[]> {
  if (typeof machine.applyBatch === 'function') return machine.applyBatch.bind(machine)
  return (commands, firstIndex) => {
    const results: R[] = []
    const from = (i: number): R[] | Promise<R[]> => {
      for (; i < commands.length; i++) {
        const r = machine.apply(commands[i]!, firstIndex + i)
        if (isThenable<R>(r)) return Promise.resolve(r).then((value) => { results.push(value); return from(i + 1) })
        results.push(r)
      }
      return results
    }
    return from(0)
  }
}

/** A short description for the trace's start line. */
export function describeApply (d: ApplyDraws): string {
  return d.batching ? `applyBatch max=${d.options.maxApplyBatch} bytes=${d.options.maxApplyBatchBytes ?? 'default'}` : 'applyBatch off'
}

/** The messages between checkLinearizabilityInWorkers and its worker threads. */
import type { ErrorCode } from '../errors.js'
import type { ModelReference } from './model-reference.js'
import type { Slice, SliceResult } from './linearizability-schedule.js'

export type WorkerRequest =
  /** Loads the model and builds the searches of these sub-histories (operations cloned). */
  | { readonly type: 'init', readonly model: ModelReference, readonly maxCacheEntries: number, readonly parts: ReadonlyArray<{ readonly part: number, readonly ops: readonly unknown[] }> }
  /** Runs the slices in order. */
  | { readonly type: 'run', readonly slices: readonly Slice[] }

export interface WorkerSliceResult extends SliceResult {
  /** The search's totals after the slice. */
  readonly steps: number
  readonly cacheEntries: number
  /** When illegal: the finding, as operation indices of the sub-history. */
  readonly prefix?: readonly number[]
  readonly blocking?: number
}

export type WorkerReply =
  | { readonly type: 'ready' }
  | { readonly type: 'ran', readonly results: readonly WorkerSliceResult[] }
  | { readonly type: 'error', readonly message: string, readonly code?: ErrorCode }

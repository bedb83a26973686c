/**
 * checkLinearizabilityInWorkers: the checker with the searches in worker threads, so that a
 * long check neither blocks the event loop nor uses one core only. The main thread partitions
 * and prunes the history, runs the same budget schedule as checkLinearizability and sends each
 * round's slices to the workers that hold those sub-histories (sub-history i lives in worker
 * i mod n). Because the rounds are the same, the result is the same as in-thread (with a
 * step budget, exactly; only stats.elapsedMs differs); with a time budget it depends on speed
 * either way.
 */
import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { ERROR_CODES, QuorateError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import { checkInt } from '../util/validate.js'
import { isUnknownOutcome } from './history.js'
import type { Operation } from './history.js'
import { UNKNOWN } from './model.js'
import type { Model } from './model.js'
import { initialStatus } from './linearization-search.js'
import { budgetSchedule } from './linearizability-schedule.js'
import type { Slice, SliceResult } from './linearizability-schedule.js'
import { planCheck, validateCheckOptions } from './linearizability-plan.js'
import type { CheckOptions, CheckResult, IllegalFinding } from './linearizability-plan.js'
import { cloneableReference, loadModel, validateModelReference } from './model-reference.js'
import type { ModelReference } from './model-reference.js'
import type { WorkerReply, WorkerRequest, WorkerSliceResult } from './linearizability-protocol.js'

export type { ModelReference }

export interface WorkerCheckOptions extends CheckOptions {
  /**
   * Worker threads to use; never more than the sub-histories that need a search.
   * @default availableParallelism()
   */
  workers?: number
}

const WORKER_KEYS: ReadonlySet<string> = new Set(['workers'])
const WORKER_URL = new URL('./linearizability-worker.js', import.meta.url)

/**
 * Checks `history` against the model `ref` names (see ModelReference), in worker threads.
 * Resolves with the CheckResult checkLinearizability would give. Rejects with OPTIONS_INVALID
 * or CHECKER_HISTORY_INVALID as checkLinearizability throws, with the code a model threw
 * inside a worker, or with CHECKER_WORKER_FAILED when a worker could not run. Operation
 * inputs and outputs must survive structured cloning (plain data, Maps, arrays).
 */
export async function checkLinearizabilityInWorkers<Input, Output> (
  ref: ModelReference,
  history: ReadonlyArray<Operation<Input, Output>>,
  options: WorkerCheckOptions = {}
): Promise<CheckResult<Input, Output>> {
  validateCheckOptions(options, WORKER_KEYS)
  if (options.workers !== undefined) checkInt(options.workers, 'checkLinearizabilityInWorkers', 'workers', 1, 1024)
  validateModelReference(ref)
  const model = await loadModel(ref) as Model<unknown, Input, Output>
  const plan = planCheck(model, history, options)
  const initial = plan.parts.map((p) => initialStatus(p.ops))
  const searched = initial.flatMap((status, part) => status === 'running' ? [part] : [])
  const pool = new WorkerPool(Math.min(options.workers ?? availableParallelism(), searched.length))
  try {
    await pool.init(cloneableReference(ref), plan.maxCacheEntries, searched.map((part) => ({ part, ops: plan.parts[part]!.ops })))
    const steps = plan.parts.map(() => 0)
    const cacheEntries = plan.parts.map(() => 0)
    let illegal: WorkerSliceResult | undefined
    const schedule = budgetSchedule(initial, plan.maxSteps, plan.outOfTime)
    let round = schedule.next()
    while (round.done !== true) {
      const ran = await pool.run(round.value)
      // Count what the in-thread checker would have run: it stops the round at an illegal slice.
      const results: SliceResult[] = []
      for (const r of ran) {
        steps[r.part] = r.steps
        cacheEntries[r.part] = r.cacheEntries
        results.push(r)
        if (r.status === 'illegal') { illegal = r; break }
      }
      round = schedule.next(results)
    }
    const outcome = round.value
    const finding = outcome.kind === 'illegal' && illegal !== undefined
      ? replayFinding(model, plan.parts[outcome.part]!.ops, illegal)
      : undefined
    return plan.result(outcome, steps, cacheEntries, finding)
  } finally {
    await pool.close()
  }
}

/** The state after an illegal sub-history's prefix, found again by stepping the model through it. */
function replayFinding<I, O> (model: Model<unknown, I, O>, ops: ReadonlyArray<Operation<I, O>>, r: WorkerSliceResult): IllegalFinding<unknown> {
  const prefix = r.prefix ?? []
  let state = model.init()
  for (const i of prefix) {
    const op = ops[i]!
    const next = model.step(state, op.input, isUnknownOutcome(op) ? UNKNOWN : op.output as O)
    if (!next.ok) throw new QuorateError('CHECKER_WORKER_FAILED', 'a worker reported a prefix the model rejects (is the model deterministic?)')
    state = next.state
  }
  return { prefix, blocking: r.blocking ?? -1, state }
}

/** Workers that each answer one request at a time. */
class WorkerPool {
  readonly #workers: Worker[] = []
  /** Which worker holds each sub-history. */
  readonly #owner = new Map<number, number>()

  constructor (size: number) {
    for (let i = 0; i < size; i++) this.#workers.push(new Worker(WORKER_URL))
  }

  async init (model: ModelReference, maxCacheEntries: number, parts: ReadonlyArray<{ part: number, ops: readonly unknown[] }>): Promise<void> {
    const shares = this.#workers.map((): Array<{ part: number, ops: readonly unknown[] }> => [])
    parts.forEach((p, i) => {
      this.#owner.set(p.part, i % this.#workers.length)
      shares[i % this.#workers.length]!.push(p)
    })
    await Promise.all(this.#workers.map(async (w, i) => await request(w, { type: 'init', model, maxCacheEntries, parts: shares[i]! })))
  }

  /** Runs a round's slices, each in its sub-history's worker; results in the slices' order. */
  async run (slices: readonly Slice[]): Promise<WorkerSliceResult[]> {
    const batches = this.#workers.map((): Slice[] => [])
    for (const s of slices) batches[this.#owner.get(s.part)!]!.push(s)
    const replies = await Promise.all(this.#workers.map(async (w, i) =>
      batches[i]!.length === 0 ? [] : (await request(w, { type: 'run', slices: batches[i]! }) as Extract<WorkerReply, { type: 'ran' }>).results))
    const byPart = new Map<number, WorkerSliceResult>()
    for (const list of replies) for (const r of list) byPart.set(r.part, r)
    return slices.map((s) => byPart.get(s.part)!)
  }

  async close (): Promise<void> {
    await Promise.all(this.#workers.map(async (w) => await w.terminate()))
  }
}

/** Sends one request and waits for its reply; a worker error or exit rejects. */
async function request (worker: Worker, message: WorkerRequest): Promise<WorkerReply> {
  return await new Promise<WorkerReply>((resolve, reject) => {
    const cleanup = (): void => {
      worker.off('message', onMessage)
      worker.off('error', onError)
      worker.off('exit', onExit)
    }
    const onMessage = (reply: WorkerReply): void => {
      cleanup()
      if (reply.type !== 'error') resolve(reply)
      else reject(new QuorateError(knownCode(reply.code) ?? 'CHECKER_WORKER_FAILED', reply.message))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(new QuorateError('CHECKER_WORKER_FAILED', `a checker worker failed: ${err.message}`, { cause: err }))
    }
    const onExit = (code: number): void => {
      cleanup()
      reject(new QuorateError('CHECKER_WORKER_FAILED', `a checker worker exited (code ${code}) before answering`))
    }
    worker.on('message', onMessage)
    worker.on('error', onError)
    worker.on('exit', onExit)
    try {
      worker.postMessage(message)
    } catch (err) {
      cleanup()
      reject(new QuorateError('CHECKER_WORKER_FAILED', `could not send the history to a checker worker: ${(err as Error).message}`, { cause: err }))
    }
  })
}

function knownCode (code: ErrorCode | undefined): ErrorCode | undefined {
  return code !== undefined && code in ERROR_CODES ? code : undefined
}

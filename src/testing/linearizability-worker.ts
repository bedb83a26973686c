/**
 * The worker-thread side of checkLinearizabilityInWorkers: holds the searches of the
 * sub-histories it was given and runs the slices the main thread's schedule asks for. It
 * answers each message in order; the main thread owns the budget, the clock and the result.
 */
import { parentPort } from 'node:worker_threads'
import { isQuorateError } from '../errors.js'
import type { Operation } from './history.js'
import { LinearizationSearch } from './linearization-search.js'
import { modelHooks, validateModel } from './linearizability-plan.js'
import type { Slice } from './linearizability-schedule.js'
import { loadModel } from './model-reference.js'
import type { WorkerReply, WorkerRequest, WorkerSliceResult } from './linearizability-protocol.js'

type AnySearch = LinearizationSearch<unknown, unknown, unknown>

const port = parentPort
if (port === null) throw new Error('linearizability-worker.js runs only as a worker thread')
const searches = new Map<number, AnySearch>()

async function handle (request: WorkerRequest): Promise<WorkerReply> {
  if (request.type === 'init') {
    const model = await loadModel(request.model)
    validateModel(model)
    const hooks = modelHooks(model)
    for (const { part, ops } of request.parts) {
      searches.set(part, new LinearizationSearch(model, hooks, ops as ReadonlyArray<Operation<unknown, unknown>>, request.maxCacheEntries))
    }
    return { type: 'ready' }
  }
  return { type: 'ran', results: request.slices.map(runSlice) }
}

function runSlice ({ part, steps }: Slice): WorkerSliceResult {
  const search = searches.get(part)
  if (search === undefined) throw new Error(`no search for sub-history ${part} in this worker`)
  const used = search.run(steps)
  const base = { part, status: search.status, used, steps: search.steps, cacheEntries: search.cacheEntries }
  return search.status === 'illegal' ? { ...base, prefix: [...search.prefix], blocking: search.blocking } : base
}

// Messages are handled one after another, so a run never overtakes the init before it.
let queue = Promise.resolve()
port.on('message', (request: WorkerRequest) => {
  queue = queue.then(async () => {
    let reply: WorkerReply
    try {
      reply = await handle(request)
    } catch (err) {
      reply = {
        type: 'error',
        message: err instanceof Error ? err.message : String(err),
        ...(isQuorateError(err) ? { code: err.code } : {})
      }
    }
    port.postMessage(reply)
  })
})
